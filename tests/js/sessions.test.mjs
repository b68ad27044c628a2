// Sessions and secrets at rest (issue #16, findings 7, 8 and 9): a password change or a
// logout ends sessions and closes their /stream sockets; the data dir and its files are
// private whatever the umask, and a copy of the database opens no session; login attempts
// are limited per user name and per address, counting every call of a `requests` envelope
// and parallel requests.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { api, loginToken, pluginOids } from './lib/checkin.mjs';
import { rpc } from './lib/client.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';
import { checkinSyncB64, rawEndpoint, reg, sleep, withTimeout } from './lib/stream-client.mjs';

const TOO_MANY = /^Too many failed login attempts, try again in \d+ s$/;

async function addUser(a, username, password, type = 'USER')
{
  const u = await a.svc('addUserWithPassword', {
    username, password, name: username, type, selfRegistration: false, resetUrl: '',
  });
  return u.oid;
}

/** A /stream endpoint of token that hears the user's new server topics. */
async function listening(url, token)
{
  const r = await rawEndpoint(url, token);
  assert.ok(r.ep >= 2, `endpoint reply ${JSON.stringify(r.reply)}`);
  await reg(api(url, token), 'registerChangeProgressOnServer', { endPointId: r.ep });
  return r;
}

/** The close of a socket the server must end: {code, description}. */
function closedBy(r, what, ms = 5000)
{
  return withTimeout(r.s.closed, ms, `${what}: the server did not close the socket`);
}

async function tokenWorks(url, token)
{
  const r = await rpc(url, 'AuthInterface', 'getLoggedInUser', {}, token);
  return Boolean(r.response && r.response.result && r.response.result.oid);
}

describe('a password change or a logout ends sessions', () => {
  let srv;
  let a;

  before(async () => {
    srv = await startServer();
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('changePassword ends every other session of the user and closes their sockets; the caller stays', async () => {
    const user = 'change@bimhub.test';
    const uoid = await addUser(a, user, 'first-pw-1');
    const mine = await loginToken(srv.url, user, 'first-pw-1');
    const other = await loginToken(srv.url, user, 'first-pw-1');
    const third = await loginToken(srv.url, user, 'first-pw-1');
    const rMine = await listening(srv.url, mine);
    const rOther = await listening(srv.url, other);
    // used just before: the dispatcher's token cache holds it
    assert.equal(await tokenWorks(srv.url, other), true);
    assert.equal(await tokenWorks(srv.url, third), true);

    assert.equal(await api(srv.url, mine).call('AuthInterface', 'changePassword',
      { uoid, oldPassword: 'first-pw-1', newPassword: 'second-pw-2' }), true);

    const closed = await closedBy(rOther, 'socket of another session');
    assert.equal(closed.code, 1008);
    assert.ok(closed.description.length > 0, 'the close says why');
    assert.equal(await tokenWorks(srv.url, other), false, 'another session ends');
    assert.equal(await tokenWorks(srv.url, third), false, 'every other session ends');
    assert.equal(await tokenWorks(srv.url, mine), true, 'the caller keeps its session');
    assert.equal(rMine.s.isClosed(), false, 'and its socket');

    // the caller's socket still hears; a new socket with an ended token is refused
    const topicId = await reg(api(srv.url, mine), 'registerProgressTopic', { type: 'RUNNING_SERVICE', description: 'x' });
    const f = await rMine.push();
    assert.equal(f.request.method, 'newProgressOnServerTopic');
    assert.equal(f.request.parameters.topicId, topicId);
    const again = await rawEndpoint(srv.url, other);
    assert.deepEqual(again.reply, { error: 'Invalid token' });
    assert.equal((await closedBy(again, 'socket with an ended token')).code, 1008);

    const oldPw = await rpc(srv.url, 'AuthInterface', 'login', { username: user, password: 'first-pw-1' });
    assert.equal(oldPw.response.exception.message, 'Invalid username/password combination');
    await loginToken(srv.url, user, 'second-pw-2');
    await rMine.close();
  });

  test('an admin setting a user\'s password ends all of that user\'s sessions', async () => {
    const user = 'reset@bimhub.test';
    const uoid = await addUser(a, user, 'reset-pw-1');
    const t1 = await loginToken(srv.url, user, 'reset-pw-1');
    const t2 = await loginToken(srv.url, user, 'reset-pw-1');
    const r1 = await listening(srv.url, t1);
    assert.equal(await tokenWorks(srv.url, t2), true);

    assert.equal(await a.call('AuthInterface', 'changePassword',
      { uoid, oldPassword: 'reset-pw-1', newPassword: 'reset-pw-2' }), true);

    assert.equal((await closedBy(r1, 'the user\'s socket')).code, 1008);
    assert.equal(await tokenWorks(srv.url, t1), false);
    assert.equal(await tokenWorks(srv.url, t2), false);
    assert.equal(await tokenWorks(srv.url, a.token), true, 'the admin keeps its session');
    await loginToken(srv.url, user, 'reset-pw-2');
  });

  test('logout closes the sockets of that token, and they hear nothing more; other sessions stay', async () => {
    const user = 'logout@bimhub.test';
    await addUser(a, user, 'logout-pw-1');
    const gone = await loginToken(srv.url, user, 'logout-pw-1');
    const kept = await loginToken(srv.url, user, 'logout-pw-1');
    const rGone = await listening(srv.url, gone);
    const rKept = await listening(srv.url, kept);

    await api(srv.url, gone).call('AuthInterface', 'logout');
    const closed = await closedBy(rGone, 'socket of the logged-out token');
    assert.equal(closed.code, 1008);
    assert.equal(await tokenWorks(srv.url, gone), false);

    await reg(api(srv.url, kept), 'registerProgressTopic', { type: 'RUNNING_SERVICE', description: 'y' });
    assert.equal((await rKept.push()).request.method, 'newProgressOnServerTopic');
    const late = rGone.s.pending().filter((m) => m.json && m.json.request);
    assert.deepEqual(late, [], 'no push after logout');
    await rKept.close();
  });
});

/** Every entry under dir (itself included) with its mode. */
function modes(dir)
{
  const out = [[dir, fs.statSync(dir).mode]];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...modes(p));
    else if (e.isFile()) out.push([p, fs.statSync(p).mode]);
  }
  return out;
}

