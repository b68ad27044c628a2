// The bimhub command line client (src/cli, docs/cli.md) against a real server: --help on every
// command, the exit codes (0 ok, 1 refused/failed, 2 usage, 3 unreachable, 4 not logged in),
// one-line errors, login and the credentials file (mode 0600 in a 0700 directory, XDG_CONFIG_HOME
// honoured, the password asked without echo on a terminal), logout, projects, users, check-ins
// with progress (plain lines off a terminal, a bar on one), revisions, downloads, watch,
// services, secrets and the delivery log.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { api, loginToken, sha256, sharedIfcFiles } from './lib/checkin.mjs';
import { freePort, killAll, runCli, runCliOnTty, startWatch, tempDir, tempHome } from './lib/cli.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SMALL = sharedIfcFiles().find((f) => f.name === 'Sample_entities.ifc');
const IFC4 = sharedIfcFiles().find((f) => f.schema === 'ifc4');

// Every command and group, for --help.
const COMMANDS = ['login', 'logout', 'project add', 'project list', 'project show', 'user add', 'user list',
  'checkin', 'revisions', 'download', 'watch', 'service add', 'service list', 'service remove',
  'service secret', 'service health', 'service enable', 'service disable', 'deliveries', 'delivery',
  'redeliver', 'replay'];

