// What survives a crash (SIGKILL) and a clean stop (SIGTERM, exit code 0).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  closeClient, exceptionOf, loggedInClient, call, resultOf, rpc,
} from './lib/client.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const CAROL = 'carol@bimhub.test';
const CAROL_PW = 'carol-secret-1';

describe('persistence', () => {
  let srv;
  let adminToken;
  let carolToken;
  let project;
  let carol;
  const caller = (token) => (iface, method, params = {}) =>
    rpc(srv.url, iface, method, params, token).then((r) => resultOf(r, `${iface}.${method}`));

  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    if (srv && srv.proc && srv.proc.exitCode === null) await srv.kill9();
  });

  test('create a project and a user with rights on it', async () => {
    adminToken = resultOf(await rpc(srv.url, 'AuthInterface', 'login',
      { username: ADMIN_USER, password: ADMIN_PASSWORD }));
    const admin = caller(adminToken);
    project = await admin('ServiceInterface', 'addProject',
      { projectName: 'Survivor', schema: 'ifc4' });
    carol = await admin('ServiceInterface', 'addUserWithPassword', {
      username: CAROL, password: CAROL_PW, name: 'Carol', type: 'USER',
      selfRegistration: false, resetUrl: '',
    });
    assert.equal(await admin('ServiceInterface', 'addUserToProject',
      { uoid: carol.oid, poid: project.oid }), true);
    carolToken = resultOf(await rpc(srv.url, 'AuthInterface', 'login',
      { username: CAROL, password: CAROL_PW }));
  });

  test('after SIGKILL and a restart, tokens still work and the data is there', async () => {
    await srv.kill9();
    await srv.restart();
    const admin = caller(adminToken);
    const me = await admin('AuthInterface', 'getLoggedInUser');
    assert.equal(me.username, ADMIN_USER);
    const p = await admin('ServiceInterface', 'getProjectByPoid', { poid: project.oid });
    assert.equal(p.name, 'Survivor');
    assert.equal(p.schema, 'ifc4');
    const u = await admin('ServiceInterface', 'getUserByUserName', { username: CAROL });
    assert.equal(u.oid, carol.oid);

    const seen = await caller(carolToken)('ServiceInterface', 'getAllProjects',
      { onlyTopLevel: false, onlyActive: true });
    assert.deepEqual(seen.map((x) => x.oid), [project.oid], 'rights survive too');
    // and the password still logs in
    const again = await loggedInClient(srv.url, CAROL, CAROL_PW);
    assert.equal(again.client.user.username, CAROL);
    await closeClient(again.client);
  });

  test('new objects after a restart get new ids', async () => {
    const p2 = await caller(adminToken)('ServiceInterface', 'addProject',
      { projectName: 'After restart', schema: 'ifc2x3tc1' });
    assert.notEqual(p2.oid, project.oid);
    assert.notEqual(p2.oid, carol.oid);
    const dup = exceptionOf(await rpc(srv.url, 'ServiceInterface', 'addProject',
      { projectName: 'Survivor', schema: 'ifc4' }, adminToken));
    assert.equal(dup.message, 'Project name must be unique');
  });

  test('SIGTERM stops it with exit code 0, and a logout survives a restart', async () => {
    assert.deepEqual(resultOf(await rpc(srv.url, 'AuthInterface', 'logout', {}, carolToken)), {});
    const res = await srv.stop();
    assert.equal(res.code, 0);
    await srv.restart();
    const exc = exceptionOf(await rpc(srv.url, 'AuthInterface', 'getLoggedInUser', {},
      carolToken), 'a logged-out token after restart');
    assert.ok(['UserException', 'AuthenticationException'].includes(exc.__type));
    const { client } = await loggedInClient(srv.url, ADMIN_USER, ADMIN_PASSWORD);
    const names = (await call(client, 'ServiceInterface', 'getAllProjects',
      { onlyTopLevel: true, onlyActive: true })).map((p) => p.name).sort();
    assert.deepEqual(names, ['After restart', 'Survivor']);
    await closeClient(client);
    await srv.stop();
  });
});