function assertPrivate(dir)
{
  const bad = modes(dir).filter(([p, m]) => {
    const isDir = fs.statSync(p).isDirectory();
    return (m & 0o777) !== (isDir ? 0o700 : 0o600);
  }).map(([p, m]) => `${path.relative(dir, p) || '.'} ${(m & 0o777).toString(8)}`);
  assert.deepEqual(bad, [], 'entries that are not 0700 (dirs) / 0600 (files)');
}

function sqlite(db, sql)
{
  return execFileSync('sqlite3', ['-batch', '-noheader', '-separator', '\t', db, sql], { encoding: 'utf8' });
}
const hasSqlite = (() => {
  try {
    execFileSync('sqlite3', ['-version']);
    return true;
  } catch {
    return false;
  }
})();

describe('secrets at rest', () => {
  let oldUmask;
  before(() => {
    oldUmask = process.umask(0o022);
  });
  after(() => {
    process.umask(oldUmask);
  });

  test('with umask 022, the data dir is 0700 and every file in it 0600; an old dir is fixed at start', async () => {
    // an old install: a world-readable dir holding world-readable files
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'bimhub-perm-'));
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync(path.join(dir, 'blobs', 'ab'), { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'blobs', 'ab', 'old-blob'), 'x', { mode: 0o644 });
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'x', { mode: 0o644 });
    const srv = await startServer({ dataDir: dir });
    try {
      const a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
      await addUser(a, 'perm@bimhub.test', 'perm-pw-1');
      // a check-in: a blob under blobs/, through tmp/
      const p = await a.svc('addProject', { projectName: 'perm', schema: 'ifc2x3tc1' });
      const st = await checkinSyncB64(a, p.oid, (await pluginOids(a)).des['Ifc2x3tc1 (Streaming)']);
      assert.equal(st.state, 'FINISHED');
      assert.ok(modes(path.join(dir, 'blobs')).length > 3, 'a blob was stored');
      for (const f of ['bimhub.db', 'bimhub.db-wal', 'service-token.key']) {
        assert.ok(fs.existsSync(path.join(dir, f)), `${f} exists`);
      }
      assertPrivate(dir);
    } finally {
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the user tokens in a copy of the database open no session', { skip: !hasSqlite && 'no sqlite3' }, async () => {
    const srv = await startServer();
    try {
      const a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
      await addUser(a, 'copy@bimhub.test', 'copy-pw-1');
      const copy = path.join(srv.dataDir, '..', `${path.basename(srv.dataDir)}-copy.db`);
      await srv.stop();
      fs.copyFileSync(path.join(srv.dataDir, 'bimhub.db'), copy);
      await srv.restart();
      const cols = sqlite(copy, 'SELECT name FROM pragma_table_info(\'users\')').split('\n')
        .filter((c) => /token/i.test(c));
      assert.ok(cols.length > 0, 'the users table has a token column');
      const values = [];
      for (const col of cols) {
        values.push(...sqlite(copy, `SELECT CASE typeof("${col}") WHEN 'blob' THEN lower(hex("${col}"))`
          + ` ELSE "${col}" END FROM users`).split('\n').filter(Boolean));
      }
      assert.ok(values.length >= 2, `token values: ${values.length}`);
      for (const v of values) {
        const r = await rpc(srv.url, 'AuthInterface', 'loginUserToken', { token: v });
        assert.ok(r.response.exception, `loginUserToken with a value from the copy answered ${JSON.stringify(r)}`);
        assert.equal(r.response.exception.message, 'Invalid token');
      }
      fs.rmSync(copy, { force: true });
    } finally {
      await srv.stop();
    }
  });

  test('an old database keeps its user tokens working (hashed at start) until a password change replaces them', { skip: !hasSqlite && 'no sqlite3' }, async () => {
    const srv = await startServer();
    const user = 'old@bimhub.test';
    const known = 'c0ffee'.repeat(10) + 'abcd';
    try {
      const a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
      const uoid = await addUser(a, user, 'old-pw-1');
      await srv.stop();
      // back to schema 5, where user tokens were kept in plain text
      const db = path.join(srv.dataDir, 'bimhub.db');
      sqlite(db, 'DROP INDEX users_uuid; DROP INDEX revisions_uoid; ALTER TABLE users DROP COLUMN uuid;'
        + ' DROP INDEX IF EXISTS tokens_uoid;'
        + ' ALTER TABLE users RENAME COLUMN user_token_hash TO user_token;'
        + ` UPDATE users SET user_token = '${known}' WHERE uoid = ${uoid};`
        + ' PRAGMA user_version = 5;');
      await srv.restart();
      assert.equal(sqlite(db + '', 'SELECT 1').trim(), '1');
      const session = (await rpc(srv.url, 'AuthInterface', 'loginUserToken', { token: known })).response.result;
      assert.equal(typeof session, 'string', 'the migrated user token still logs in');
      assert.equal(await tokenWorks(srv.url, session), true);

      const mine = await loginToken(srv.url, user, 'old-pw-1');
      assert.equal(await api(srv.url, mine).call('AuthInterface', 'changePassword',
        { uoid, oldPassword: 'old-pw-1', newPassword: 'old-pw-2' }), true);
      const after = (await rpc(srv.url, 'AuthInterface', 'loginUserToken', { token: known })).response;
      assert.equal(after.exception && after.exception.message, 'Invalid token', 'a password change replaces the user token');
      assert.equal(await tokenWorks(srv.url, session), false, 'and ends the session it opened');
    } finally {
      await srv.stop();
    }
  });
});

