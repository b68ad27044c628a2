// AuthInterface and first-start setup, driven through BIMserver's own JS client
// (spec §4.1, §4.2, §9). Each describe() has its own server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  call, callError, closeClient, login, newClient, rpc, resultOf, exceptionOf,
} from './lib/client.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

describe('AuthInterface on a set-up server', () => {
  let srv;
  const clients = [];
  const client = () => {
    const c = newClient(srv.url);
    clients.push(c);
    return c;
  };

  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    for (const c of clients) await closeClient(c);
    if (srv) await srv.stop();
  });

  test('init() gets SServerInfo: RUNNING, with a version object', async () => {
    const c = client();
    const info = await c.init();
    assert.equal(info.__type, 'SServerInfo');
    assert.equal(info.serverState, 'RUNNING');
    assert.equal(typeof info.version, 'object');
    assert.notEqual(info.version, null);
    assert.equal(info.version.__type, 'SVersion');
    assert.equal(typeof info.version.major, 'number');
    assert.equal(typeof info.version.minor, 'number');
    assert.deepEqual(c.version, info.version, 'the client keeps serverInfo.version');
  });

  test('login gives a token, opens /stream (endpoint id >= 2) and resolves the admin', async () => {
    const c = client();
    await c.init();
    const token = await login(c, ADMIN_USER, ADMIN_PASSWORD);
    assert.equal(typeof token, 'string');
    assert.ok(token.length >= 16, `token too short to be a secret: ${token}`);
    assert.equal(c.webSocket.connected, true, 'the client completed the /stream handshake');
    assert.equal(typeof c.webSocket.endPointId, 'number');
    assert.ok(c.webSocket.endPointId >= 2, `endPointId ${c.webSocket.endPointId}`);
    assert.equal(c.user.username, ADMIN_USER);

    const user = await call(c, 'AuthInterface', 'getLoggedInUser', {});
    assert.equal(user.__type, 'SUser');
    assert.equal(user.username, ADMIN_USER);
    assert.equal(user.userType, 'ADMIN');
    assert.equal(user.state, 'ACTIVE');
    assert.equal(user.passwordHash, null, 'never send the password hash');
    assert.equal(user.passwordSalt, null);
    assert.equal(user.validationToken, null);
    assert.ok(user.oid > 0);
  });

  test('login matches the username trimmed and case-insensitively', async () => {
    const c = client();
    const token = await login(c, `  ${ADMIN_USER.toUpperCase()} `, ADMIN_PASSWORD);
    assert.equal(typeof token, 'string');
    assert.equal(c.user.username, ADMIN_USER);
  });

  test('a wrong password or an unknown user is refused with one message', async () => {
    const c = client();
    for (const [u, p] of [[ADMIN_USER, 'wrong-password'], ['nobody@bimhub.test', ADMIN_PASSWORD]]) {
      const exc = await callError(c, 'AuthInterface', 'login', { username: u, password: p });
      assert.equal(exc.__type, 'UserException');
      assert.equal(exc.message, 'Invalid username/password combination');
    }
    assert.equal(c.token, null);
  });

  test('two logins get different tokens and different endpoints', async () => {
    const a = client();
    const b = client();
    const ta = await login(a, ADMIN_USER, ADMIN_PASSWORD);
    const tb = await login(b, ADMIN_USER, ADMIN_PASSWORD);
    assert.notEqual(ta, tb);
    assert.notEqual(a.webSocket.endPointId, b.webSocket.endPointId);
  });

  test('isLoggedIn: true with a token, false anonymously', async () => {
    const anon = client();
    assert.equal(await call(anon, 'AuthInterface', 'isLoggedIn', {}), false);
    const c = client();
    await login(c, ADMIN_USER, ADMIN_PASSWORD);
    assert.equal(await call(c, 'AuthInterface', 'isLoggedIn', {}), true);
  });

  test('getAccessMethod is "JSON"', async () => {
    const c = client();
    assert.equal(await call(c, 'AuthInterface', 'getAccessMethod', {}), 'JSON');
  });

  test('getLoggedInUser without a token needs authentication', async () => {
    const c = client();
    const exc = await callError(c, 'AuthInterface', 'getLoggedInUser', {});
    assert.equal(exc.__type, 'UserException');
    assert.equal(exc.message, 'Authentication required for this call');
  });

  test('loginUserToken with a made-up token is refused', async () => {
    const c = client();
    const exc = await callError(c, 'AuthInterface', 'loginUserToken', { token: 'f'.repeat(64) });
    assert.equal(exc.__type, 'UserException');
    assert.equal(exc.message, 'Invalid token');
    assert.equal(exc.errorCode, 3);
  });

  test('changePassword: the new password logs in, the old one no longer does', async () => {
    const admin = client();
    await login(admin, ADMIN_USER, ADMIN_PASSWORD);
    const dave = await call(admin, 'ServiceInterface', 'addUserWithPassword', {
      username: 'dave@bimhub.test', password: 'dave-old-pw', name: 'Dave', type: 'USER',
      selfRegistration: false, resetUrl: '',
    });
    const d = client();
    await login(d, 'dave@bimhub.test', 'dave-old-pw');

    const bad = await callError(d, 'AuthInterface', 'changePassword',
      { uoid: dave.oid, oldPassword: 'not-the-old-one', newPassword: 'x-new-pw' });
    assert.equal(bad.__type, 'UserException');

    const ok = await call(d, 'AuthInterface', 'changePassword',
      { uoid: dave.oid, oldPassword: 'dave-old-pw', newPassword: 'dave-new-pw' });
    assert.equal(ok, true);

    const again = client();
    const token = await login(again, 'dave@bimhub.test', 'dave-new-pw');
    assert.equal(typeof token, 'string');
    const exc = await callError(client(), 'AuthInterface', 'login',
      { username: 'dave@bimhub.test', password: 'dave-old-pw' });
    assert.equal(exc.message, 'Invalid username/password combination');
  });

  test('logout returns {} and the token is rejected afterwards', async () => {
    const c = client();
    const token = await login(c, ADMIN_USER, ADMIN_PASSWORD);
    // before: the token works on a plain /json call
    const before = resultOf(await rpc(srv.url, 'AuthInterface', 'getLoggedInUser', {}, token));
    assert.equal(before.username, ADMIN_USER);

    const reply = await rpc(srv.url, 'AuthInterface', 'logout', {}, token);
    assert.deepEqual(reply, { response: { result: {} } }, 'void result is {}');

    const exc = exceptionOf(await rpc(srv.url, 'AuthInterface', 'getLoggedInUser', {}, token),
      'getLoggedInUser after logout');
    assert.ok(['UserException', 'AuthenticationException'].includes(exc.__type), exc.__type);
    // the other session of the same user is not affected
    const other = client();
    const t2 = await login(other, ADMIN_USER, ADMIN_PASSWORD);
    assert.equal(resultOf(await rpc(srv.url, 'AuthInterface', 'getLoggedInUser', {}, t2)).username,
      ADMIN_USER);
  });
});