/** Asserts the exit code and, for a failure, one clear line on stderr; returns the run. */
function expectExit(r, code, stderrRe)
{
  assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/, r.stderr);
  assert.equal(r.code, code, `exit ${r.code}, expected ${code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  if (code !== 0) {
    assert.match(r.stderr, /^bimhub: \S.*\n$/, `one error line: ${JSON.stringify(r.stderr)}`);
  }
  if (stderrRe) assert.match(r.stderr, stderrRe);
  return r;
}

describe('bimhub command line client', () => {
  let srv;
  let token;
  let a;
  let env; // BIMHUB_URL + BIMHUB_TOKEN of the admin
  const home = tempHome();
  const receivers = [];

  const cli = (args, opts = {}) => runCli(args, { home, env, ...opts });
  const ok = async (args, opts) => expectExit(await cli(args, opts), 0);

  before(async () => {
    // http-idle-timeout-s: an upload cut off while the server holds its connection suspended
    // (check-in queue full) is noticed only at that timeout (60 s by default); see the SIGINT test
    srv = await startServer({ args: ['--delivery-retry-schedule', '0,100ms,100ms', '--http-idle-timeout-s', '3'] });
    token = await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD);
    a = api(srv.url, token);
    env = { BIMHUB_URL: srv.url, BIMHUB_TOKEN: token };
  });
  after(async () => {
    await killAll(); // a watch left by a failed test
    for (const r of receivers) await r.close();
    if (srv) await srv.stop();
  });

  test('--help on every command and group; usage errors are exit 2', async () => {
    const top = expectExit(await runCli(['--help']), 0);
    for (const word of ['serve', 'login', 'project', 'checkin', 'watch', 'service', 'deliveries', 'replay']) {
      assert.match(top.stdout, new RegExp(`^  ${word} `, 'm'), `bimhub --help lists ${word}`);
    }
    for (const c of COMMANDS) {
      const r = expectExit(await runCli([...c.split(' '), '--help']), 0);
      assert.match(r.stdout, new RegExp(`^Usage: bimhub ${c}\\b`), r.stdout);
      assert.match(r.stdout, /Exit codes: 0 ok/);
      assert.equal(r.stderr, '');
      expectExit(await runCli([...c.split(' '), '-h']), 0);
    }
    for (const g of ['project', 'user', 'service']) {
      const r = expectExit(await runCli([g, '--help']), 0);
      assert.match(r.stdout, new RegExp(`^Usage: bimhub ${g} <command>`));
      expectExit(await runCli([g]), 2, new RegExp(`${g} needs a command`));
      expectExit(await runCli([g, 'frobnicate']), 2, new RegExp(`unknown command '${g} frobnicate'`));
    }
    // no command at all prints the usage, exit 2; the server's own --help is untouched
    assert.equal((await runCli([])).code, 2);
    expectExit(await runCli(['serve', '--help']), 0);
    expectExit(await runCli(['frobnicate']), 2, /unknown command 'frobnicate'/);
    // usage errors come before anything else: no login needed to get them
    expectExit(await runCli(['project', 'list', '--nope']), 2, /unknown option '--nope'/);
    expectExit(await runCli(['project', 'add']), 2, /missing argument: NAME/);
    expectExit(await runCli(['project', 'add', 'a', 'b']), 2, /unexpected argument 'b'/);
    expectExit(await runCli(['checkin', 'x.ifc']), 2, /--project is required/);
    expectExit(await runCli(['revisions']), 2, /--project is required/);
    expectExit(await runCli(['download', '12']), 2, /--output is required/);
    expectExit(await runCli(['replay', '--service', '1']), 2, /--since is required/);
    expectExit(await runCli(['project', 'add', 'x', '--schema']), 2, /--schema needs a value/);
    expectExit(await cli(['project', 'add', 'x', '--schema', 'ifc5']), 2, /--schema must be/);
    expectExit(await cli(['user', 'add', 'u@x', '--name', 'U', '--type', 'GOD']), 2, /--type must be/);
    expectExit(await cli(['replay', '--service', '1', '--since', 'yesterday']), 2, /--since takes/);
    expectExit(await cli(['deliveries', '--service', 'abc']), 2, /soid/);
    expectExit(await cli(['deliveries', '--service', '1', '--limit', '0']), 2, /--limit/);
    expectExit(await cli(['download', 'abc', '-o', 'x']), 2, /ROID/);
    expectExit(await cli(['project', 'list', '--url', 'ftp://x']), 2, /http:\/\//);
  });

  test('not logged in is exit 4, an unreachable server exit 3, an invalid token exit 4', async () => {
    const empty = tempHome();
    expectExit(await runCli(['project', 'list'], { home: empty }), 4, /not logged in: run `bimhub login URL`/);
    expectExit(await runCli(['project', 'list'], { home: empty, env: { BIMHUB_URL: srv.url } }), 4,
      /not logged in to http/);
    const port = await freePort(); // nobody listens there
    expectExit(await runCli(['project', 'list'], { home: empty, env: { BIMHUB_URL: `http://127.0.0.1:${port}`,
      BIMHUB_TOKEN: 'x' } }), 3, /cannot reach the server/);
    expectExit(await runCli(['login', `http://127.0.0.1:${port}`, '-u', 'a', '-p', 'b'], { home: empty }), 3);
    expectExit(await runCli(['project', 'list'], { home: empty, env: { BIMHUB_URL: srv.url, BIMHUB_TOKEN: 'f'.repeat(64) } }),
      4, /not logged in: Invalid token/);
    // --url/--token win over the environment
    expectExit(await runCli(['project', 'list', '--url', srv.url, '--token', token], { home: empty,
      env: { BIMHUB_URL: `http://127.0.0.1:${port}`, BIMHUB_TOKEN: 'bad' } }), 0);
  });

  test('login writes the credentials file (0600, directory 0700, XDG_CONFIG_HOME); logout revokes and removes it', async () => {
    const h = tempHome();
    const xdg = path.join(tempDir(), 'config');
    const e = { XDG_CONFIG_HOME: xdg };
    const wrong = await runCli(['login', srv.url, '--username', ADMIN_USER, '--password', 'nope'], { home: h, env: e });
    expectExit(wrong, 1, /login refused: .*(Invalid|password)/i);
    const file = path.join(xdg, 'bimhub', 'credentials');
    assert.ok(!fs.existsSync(file), 'no file after a refused login');

    const r = expectExit(await runCli(['login', srv.url, '--username', ADMIN_USER], { home: h,
      env: { ...e, BIMHUB_PASSWORD: ADMIN_PASSWORD } }), 0);
    assert.match(r.stdout, /logged in to http:\/\/127\.0\.0\.1:\d+ as admin@bimhub\.test/);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, new RegExp(`^url = ${srv.url}$`, 'm'));
    assert.match(text, /^username = admin@bimhub\.test$/m);
    const saved = /^token = ([0-9a-f]{64})$/m.exec(text)[1];
    assert.notEqual(saved, token);
    assert.ok(!fs.existsSync(path.join(h, '.config')), 'XDG_CONFIG_HOME wins over HOME');

    // every command uses it now
    expectExit(await runCli(['project', 'list'], { home: h, env: e }), 0);
    // its token is for its URL only
    const port = await freePort();
    expectExit(await runCli(['project', 'list'], { home: h, env: { ...e, BIMHUB_URL: `http://127.0.0.1:${port}` } }),
      4, /not logged in to/);

    // logout revokes the token on the server and removes the file; again: nothing to do
    const out = expectExit(await runCli(['logout'], { home: h, env: e }), 0);
    assert.match(out.stdout, /logged out of http/);
    assert.ok(!fs.existsSync(file));
    const exc = await api(srv.url, saved).err('AuthInterface', 'getLoggedInUser');
    assert.equal(exc.errorCode, 3, 'the token no longer works');
    assert.match(expectExit(await runCli(['logout'], { home: h, env: e }), 0).stdout, /not logged in/);
    expectExit(await runCli(['project', 'list'], { home: h, env: e }), 4);

    // HOME without XDG_CONFIG_HOME: ~/.config/bimhub/credentials
    expectExit(await runCli(['login', srv.url, '-u', ADMIN_USER, '-p', ADMIN_PASSWORD], { home: h }), 0);
    const homeFile = path.join(h, '.config', 'bimhub', 'credentials');
    assert.equal(fs.statSync(homeFile).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(homeFile)).mode & 0o777, 0o700);
    expectExit(await runCli(['project', 'list'], { home: h }), 0);
    // no terminal and no password: a usage error, not a hang
    expectExit(await runCli(['login', srv.url, '-u', ADMIN_USER], { home: tempHome() }), 2, /no password/);
  });

  test('login on a terminal asks for the user name and the password, without echoing the password', async (t) => {
    const h = tempHome();
    const r = await runCliOnTty(['login', srv.url], { home: h, input: [ADMIN_USER, ADMIN_PASSWORD] });
    if (!r) {
      t.skip('util-linux script is not installed');
      return;
    }
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Username: admin@bimhub\.test/);
    assert.match(r.out, /Password for admin@bimhub\.test: /);
    assert.ok(!r.out.includes(ADMIN_PASSWORD), `the password was echoed:\n${r.out}`);
    assert.match(r.out, /logged in to/);
    assert.ok(fs.existsSync(path.join(h, '.config', 'bimhub', 'credentials')));
  });

  test('projects and users', async () => {
    const poid = Number((await ok(['project', 'add', 'Tower', '--schema', 'ifc4'])).stdout.trim());
    assert.ok(poid > 0);
    const sub = JSON.parse((await ok(['project', 'add', 'Tower-East', '--parent', 'Tower', '--json'])).stdout);
    assert.equal(sub.parentId, poid);
    assert.equal(sub.schema, 'ifc4', 'a sub-project takes its parent\'s schema');
    expectExit(await cli(['project', 'add', 'Tower']), 1, /bimhub: project add: .*/);

    const list = await ok(['project', 'list']);
    assert.match(list.lines[0], /^POID +NAME +SCHEMA +REVISIONS +LAST ROID +PARENT +STATE$/);
    assert.ok(list.lines.some((l) => new RegExp(`^${poid} +Tower +ifc4 +0 +- +- +ACTIVE$`).test(l)), list.stdout);
    const json = JSON.parse((await ok(['project', 'list', '--json'])).stdout);
    assert.deepEqual(json.map((p) => p.name).sort(), ['Tower', 'Tower-East']);

    for (const key of ['Tower', String(poid)]) {
      const show = await ok(['project', 'show', key]);
      assert.match(show.stdout, new RegExp(`^poid +${poid}$`, 'm'));
      assert.match(show.stdout, /^schema +ifc4$/m);
      assert.match(show.stdout, new RegExp(`^sub-projects +${sub.oid}$`, 'm'));
    }
    assert.equal(JSON.parse((await ok(['project', 'show', 'Tower', '--json'])).stdout).oid, poid);
    const missing = expectExit(await cli(['project', 'show', 'nope']), 1);
    assert.equal(missing.stderr, "bimhub: project 'nope' not found\n");
    expectExit(await cli(['project', 'show', '999999']), 1, /project 999999 not found/);

    const uoid = Number((await ok(['user', 'add', 'reader@x.test', '--name', 'Rita Reader', '--type', 'READ_ONLY',
      '--password', 'reader-pass-1'])).stdout.trim());
    assert.ok(uoid > 0);
    await ok(['user', 'add', 'nopass@x.test', '--name', 'No Pass']);
    expectExit(await cli(['user', 'add', 'reader@x.test', '--name', 'Again']), 1, /user add: /);
    const users = await ok(['user', 'list']);
    assert.ok(users.lines.some((l) => new RegExp(`^${uoid} +reader@x\\.test +Rita Reader +READ_ONLY +ACTIVE`).test(l)),
      users.stdout);
    const ju = JSON.parse((await ok(['user', 'list', '--json'])).stdout);
    assert.ok(ju.every((u) => u.passwordHash === null));
    // a read-only user is refused by the server: exit 1
    const rt = await loginToken(srv.url, 'reader@x.test', 'reader-pass-1');
    expectExit(await runCli(['project', 'add', 'Mine'], { home, env: { BIMHUB_URL: srv.url, BIMHUB_TOKEN: rt } }), 1);
  });

  test('checkin off a terminal prints plain progress lines and the roid last; revisions; download', async () => {
    await ok(['project', 'add', 'Small']);
    const r = await ok(['checkin', SMALL.path, '--project', 'Small', '--comment', 'first one']);
    const roid = Number(r.lines.at(-1));
    assert.ok(roid > 0, r.stdout);
    assert.match(r.lines[0], new RegExp(`^checkin Sample_entities\\.ifc \\(${SMALL.size} bytes\\) to project \\d+, topic \\d+$`));
    assert.match(r.lines[1], /^progress via \/stream endpoint \d+$/);
    assert.ok(r.lines.includes(`upload 100% ${SMALL.size}/${SMALL.size}`), r.stdout);
    assert.match(r.stdout, /^server 100% FINISHED Checkin of Sample_entities\.ifc$/m);
    for (const l of r.lines.slice(2, -1)) assert.match(l, /^(upload \d+% \d+\/\d+|server .+)$/);

    // polling instead of pushes; quiet prints the roid only
    const p = await ok(['checkin', SMALL.path, '-p', 'Small', '--poll']);
    assert.match(p.stdout, /^progress by polling getProgress$/m);
    assert.match(p.stdout, /^server 100% FINISHED/m);
    const q = await ok(['checkin', SMALL.path, '-p', 'Small', '-q']);
    assert.match(q.stdout, /^\d+\n$/);

    const revs = await ok(['revisions', '--project', 'Small']);
    assert.match(revs.lines[0], /^ROID +ID +DATE +USER +OBJECTS +EXTENDED DATA +COMMENT$/);
    assert.ok(revs.lines.some((l) => new RegExp(`^${roid} +1 +\\d{4}-\\d\\d-\\d\\dT[0-9:]+Z +\\d+ +466 +0 +first one$`).test(l)),
      revs.stdout);
    assert.equal(JSON.parse((await ok(['revisions', '-p', 'Small', '--json'])).stdout).length, 3);

    const dir = tempDir();
    const out = path.join(dir, 'model.ifc');
    const d = await ok(['download', String(roid), '-o', out]);
    assert.match(d.stdout, new RegExp(`^${SMALL.size} bytes written to `));
    assert.equal(sha256(fs.readFileSync(out)), sha256(fs.readFileSync(SMALL.path)), 'byte for byte');
    const toStdout = await runCli(['download', String(roid), '-o', '-'], { home, env });
    assert.equal(toStdout.code, 0);
    assert.equal(sha256(Buffer.from(toStdout.stdout, 'latin1')), sha256(fs.readFileSync(SMALL.path, 'latin1')));
    expectExit(await cli(['download', '999999', '-o', path.join(dir, 'x.ifc')]), 1);
    assert.ok(!fs.existsSync(path.join(dir, 'x.ifc')) && !fs.existsSync(path.join(dir, 'x.ifc.part')));

    // failures: the server's words on one line, exit 1, and the project is not left reserved
    const bad = expectExit(await cli(['checkin', IFC4.path, '-p', 'Small']), 1,
      /checkin of .* failed: .*schema/i);
    assert.match(bad.stdout, /^server (\d+% )?AS_ERROR The file's schema IFC4 does not match/m);
    expectExit(await cli(['checkin', '/nonexistent/x.ifc', '-p', 'Small']), 1, /cannot read \/nonexistent\/x\.ifc/);
    expectExit(await cli(['checkin', SMALL.path, '-p', 'Nope']), 1, /project 'Nope' not found/);
    await ok(['checkin', SMALL.path, '-p', 'Small', '-q']);
  });

  test('checkin: SIGINT during the upload cuts it off (exit 130), no revision, the project is free again', async () => {
    // a big valid model: the DATA of a shared file repeated with renumbered ids
    const office = sharedIfcFiles().find((f) => f.name === 'Office_A_20110811.ifc');
    const src = fs.readFileSync(office.path, 'latin1');
    const i = src.indexOf('DATA;') + 5;
    const j = src.lastIndexOf('ENDSEC;');
    const parts = [src.slice(0, i)];
    for (let k = 0; k < 12; k++) {
      parts.push(k ? src.slice(i, j).replace(/#(\d+)/g, (_, n) => `#${Number(n) + k * 10000000}`) : src.slice(i, j));
    }
    parts.push(src.slice(j));
    const big = path.join(tempDir(), 'big.ifc');
    fs.writeFileSync(big, parts.join(''), 'latin1');
    await ok(['project', 'add', 'Interrupted', '--schema', office.schema]);

    const { spawn } = await import('node:child_process');
    const proc = spawn(process.env.BIMHUB_BIN, ['checkin', big, '-p', 'Interrupted'], {
      env: { ...process.env, HOME: home, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => {
      out += d;
      if (/^upload [1-9]\d*% /m.test(out) && !proc.killed) proc.kill('SIGINT');
    });
    proc.stderr.on('data', (d) => { err += d; });
    const code = await new Promise((r) => proc.on('close', r));
    assert.equal(code, 130, `exit ${code}\n${out}\n${err}`);
    assert.match(err, /^bimhub: checkin interrupted: the upload was stopped/);
    assert.doesNotMatch(out, /^upload 100%/m);
    // the server drops the partial upload and frees the project (within http_idle_timeout_s);
    // no revision was made
    let r;
    for (const until = Date.now() + 20000; ;) {
      r = await cli(['checkin', SMALL.path, '-p', 'Interrupted', '-q']);
      if (r.code === 0 || !/Checkin in progress/.test(r.stderr) || Date.now() > until) break;
      await sleep(200);
    }
    expectExit(r, 0);
    const revs = JSON.parse((await ok(['revisions', '-p', 'Interrupted', '--json'])).stdout);
    assert.deepEqual(revs.map((x) => x.oid), [Number(r.stdout.trim())], 'only the second check-in made a revision');
  });

  test('checkin on a terminal draws one progress bar in place', async (t) => {
    await ok(['project', 'add', 'Bar', '--schema', IFC4.schema]);
    const r = await runCliOnTty(['checkin', IFC4.path, '--project', 'Bar'], { home, env });
    if (!r) {
      t.skip('util-linux script is not installed');
      return;
    }
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /\r\x1b\[K\S+\.ifc \[#{24}\] 100% +Checkin of /);
    assert.match(r.out, /\[[#-]{24}\] +\d+% +uploading /);
    assert.ok(!/^upload \d+%/m.test(r.out), 'no plain lines on a terminal');
    assert.match(r.out, /\r?\n\d+\r?\n/, 'the roid on its own line');
  });

  test('watch prints pushes as human lines and as JSON; SIGINT ends it with exit 0', async () => {
    await ok(['project', 'add', 'Watched']);
    const wj = await startWatch(['--project', 'Watched', '--json'], { home, env });
    const wh = await startWatch([], { home, env });
    assert.ok(await wj.waitFor((ls) => ls.some((l) => l.includes('"event":"connected"'))), wj.stderr);
    assert.ok(await wh.waitFor(() => /watching \(endpoint \d+\)/.test(wh.stderr)), wh.stderr);
    const roid = Number((await ok(['checkin', SMALL.path, '-p', 'Watched', '-q'])).stdout.trim());
    const poid = Number((await ok(['project', 'add', 'Later'])).stdout.trim());
    // extended data on the revision (as a service would write it)
    const schemaId = await a.svc('addExtendedDataSchema', { extendedDataSchema: {
      __type: 'SExtendedDataSchema', name: 'cli-note', contentType: 'text/plain', description: '' } });
    const data = Buffer.from('hello');
    const fileId = await a.svc('uploadFile', { file: { __type: 'SFile', data: data.toString('base64'),
      filename: 'n.txt', mime: 'text/plain', size: data.length } });
    assert.ok(await wj.waitFor(() => wj.json().some((e) => e.event === 'newRevision' && e.roid === roid)));
    await a.svc('addExtendedDataToRevision', { roid, extendedData: { __type: 'SExtendedData', title: 'n',
      schemaId, fileId } });
    assert.ok(await wj.waitFor(() => wj.json().some((e) => e.event === 'newExtendedData' && e.roid === roid)),
      wj.lines.join('\n'));
    const ev = wj.json();
    for (const e of ev) {
      assert.equal(typeof e.event, 'string');
      assert.equal(typeof e.time, 'number');
    }
    const rev = ev.find((e) => e.event === 'newRevision');
    assert.ok(rev.seq > 0 && rev.poid > 0);
    assert.ok(ev.some((e) => e.event === 'progress' && e.state.state === 'FINISHED' && e.state.roid === roid));
    assert.ok(!ev.some((e) => e.event === 'newProject'), 'only the project asked for');

    assert.ok(await wh.waitFor((ls) => ls.some((l) => l.endsWith(`new project ${poid}`))), wh.lines.join('\n'));
    assert.ok(wh.lines.some((l) => /^\d{4}-\d\d-\d\dT[0-9:]+Z new revision \d+ in project \d+$/.test(l)), wh.lines.join('\n'));
    assert.ok(wh.lines.some((l) => /progress of topic \d+: FINISHED 100% Checkin of Sample_entities\.ifc$/.test(l)),
      wh.lines.join('\n'));
    assert.ok(await wh.waitFor((ls) => ls.some((l) => l.endsWith(`new extended data ${ev.find((e) =>
      e.event === 'newExtendedData').edid} on revision ${roid}`))), wh.lines.join('\n'));

    for (const w of [wj, wh]) {
      const res = await w.stop('SIGINT');
      assert.equal(res.code, 0, `watch exit ${JSON.stringify(res)}\n${w.stderr}`);
      assert.doesNotMatch(w.stderr, /Sanitizer/);
    }
    expectExit(await cli(['watch', '--project', 'nope']), 1, /project 'nope' not found/);
    const port = await freePort();
    expectExit(await runCli(['watch'], { home, env: { BIMHUB_URL: `http://127.0.0.1:${port}`, BIMHUB_TOKEN: token } }), 3);
  });

  test('services, secrets and the delivery log', async () => {
    const good = await startReceiver();
    const failing = await startReceiver();
    receivers.push(good, failing);
    failing.respond = () => ({ status: 500, body: 'no' });
    await ok(['project', 'add', 'Serviced']);
    await ok(['project', 'add', 'Target']);
    const schemaId = await a.svc('addExtendedDataSchema', { extendedDataSchema: {
      __type: 'SExtendedDataSchema', name: 'clash-report', contentType: 'application/json', description: '' } });

    const soid = Number((await ok(['service', 'add', '--project', 'Serviced', '--url', good.url, '--name', 'Clash',
      '--identifier', 'clash', '--read-revision', '--write-revision', 'Target', '--write-extended-data',
      'clash-report', '--read-extended-data', String(schemaId), '--user-token', 'ACME'])).stdout.trim());
    const bad = Number((await ok(['service', 'add', '-p', 'Serviced', '--url', failing.url, '-n', 'Flaky']))
      .stdout.trim());
    expectExit(await cli(['service', 'add', '-p', 'Serviced', '--url', good.url, '-n', 'X', '--write-extended-data',
      'no-such-schema']), 1, /extended data schema 'no-such-schema' not found/);
    expectExit(await cli(['service', 'add', '-p', 'Serviced', '--url', good.url, '-n', 'X', '--trigger', 'SOMETIMES']),
      2, /--trigger must be/);
    expectExit(await cli(['service', 'add', '-p', 'Serviced', '--url', 'ftp://x', '-n', 'X']), 1, /url/);

    const list = JSON.parse((await ok(['service', 'list', '--project', 'Serviced', '--json'])).stdout);
    const s = list.find((x) => x.oid === soid);
    const target = JSON.parse((await ok(['project', 'show', 'Target', '--json'])).stdout);
    assert.equal(s.name, 'Clash');
    assert.equal(s.serviceIdentifier, 'clash');
    assert.equal(s.url, good.url);
    assert.equal(s.trigger, 'NEW_REVISION');
    assert.equal(s.readRevision, true);
    assert.equal(s.writeRevisionId, target.oid);
    assert.equal(s.writeExtendedDataId, schemaId);
    assert.equal(s.readExtendedDataId, schemaId);
    assert.equal(s.token, 'ACME');
    assert.equal(list.find((x) => x.oid === bad).serviceIdentifier, 'Flaky', 'identifier defaults to the name');
    const table = await ok(['service', 'list', '-p', 'Serviced']);
    assert.match(table.lines[0], /^SOID +NAME +IDENTIFIER +TRIGGER +RIGHTS +URL$/);
    assert.ok(table.lines.some((l) => l.startsWith(`${soid} `) && l.includes('read-revision write-revision read-ed write-ed')));

    const secret = (await ok(['service', 'secret', String(soid)])).stdout.trim();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const rotated = (await ok(['service', 'secret', String(soid), '--rotate'])).stdout.trim();
    assert.match(rotated, /^whsec_/);
    assert.notEqual(rotated, secret);
    assert.equal((await ok(['service', 'secret', String(soid)])).stdout.trim(), rotated);
    expectExit(await cli(['service', 'secret', '999999']), 1, /No service with oid 999999/);

    // a check-in notifies both; the failing one ends FAILED after the short schedule
    const roid = Number((await ok(['checkin', SMALL.path, '-p', 'Serviced', '-q'])).stdout.trim());
    assert.ok(await good.waitFor((g) => g.length >= 1));
    for (const until = Date.now() + 20000; ;) {
      const f = JSON.parse((await ok(['deliveries', '--service', String(bad), '--failed', '--json'])).stdout);
      if (f.length === 1) break;
      assert.ok(Date.now() < until, 'the failing delivery is parked');
      await sleep(100);
    }
    const dl = await ok(['deliveries', '--service', String(soid)]);
    assert.match(dl.lines[0], /^ID +STATE +ATTEMPTS +METHOD +ROID +CREATED +LAST TRY +LAST STATUS +LAST ERROR$/);
    assert.match(dl.lines[1], new RegExp(`^\\d+ +DELIVERED +1 +newRevision +${roid} +\\S+ +\\S+ +200\\b`));
    const failed = JSON.parse((await ok(['deliveries', '-s', String(bad), '--state', 'FAILED', '--json'])).stdout)[0];
    assert.equal(failed.attempts, 3);
    assert.equal(failed.lastStatus, 500);
    const one = await ok(['delivery', String(failed.oid)]);
    assert.match(one.stdout, /Attempts:\nTIME +MS +HTTP +OK +ERROR\n/);
    assert.equal(JSON.parse((await ok(['delivery', String(failed.oid), '--json'])).stdout).attemptList.length, 3);
    const health = await ok(['service', 'health', String(bad)]);
    assert.match(health.stdout, /^failed +1$/m);
    assert.match(health.stdout, /^enabled +yes$/m);

    // redeliver one, replay since a time: the receiver that now answers gets them
    failing.respond = undefined;
    const before = failing.got.length;
    assert.match((await ok(['redeliver', String(failed.oid)])).stdout, new RegExp(`^delivery ${failed.oid} queued again$`, 'm'));
    assert.ok(await failing.waitFor((g) => g.length === before + 1));
    expectExit(await cli(['redeliver', '999999']), 1, /No delivery with id 999999/);
    for (const until = Date.now() + 10000; ;) {
      const d = JSON.parse((await ok(['delivery', String(failed.oid), '--json'])).stdout);
      if (d.state === 'DELIVERED') break;
      assert.ok(Date.now() < until, JSON.stringify(d));
      await sleep(50);
    }
    const rp = await ok(['replay', '--service', String(soid), '--since', '1h']);
    assert.match(rp.stdout, /^1 deliveries since \d{4}-\d\d-\d\dT[0-9:]+Z queued again$/m);
    assert.ok(await good.waitFor((g) => g.length >= 2));
    assert.equal(good.got[1].id, good.got[0].id, 'the same webhook-id again');
    const future = new Date(Date.now() + 3600000).toISOString();
    assert.match((await ok(['replay', '-s', String(soid), '--since', future])).stdout, /^0 deliveries/);

    // disable / enable / remove
    assert.match((await ok(['service', 'disable', String(bad), '--reason', 'maintenance'])).stdout, /disabled/);
    assert.match((await ok(['service', 'health', String(bad)])).stdout, /^disabledReason +.*maintenance$/m);
    assert.equal(JSON.parse((await ok(['service', 'health', String(bad), '--json'])).stdout).enabled, false);
    await ok(['service', 'enable', String(bad)]);
    assert.match((await ok(['service', 'remove', String(bad)])).stdout, new RegExp(`^service ${bad} removed$`, 'm'));
    const after = JSON.parse((await ok(['service', 'list', '-p', 'Serviced', '--json'])).stdout);
    assert.deepEqual(after.map((x) => x.oid), [soid]);
  });
});
