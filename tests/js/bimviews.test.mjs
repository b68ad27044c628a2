// What BIMvie.ws (BIMserver's web UI) calls on its projects, project, user and settings pages,
// through BIMserver's JS client, with BIMserver's result shapes (SProjectSmall, SProject,
// SRevision, SCheckout lists, SUser.uuid) and the rights of every other method.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { api, fetchBytes, loginToken, pluginOids } from './lib/checkin.mjs';
import { call, callError, closeClient, exceptionOf, loggedInClient, rpc } from './lib/client.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';
import { checkinSyncB64 } from './lib/stream-client.mjs';

// BIMserver's SProjectSmall: its fields, and __type
const SMALL_KEYS = ['__type', 'hasCheckinRights', 'lastRevisionId', 'name', 'nrRevisions',
  'nrSubProjects', 'oid', 'parentId', 'rid', 'schema', 'state', 'uuid'];
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const names = (list) => list.map((p) => p.name);

const hasSqlite = (() => {
  try {
    execFileSync('sqlite3', ['-version']);
    return true;
  } catch {
    return false;
  }
})();

describe('BIMvie.ws pages', () => {
  let srv;
  let admin; // bimserverapi clients
  let user; // rights on Alpha only
  let other; // no rights
  let userOid;
  let otherOid;
  const p = {};
  let roid;

  const as = (client) => ({
    svc: (m, params) => call(client, 'ServiceInterface', m, params),
    svcErr: (m, params) => callError(client, 'ServiceInterface', m, params),
    call: (i, m, params) => call(client, i, m, params),
    err: (i, m, params) => callError(client, i, m, params),
  });

  before(async () => {
    srv = await startServer();
    ({ client: admin } = await loggedInClient(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    const A = as(admin);
    for (const [who, pw] of [['bv-user@bimhub.test', 'bv-user-secret-1'], ['bv-other@bimhub.test', 'bv-other-secret-1']]) {
      await A.svc('addUserWithPassword', {
        username: who, password: pw, name: who.split('@')[0], type: 'USER', selfRegistration: false, resetUrl: '',
      });
    }
    ({ client: user } = await loggedInClient(srv.url, 'bv-user@bimhub.test', 'bv-user-secret-1'));
    ({ client: other } = await loggedInClient(srv.url, 'bv-other@bimhub.test', 'bv-other-secret-1'));
    userOid = user.user.oid;
    otherOid = other.user.oid;
    // Site with sub-projects made in the order Zeta, Alpha (lists sort them by name), Alpha-1
    // under Alpha; Other; Gone (deleted)
    p.site = await A.svc('addProject', { projectName: 'Site', schema: 'ifc2x3tc1' });
    p.zeta = await A.svc('addProjectAsSubProject', { projectName: 'Zeta', parentPoid: p.site.oid, schema: 'ifc2x3tc1' });
    p.alpha = await A.svc('addProjectAsSubProject', { projectName: 'Alpha', parentPoid: p.site.oid, schema: 'ifc2x3tc1' });
    p.alpha1 = await A.svc('addProjectAsSubProject', { projectName: 'Alpha-1', parentPoid: p.alpha.oid, schema: 'ifc2x3tc1' });
    p.other = await A.svc('addProject', { projectName: 'Other', schema: 'ifc4' });
    p.gone = await A.svc('addProject', { projectName: 'Gone', schema: 'ifc4' });
    await A.svc('deleteProject', { poid: p.gone.oid });
    await A.svc('addUserToProject', { uoid: userOid, poid: p.alpha.oid });
    // a revision the user checks in
    const ua = api(srv.url, await loginToken(srv.url, 'bv-user@bimhub.test', 'bv-user-secret-1'));
    const st = await checkinSyncB64(ua, p.alpha.oid, (await pluginOids(ua)).des['Ifc2x3tc1 (Streaming)']);
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    roid = st.roid;
  });
  after(async () => {
    for (const c of [admin, user, other]) if (c) await closeClient(c);
    if (srv) await srv.stop();
  });

  test('getAllProjectsSmall: SProjectSmall, each tree depth first with sub-projects by name', async () => {
    const all = await as(admin).svc('getAllProjectsSmall', {});
    assert.deepEqual(names(all), ['Site', 'Alpha', 'Alpha-1', 'Zeta', 'Other', 'Gone'],
      'an admin sees deleted projects too');
    for (const s of all) assert.deepEqual(Object.keys(s).sort(), SMALL_KEYS, s.name);
    const site = all[0];
    assert.equal(site.__type, 'SProjectSmall');
    assert.equal(site.oid, p.site.oid);
    assert.equal(site.parentId, -1);
    assert.equal(site.nrSubProjects, 2);
    assert.equal(site.nrRevisions, 0);
    assert.equal(site.lastRevisionId, -1);
    assert.equal(site.schema, 'ifc2x3tc1');
    assert.equal(site.state, 'ACTIVE');
    assert.equal(site.hasCheckinRights, true);
    const alpha = all[1];
    assert.equal(alpha.parentId, p.site.oid);
    assert.equal(alpha.nrRevisions, 1);
    assert.equal(alpha.lastRevisionId, roid);
    assert.equal(alpha.nrSubProjects, 1);
    assert.equal(all[5].state, 'DELETED');
  });

  test('getAllProjectsSmall for a user: the path to its project and below, checkin rights where it has them', async () => {
    const mine = await as(user).svc('getAllProjectsSmall', {});
    assert.deepEqual(names(mine), ['Site', 'Alpha', 'Alpha-1']);
    assert.deepEqual(mine.map((s) => s.hasCheckinRights), [false, true, true]);
    assert.deepEqual(await as(other).svc('getAllProjectsSmall', {}), []);
  });

  test('getAllRelatedProjects: the whole readable tree from its top; others are told it does not exist', async () => {
    assert.deepEqual(names(await as(admin).svc('getAllRelatedProjects', { poid: p.alpha1.oid })),
      ['Site', 'Alpha', 'Alpha-1', 'Zeta']);
    const rel = await as(user).svc('getAllRelatedProjects', { poid: p.alpha1.oid });
    assert.deepEqual(names(rel), ['Site', 'Alpha', 'Alpha-1']);
    assert.equal(rel[0].__type, 'SProjectSmall');
    const e = await as(other).svcErr('getAllRelatedProjects', { poid: p.alpha.oid });
    assert.equal(e.__type, 'UserException');
    assert.equal(e.message, `Project with oid ${p.alpha.oid} does not exist`);
    const z = await as(user).svcErr('getAllRelatedProjects', { poid: p.zeta.oid });
    assert.equal(z.message, `Project with oid ${p.zeta.oid} does not exist`);
  });

  test('getProjectSmallByPoid', async () => {
    const s = await as(user).svc('getProjectSmallByPoid', { poid: p.alpha.oid });
    assert.deepEqual(Object.keys(s).sort(), SMALL_KEYS);
    assert.equal(s.name, 'Alpha');
    assert.equal(s.lastRevisionId, roid);
    assert.equal(s.hasCheckinRights, true);
    const e = await as(other).svcErr('getProjectSmallByPoid', { poid: p.alpha.oid });
    assert.equal(e.message, `Project with oid ${p.alpha.oid} does not exist`);
  });

  test('getAllRevisionsByUser: SRevision of what the user checked in, where the caller may read', async () => {
    const revs = await as(admin).svc('getAllRevisionsByUser', { uoid: userOid });
    assert.equal(revs.length, 1);
    assert.equal(revs[0].__type, 'SRevision');
    assert.equal(revs[0].oid, roid);
    assert.equal(revs[0].userId, userOid);
    assert.equal(revs[0].projectId, p.alpha.oid);
    assert.deepEqual((await as(user).svc('getAllRevisionsByUser', { uoid: userOid })).map((r) => r.oid), [roid]);
    assert.deepEqual(await as(other).svc('getAllRevisionsByUser', { uoid: userOid }), [],
      'no revision of a project the caller cannot read');
    assert.deepEqual(await as(admin).svc('getAllRevisionsByUser', { uoid: otherOid }), []);
    const e = await as(admin).svcErr('getAllRevisionsByUser', { uoid: 999999 });
    assert.equal(e.message, 'User with oid 999999 not found');
  });

  test('checkout lists are empty (bimhub records no checkouts); so are check-in warnings', async () => {
    assert.deepEqual(await as(user).svc('getAllCheckoutsByUser', { uoid: userOid }), []);
    assert.deepEqual(await as(admin).svc('getAllCheckoutsOfProjectAndSubProjects', { poid: p.site.oid }), []);
    assert.deepEqual(await as(user).svc('getCheckinWarnings', { poid: p.alpha.oid }), []);
    const e = await as(other).svcErr('getAllCheckoutsOfProjectAndSubProjects', { poid: p.site.oid });
    assert.equal(e.message, `Project with oid ${p.site.oid} does not exist`);
    const w = await as(other).svcErr('getCheckinWarnings', { poid: p.alpha.oid });
    assert.equal(w.message, `Project with oid ${p.alpha.oid} does not exist`);
  });

  test('getUsersProjects: SProject the user has rights on, for the user itself or an admin', async () => {
    const mine = await as(user).svc('getUsersProjects', { uoid: userOid });
    assert.deepEqual(names(mine), ['Alpha']);
    assert.equal(mine[0].__type, 'SProject');
    assert.deepEqual(names(await as(admin).svc('getUsersProjects', { uoid: userOid })), ['Alpha']);
    const e = await as(other).svcErr('getUsersProjects', { uoid: userOid });
    assert.equal(e.__type, 'UserException');
  });

  test('getAllNonAuthorizedProjectsOfUser: projects the caller could add the user to', async () => {
    const forAdmin = await as(admin).svc('getAllNonAuthorizedProjectsOfUser', { uoid: userOid });
    assert.deepEqual(names(forAdmin).sort(), ['Alpha-1', 'Gone', 'Other', 'Site', 'Zeta']);
    assert.equal(forAdmin[0].__type, 'SProject');
    // the user may add others to Alpha and Alpha-1 only
    assert.deepEqual(names(await as(user).svc('getAllNonAuthorizedProjectsOfUser', { uoid: otherOid })).sort(),
      ['Alpha', 'Alpha-1']);
    assert.deepEqual(await as(other).svc('getAllNonAuthorizedProjectsOfUser', { uoid: userOid }), []);
  });

  test('changeUserType: admins only, applied to open sessions at once, never the last admin', async () => {
    const A = as(admin);
    const denied = await as(user).svcErr('changeUserType', { uoid: userOid, userType: 'ADMIN' });
    assert.equal(denied.message, 'Administrator rights required for this call');
    // other's session is cached; the change reaches it on its next call
    const before = await as(other).err('SettingsInterface', 'getServerSettings', {});
    assert.equal(before.message, 'Administrator rights required for this call');
    assert.deepEqual(await A.svc('changeUserType', { uoid: otherOid, userType: 'ADMIN' }), {}, 'void: {}, as BIMserver');
    assert.equal((await A.svc('getUserByUoid', { uoid: otherOid })).userType, 'ADMIN');
    const settings = await as(other).call('SettingsInterface', 'getServerSettings', {});
    assert.equal(settings.__type, 'SServerSettings');
    await A.svc('changeUserType', { uoid: otherOid, userType: 'READ_ONLY' });
    const after = await as(other).err('SettingsInterface', 'getServerSettings', {});
    assert.equal(after.message, 'Administrator rights required for this call');
    await A.svc('changeUserType', { uoid: otherOid, userType: 'USER' });
    const last = await A.svcErr('changeUserType', { uoid: admin.user.oid, userType: 'USER' });
    assert.equal(last.message, 'The last administrator must stay an administrator');
    const bad = await A.svcErr('changeUserType', { uoid: otherOid, userType: 'KING' });
    assert.equal(bad.message, 'Invalid user type KING');
    const sys = await A.svcErr('changeUserType', { uoid: otherOid, userType: 'SYSTEM' });
    assert.equal(sys.message, 'No user can be made a system user');
    const none = await A.svcErr('changeUserType', { uoid: 999999, userType: 'USER' });
    assert.equal(none.message, 'User with oid 999999 not found');
  });

  test('the listings every page loads: empty or null where bimhub has none, never "not found"', async () => {
    const U = as(user);
    for (const m of ['getAllRenderEngines', 'getAllQueryEngines', 'getAllModelMergers', 'getAllModelCompares',
      'getAllInternalServices']) {
      assert.deepEqual(await U.call('PluginInterface', m, { onlyEnabled: true }), [], m);
    }
    assert.deepEqual(await U.call('PluginInterface', 'getAllRenderEnginePluginDescriptors', {}), []);
    // null, which BIMserver's JSON sends as {}
    assert.deepEqual(await U.call('PluginInterface', 'getDefaultRenderEnginePluginDescriptor', {}), {});
    assert.deepEqual(await U.svc('getAllLocalServiceDescriptors', {}), []);
    assert.deepEqual(await U.svc('getAllNewServicesOfProject', { poid: p.alpha.oid }), []);
    assert.deepEqual(await U.svc('getAllModelCheckersOfProject', { poid: p.alpha.oid }), []);
    assert.equal(await U.call('SettingsInterface', 'isCheckinMergingEnabled', {}), false);
    const e = await as(other).svcErr('getAllModelCheckersOfProject', { poid: p.alpha.oid });
    assert.equal(e.message, `Project with oid ${p.alpha.oid} does not exist`);
  });

  test('setServerSettings takes the whole form back, changes what bimhub acts on, refuses the rest', async () => {
    const A = as(admin);
    const cur = await A.call('SettingsInterface', 'getServerSettings', {});
    // as BIMvie.ws sends it: numbers from text inputs as strings, empty inputs as ""
    const form = {
      ...cur, name: 'bimviews hub', hideUserListForNonAdmin: true, smtpPort: String(cur.smtpPort),
      sessionTimeOutSeconds: String(cur.sessionTimeOutSeconds), smtpPassword: '', smtpServer: '',
      protocolBuffersPort: '0', renderEngineProcesses: '0', defaultRenderEnginePluginId: null,
    };
    assert.deepEqual(await A.call('SettingsInterface', 'setServerSettings', { serverSettings: form }), {});
    const now = await A.call('SettingsInterface', 'getServerSettings', {});
    assert.equal(now.name, 'bimviews hub');
    assert.equal(now.hideUserListForNonAdmin, true);
    assert.equal(await A.call('SettingsInterface', 'isHideUserListForNonAdmin', {}), true);

    const merging = await A.err('SettingsInterface', 'setServerSettings',
      { serverSettings: { ...now, name: 'changed', checkinMergingEnabled: true } });
    assert.equal(merging.__type, 'UserException');
    assert.equal(merging.message, 'checkinMergingEnabled cannot be changed on this server: bimhub has no such feature');
    const timeout = await A.err('SettingsInterface', 'setServerSettings',
      { serverSettings: { ...now, sessionTimeOutSeconds: 5 } });
    assert.match(timeout.message, /^sessionTimeOutSeconds cannot be changed.*token_lifetime_s/);
    const smtp = await A.err('SettingsInterface', 'setServerSettings',
      { serverSettings: { ...now, smtpServer: 'mail.example.test' } });
    assert.match(smtp.message, /smtpServer cannot be changed on this server: bimhub sends no e-mail/);
    const site = await A.err('SettingsInterface', 'setServerSettings',
      { serverSettings: { ...now, siteAddress: 'ftp://x' } });
    assert.equal(site.message, 'Site address must start with http:// or https://');
    const unknown = await A.err('SettingsInterface', 'setServerSettings',
      { serverSettings: { __type: 'SServerSettings', colour: 'red' } });
    assert.equal(unknown.message, 'SServerSettings has no field colour');
    assert.equal((await A.call('SettingsInterface', 'getServerSettings', {})).name, 'bimviews hub',
      'a refused call changes nothing');
    const denied = await as(user).err('SettingsInterface', 'setServerSettings', { serverSettings: { ...now, name: 'x' } });
    assert.equal(denied.message, 'Administrator rights required for this call');
    await A.call('SettingsInterface', 'setServerSettings',
      { serverSettings: { __type: 'SServerSettings', hideUserListForNonAdmin: false } });
  });

  test('requestPasswordChange: a clear refusal, the same for every name (no mail is sent)', async () => {
    const known = exceptionOf(await rpc(srv.url, 'AuthInterface', 'requestPasswordChange',
      { username: 'bv-user@bimhub.test', resetUrl: 'http://127.0.0.1/?page=ResetPassword', includeSiteAddress: false }));
    assert.equal(known.__type, 'UserException');
    assert.match(known.message, /^Error sending email: no mail server is configured/);
    const unknown = exceptionOf(await rpc(srv.url, 'AuthInterface', 'requestPasswordChange',
      { username: 'nobody@bimhub.test', resetUrl: 'x', includeSiteAddress: false }));
    assert.equal(unknown.message, known.message);
  });

  test('deleteUser ends the user\'s sessions and logins at once; undeleteUser lets it log in again', async () => {
    const A = as(admin);
    const g = await A.svc('addUserWithPassword', {
      username: 'bv-gone@bimhub.test', password: 'bv-gone-secret-1', name: 'gone', type: 'USER', selfRegistration: false, resetUrl: '',
    });
    const { client: gc, token: gtok } = await loggedInClient(srv.url, 'bv-gone@bimhub.test', 'bv-gone-secret-1');
    const receiver = await startReceiver();
    try {
      assert.equal((await call(gc, 'AuthInterface', 'getLoggedInUser', {})).oid, g.oid);
      // a service of its own, on a project it has rights on
      await A.svc('addUserToProject', { uoid: g.oid, poid: p.other.oid });
      const graw = api(srv.url, await loginToken(srv.url, 'bv-gone@bimhub.test', 'bv-gone-secret-1'));
      const soid = await graw.svc('addServiceToProject', {
        poid: p.other.oid,
        sService: { __type: 'SService', name: 'gone-svc', serviceName: 'a', serviceIdentifier: 'a',
          providerName: 'p', url: receiver.url, token: 't', notificationProtocol: 'JSON', description: '',
          trigger: 'NEW_REVISION', readRevision: false, readExtendedDataId: -1, writeRevisionId: -1,
          writeExtendedDataId: -1, profileIdentifier: 'p', profileName: 'p', profileDescription: '',
          profilePublic: true },
      });
      // DeliveryInterface is bimhub's own: bimserverapi does not know it, so raw JSON
      const araw = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
      assert.equal((await araw.call('DeliveryInterface', 'getServiceHealth', { soid })).enabled, true);
      const denied = await as(user).svcErr('deleteUser', { uoid: g.oid });
      assert.equal(denied.message, 'Administrator rights required for this call');
      assert.equal(await A.svc('deleteUser', { uoid: g.oid }), true);
      assert.equal((await A.svc('getUserByUoid', { uoid: g.oid })).state, 'DELETED');
      const health = await araw.call('DeliveryInterface', 'getServiceHealth', { soid });
      assert.equal(health.enabled, false, 'its services no longer notify: ' + JSON.stringify(health));
      const ended = exceptionOf(await rpc(srv.url, 'AuthInterface', 'getLoggedInUser', {}, gtok));
      assert.equal(ended.message, 'Invalid token', 'its open session ended with the delete');
      for (let i = 0; i < 100 && !gc.webSocket.lastClose; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(gc.webSocket.lastClose?.code, 1008, 'its /stream socket was closed');
      const login = exceptionOf(await rpc(srv.url, 'AuthInterface', 'login',
        { username: 'bv-gone@bimhub.test', password: 'bv-gone-secret-1' }));
      assert.match(login.message, /deleted/i);
      assert.equal(await A.svc('undeleteUser', { uoid: g.oid }), true);
      assert.equal(typeof await loginToken(srv.url, 'bv-gone@bimhub.test', 'bv-gone-secret-1'), 'string');
      const last = await A.svcErr('deleteUser', { uoid: admin.user.oid });
      assert.equal(last.message, 'The last administrator cannot be deleted');
    } finally {
      await closeClient(gc);
      await receiver.close();
    }
  });

  test('download with BIMvie.ws\'s AllFields query gives the whole model; other queries are refused', async () => {
    const ua = api(srv.url, await loginToken(srv.url, 'bv-user@bimhub.test', 'bv-user-secret-1'));
    const ser = (await ua.svc('getSerializerByContentType', { contentType: 'application/ifc' })).oid;
    const whole = await ua.svc('download', { roids: [roid], query: '{"includeAllFields":true}', serializerOid: ser,
      sync: true });
    const want = await fetchBytes(`${srv.url}/download?token=${ua.token}&topicId=${whole}`);
    for (const query of [
      '{"defines":{"AllFields":{"includeAllFields":true,"include":"AllFields"}},"queries":[{"includeAllFields":true,"include":"AllFields"}]}',
      '{"queries":[{"includeAllFields":true}]}']) {
      const topicId = await ua.svc('download', { roids: [roid], query, serializerOid: ser, sync: true });
      const got = await fetchBytes(`${srv.url}/download?token=${ua.token}&topicId=${topicId}`);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(want.body), query);
    }
    for (const query of ['{"queries":[{"type":"IfcWall"}]}', '{"queries":[{"includeAllFields":true,"include":"Nope"}]}',
      '{"defines":{"X":{"type":"IfcDoor"}},"queries":[{"includeAllFields":true,"include":"X"}]}']) {
      const e = await ua.svcErr('download', { roids: [roid], query, serializerOid: ser, sync: true });
      assert.match(e.message, /Queries other than the whole model/, query);
    }
  });

  test('SUser.uuid is a UUID, one per user, the same on every read and after a restart', async () => {
    const u1 = await as(admin).svc('getUserByUoid', { uoid: userOid });
    const u2 = await as(admin).svc('getUserByUoid', { uoid: otherOid });
    assert.match(u1.uuid, UUID_V4);
    assert.match(u2.uuid, UUID_V4);
    assert.notEqual(u1.uuid, u2.uuid);
    assert.equal((await as(user).call('AuthInterface', 'getLoggedInUser', {})).uuid, u1.uuid);
    assert.equal((await as(admin).svc('getUserByUoid', { uoid: userOid })).uuid, u1.uuid);
  });
});

describe('SUser.uuid in a database from before it', () => {
  test('the migration gives each existing user a UUID, kept across restarts', { skip: !hasSqlite && 'no sqlite3' }, async () => {
    const srv = await startServer();
    try {
      let a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
      const u = await a.svc('addUserWithPassword', {
        username: 'old@bimhub.test', password: 'old-secret-1', name: 'Old', type: 'USER', selfRegistration: false, resetUrl: '',
      });
      await srv.stop();
      // the schema as version 6 left it: no uuid column
      execFileSync('sqlite3', [path.join(srv.dataDir, 'bimhub.db'),
        'DROP INDEX users_uuid; DROP INDEX revisions_uoid; ALTER TABLE users DROP COLUMN uuid; PRAGMA user_version = 6;']);
      await srv.restart();
      a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
      const first = await a.svc('getUserByUoid', { uoid: u.oid });
      const me = await a.call('AuthInterface', 'getLoggedInUser', {});
      assert.match(first.uuid, UUID_V4);
      assert.match(me.uuid, UUID_V4);
      assert.notEqual(first.uuid, me.uuid);
      await srv.restart();
      a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
      assert.equal((await a.svc('getUserByUoid', { uoid: u.oid })).uuid, first.uuid);
    } finally {
      await srv.stop();
    }
  });
});
