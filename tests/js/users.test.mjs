// Users and project rights, seen from the admin's and from a plain user's JS client
// (spec §4.4 "Projects and users", §10 quirks 12 and 13).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { call, callError, closeClient, login, loggedInClient, newClient } from './lib/client.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const BOB = 'bob@bimhub.test';
const BOB_PW = 'bob-secret-1';
const usernames = (list) => list.map((u) => u.username);

describe('users and project rights', () => {
  let srv;
  let admin;
  let bobClient;
  let bob;
  let project;
  const adm = (method, params) => call(admin, 'ServiceInterface', method, params);
  const asBob = (method, params) => call(bobClient, 'ServiceInterface', method, params);

  before(async () => {
    srv = await startServer();
    ({ client: admin } = await loggedInClient(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    project = await adm('addProject', { projectName: 'Admin project', schema: 'ifc2x3tc1' });
  });
  after(async () => {
    for (const c of [admin, bobClient]) if (c) await closeClient(c);
    if (srv) await srv.stop();
  });

  test('addUserWithPassword returns the SUser without secrets', async () => {
    bob = await adm('addUserWithPassword', {
      username: BOB, password: BOB_PW, name: 'Bob Builder', type: 'USER',
      selfRegistration: false, resetUrl: '',
    });
    assert.equal(bob.__type, 'SUser');
    assert.equal(bob.username, BOB);
    assert.equal(bob.name, 'Bob Builder');
    assert.equal(bob.userType, 'USER');
    assert.equal(bob.state, 'ACTIVE');
    assert.equal(bob.passwordHash, null);
    assert.equal(bob.passwordSalt, null);
    assert.ok(bob.oid > 0);
  });

  test('addUserWithPassword refuses a duplicate and a username that is not an e-mail', async () => {
    const dup = await callError(admin, 'ServiceInterface', 'addUserWithPassword', {
      username: BOB, password: 'x-pw-123', name: 'Other Bob', type: 'USER',
      selfRegistration: false, resetUrl: '',
    });
    assert.equal(dup.__type, 'UserException');
    const notMail = await callError(admin, 'ServiceInterface', 'addUserWithPassword', {
      username: 'not-an-email', password: 'x-pw-123', name: 'N', type: 'USER',
      selfRegistration: false, resetUrl: '',
    });
    assert.equal(notMail.__type, 'UserException');
    const all = usernames(await adm('getAllUsers', {}));
    assert.equal(all.filter((u) => u === BOB).length, 1);
    assert.ok(!all.includes('not-an-email'));
  });

  test('getUserByUserName, getUserByUoid, getAllUsers', async () => {
    const byName = await adm('getUserByUserName', { username: BOB });
    assert.equal(byName.oid, bob.oid);
    const byUoid = await adm('getUserByUoid', { uoid: bob.oid });
    assert.equal(byUoid.username, BOB);
    const all = await adm('getAllUsers', {});
    assert.ok(usernames(all).includes(ADMIN_USER));
    assert.ok(usernames(all).includes(BOB));
    for (const u of all) assert.equal(u.passwordHash, null, `${u.username} leaks its hash`);
  });

  test('getUserByUserName of an unknown user', async () => {
    const exc = await callError(admin, 'ServiceInterface', 'getUserByUserName',
      { username: 'x@bimhub.test' });
    assert.equal(exc.__type, 'UserException');
    assert.equal(exc.message, 'User with username "x@bimhub.test" not found');
  });

  test('getUserSettings is an SUserSettings', async () => {
    const s = await adm('getUserSettings', {});
    assert.equal(s.__type, 'SUserSettings');
    assert.ok(Array.isArray(s.serializers));
  });

  test('a second user logs in and does not see the admin\'s project', async () => {
    bobClient = newClient(srv.url);
    await bobClient.init();
    await login(bobClient, BOB, BOB_PW);
    const me = await call(bobClient, 'AuthInterface', 'getLoggedInUser', {});
    assert.equal(me.username, BOB);
    assert.equal(me.userType, 'USER');

    assert.deepEqual(await asBob('getAllProjects', { onlyTopLevel: false, onlyActive: true }), []);
    const exc = await callError(bobClient, 'ServiceInterface', 'getProjectByPoid',
      { poid: project.oid });
    assert.equal(exc.__type, 'UserException');
  });

  test('a plain user cannot add users', async () => {
    const exc = await callError(bobClient, 'ServiceInterface', 'addUserWithPassword', {
      username: 'eve@bimhub.test', password: 'eve-pw-123', name: 'Eve', type: 'ADMIN',
      selfRegistration: false, resetUrl: '',
    });
    assert.equal(exc.__type, 'UserException');
    assert.ok(!usernames(await adm('getAllUsers', {})).includes('eve@bimhub.test'));
  });

  test('authorized / non-authorized users of a project before any grant', async () => {
    const authorized = usernames(await adm('getAllAuthorizedUsersOfProject', { poid: project.oid }));
    const others = usernames(await adm('getAllNonAuthorizedUsersOfProject', { poid: project.oid }));
    assert.ok(!authorized.includes(BOB));
    assert.ok(others.includes(BOB));
  });

  test('addUserToProject lets the user see it', async () => {
    assert.equal(await adm('addUserToProject', { uoid: bob.oid, poid: project.oid }), true);
    const seen = await asBob('getAllProjects', { onlyTopLevel: false, onlyActive: true });
    assert.deepEqual(seen.map((p) => p.oid), [project.oid]);
    const p = await asBob('getProjectByPoid', { poid: project.oid });
    assert.equal(p.name, 'Admin project');

    const authorized = usernames(await adm('getAllAuthorizedUsersOfProject', { poid: project.oid }));
    const others = usernames(await adm('getAllNonAuthorizedUsersOfProject', { poid: project.oid }));
    assert.ok(authorized.includes(BOB));
    assert.ok(!others.includes(BOB));
  });

  test('removeUserFromProject takes it away again', async () => {
    assert.equal(await adm('removeUserFromProject', { uoid: bob.oid, poid: project.oid }), true);
    assert.deepEqual(await asBob('getAllProjects', { onlyTopLevel: false, onlyActive: true }), []);
    const exc = await callError(bobClient, 'ServiceInterface', 'getProjectByPoid',
      { poid: project.oid });
    assert.equal(exc.__type, 'UserException');
    const authorized = usernames(await adm('getAllAuthorizedUsersOfProject', { poid: project.oid }));
    assert.ok(!authorized.includes(BOB));
  });

  test('the user changes its own password', async () => {
    const ok = await call(bobClient, 'AuthInterface', 'changePassword',
      { uoid: bob.oid, oldPassword: BOB_PW, newPassword: 'bob-secret-2' });
    assert.equal(ok, true);
    const fresh = await loggedInClient(srv.url, BOB, 'bob-secret-2');
    assert.equal(fresh.client.user.username, BOB);
    await closeClient(fresh.client);
    const exc = await callError(newClient(srv.url), 'AuthInterface', 'login',
      { username: BOB, password: BOB_PW });
    assert.equal(exc.message, 'Invalid username/password combination');
  });
});