/** POST /json from a chosen loopback source address. */
function postFrom(url, localAddress, body)
{
  const u = new URL(`${url}/json`);
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) },
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve(JSON.parse(data)));
    });
    req.on('error', reject);
    req.end(text);
  });
}

const loginReq = (username, password) =>
  ({ interface: 'AuthInterface', method: 'login', parameters: { username, password } });

async function login1(url, username, password, from = '127.0.0.1')
{
  return (await postFrom(url, from, { request: loginReq(username, password) })).response;
}

describe('login attempt limits', () => {
  let srv;
  let a;

  before(async () => {
    srv = await startServer({
      args: ['--login-max-failures', '10', '--login-max-failures-per-address', '40',
        '--login-failure-window-s', '600'],
    });
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    for (const u of ['env', 'par', 'other', 'x1', 'x2', 'x3', 'x4', 'x5']) {
      await addUser(a, `${u}@bimhub.test`, `${u}-pw-1`);
    }
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('a requests envelope of 30 wrong passwords then the right one gets no token', async () => {
    const requests = [];
    for (let i = 0; i < 30; i++) requests.push(loginReq('env@bimhub.test', `guess-${i}`));
    requests.push(loginReq('env@bimhub.test', 'env-pw-1'));
    const t0 = Date.now();
    const r = await postFrom(srv.url, '127.0.0.2', { requests });
    const took = Date.now() - t0;
    assert.equal(r.responses.length, 31);
    const msgs = r.responses.map((x) => (x.exception ? x.exception.message : `TOKEN ${x.result}`));
    assert.equal(msgs.filter((m) => m === 'Invalid username/password combination').length, 10,
      `answers: ${JSON.stringify(msgs)}`);
    for (const m of msgs.slice(10)) assert.match(m, TOO_MANY);
    assert.ok(took < 15000, `answered in ${took} ms`);
    // the user stays locked for a single login too, with the right password
    assert.match((await login1(srv.url, 'env@bimhub.test', 'env-pw-1', '127.0.0.3')).exception.message, TOO_MANY);
  });

  test('parallel logins are counted as they start: no more than the limit get a password check', async () => {
    const wrong = Promise.all(Array.from({ length: 40 }, (_, i) =>
      login1(srv.url, 'par@bimhub.test', `guess-${i}`, '127.0.0.4')));
    // sent while the 40 answers are still held back: the right password comes too late
    await sleep(300);
    const right = await login1(srv.url, 'par@bimhub.test', 'par-pw-1', '127.0.0.4');
    const replies = await wrong;
    const checked = replies.filter((x) => x.exception.message === 'Invalid username/password combination');
    const refused = replies.filter((x) => TOO_MANY.test(x.exception.message));
    assert.ok(checked.length <= 10, `${checked.length} of 40 parallel logins had their password checked`);
    assert.equal(checked.length + refused.length, 40);
    assert.ok(right.exception && TOO_MANY.test(right.exception.message),
      `the right password after the limit: ${JSON.stringify(right)}`);
  });

  test('another user is not locked out by one user\'s failures; the address limit counts them all', async () => {
    const from = '127.0.0.5';
    await postFrom(srv.url, from,
      { requests: Array.from({ length: 12 }, (_, i) => loginReq('x1@bimhub.test', `nope-${i}`)) });
    assert.match((await login1(srv.url, 'x1@bimhub.test', 'x1-pw-1', from)).exception.message, TOO_MANY);
    assert.equal(typeof (await login1(srv.url, 'other@bimhub.test', 'other-pw-1', from)).result, 'string',
      'another user from the same address logs in');
    // 10 counted failures of x1 so far from this address; 30 more over other names reach 40
    const requests = [];
    for (const u of ['x2', 'x3', 'x4']) for (let i = 0; i < 10; i++) requests.push(loginReq(`${u}@bimhub.test`, `n-${i}`));
    await postFrom(srv.url, from, { requests });
    const blocked = await login1(srv.url, 'x5@bimhub.test', 'x5-pw-1', from);
    assert.match(blocked.exception && blocked.exception.message, TOO_MANY, 'the address is over its limit');
    assert.equal(typeof (await login1(srv.url, 'x5@bimhub.test', 'x5-pw-1', '127.0.0.6')).result, 'string',
      'another address is not');
  });

});

describe('login attempt limits: the window', () => {
  const WINDOW_S = 2;
  let srv;

  before(async () => {
    srv = await startServer({ args: ['--login-max-failures', '10', '--login-failure-window-s', String(WINDOW_S)] });
    const a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    await addUser(a, 'win@bimhub.test', 'win-pw-1');
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('after the window a login works again, and a success clears the user\'s count', async () => {
    const from = '127.0.0.7';
    const fail = (n, tag) => postFrom(srv.url, from,
      { requests: Array.from({ length: n }, (_, i) => loginReq('win@bimhub.test', `${tag}-${i}`)) });
    await fail(10, 'w');
    const locked = await login1(srv.url, 'win@bimhub.test', 'win-pw-1', from);
    assert.match(locked.exception.message, TOO_MANY);
    const n = Number(/in (\d+) s/.exec(locked.exception.message)[1]);
    assert.ok(n >= 1 && n <= WINDOW_S, `try again in ${n} s`);
    await sleep(WINDOW_S * 1000 + 300);
    assert.equal(typeof (await login1(srv.url, 'win@bimhub.test', 'win-pw-1', from)).result, 'string');
    // counted from zero again: 9 failures leave room for the right password
    await fail(9, 'v');
    assert.equal(typeof (await login1(srv.url, 'win@bimhub.test', 'win-pw-1', from)).result, 'string');
  });
});