describe('first start: NOT_SETUP until AdminInterface.setup', () => {
  let srv;
  const clients = [];
  const client = () => {
    const c = newClient(srv.url);
    clients.push(c);
    return c;
  };
  const setupParams = (over = {}) => ({
    siteAddress: srv.url, serverName: 'bimhub test', serverDescription: 'integration test',
    serverIcon: '', adminName: 'Setup Admin', adminUsername: 'setup-admin@bimhub.test',
    adminPassword: 'setup-secret-1', ...over,
  });

  before(async () => {
    srv = await startServer({ admin: false });
  });
  after(async () => {
    for (const c of clients) await closeClient(c);
    if (srv) await srv.stop();
  });

  test('a server without an admin reports NOT_SETUP', async () => {
    const info = await client().init();
    assert.equal(info.__type, 'SServerInfo');
    assert.equal(info.serverState, 'NOT_SETUP');
  });

  test('other calls fail with the NOT_SETUP message', async () => {
    const c = client();
    for (const [iface, method, params] of [
      ['ServiceInterface', 'getAllProjects', { onlyTopLevel: false, onlyActive: false }],
      ['AuthInterface', 'getAccessMethod', {}],
    ]) {
      const exc = await callError(c, iface, method, params);
      assert.equal(exc.message, 'Call cannot be executed because the server is in NOT_SETUP mode',
        `${iface}.${method}`);
    }
  });

  test('setup refuses a site address without http(s):// and an empty admin', async () => {
    const c = client();
    for (const bad of [{ siteAddress: 'ftp://example.test' }, { adminUsername: '' },
      { adminPassword: '' }]) {
      const exc = await callError(c, 'AdminInterface', 'setup', setupParams(bad));
      assert.equal(exc.__type, 'UserException', JSON.stringify(bad));
    }
    const info = await c.init();
    assert.equal(info.serverState, 'NOT_SETUP', 'failed setups change nothing');
  });

  test('setup creates the admin and the server becomes RUNNING', async () => {
    const c = client();
    const res = await call(c, 'AdminInterface', 'setup', setupParams());
    assert.deepEqual(res, {});
    const info = await c.init();
    assert.equal(info.serverState, 'RUNNING');

    const a = client();
    await login(a, 'setup-admin@bimhub.test', 'setup-secret-1');
    const me = await call(a, 'AuthInterface', 'getLoggedInUser', {});
    assert.equal(me.userType, 'ADMIN');
    assert.equal(me.name, 'Setup Admin');
  });

  test('setup cannot run a second time', async () => {
    const c = client();
    const exc = await callError(c, 'AdminInterface', 'setup', setupParams({
      adminUsername: 'intruder@bimhub.test', adminPassword: 'intruder-pw',
    }));
    assert.ok(exc.__type, 'an exception object');
    const refused = await callError(c, 'AuthInterface', 'login',
      { username: 'intruder@bimhub.test', password: 'intruder-pw' });
    assert.equal(refused.message, 'Invalid username/password combination');
    // the first admin still works
    await login(client(), 'setup-admin@bimhub.test', 'setup-secret-1');
  });
});
