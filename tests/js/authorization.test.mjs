// The authorization matrix: every method bimhub serves, called as every kind of caller,
// allowed or refused as its row of the method tables says (`bimhub serve
// --print-access-json`, the same rows docs/authorization.md shows).
//
// Callers: anonymous; an ADMIN; a USER with rights on the project; a USER without; a
// READ_ONLY user with rights; service tokens of services on the project with each grant
// (readRevision or not, writeRevisionId, extended data read/write, a NEW_EXTENDED_DATA
// token) and one owned by an admin; a revoked token; an expired one (a second server whose
// login tokens live one second).
//
// Each call gets parameters naming objects of one fixture (a project P, its revision R,
// extended data, a file and topics made by the USER with rights, services, a delivery), so
// "refused" means one of the refusals below and "allowed" means anything else: the method
// may still fail for its own reasons (setup on a running server), never for rights.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { api, loginToken, pluginOids } from './lib/checkin.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, binaryPath, startServer } from './lib/server.mjs';
import { IFC_SMALL, rawEndpoint, sleep } from './lib/stream-client.mjs';

// Every refusal bimhub gives for rights, and the words of a missing object (an object the
// caller may not see is answered as missing).
const REFUSED = new RegExp('^(' + [
  'Authentication required for this call', 'Real authentication required',
  'Administrator rights required', 'Read-only users cannot', 'User has no rights to',
  'Only administrators can', 'Invalid token', 'This token has expired', 'No rights to',
  'Project with oid \\d+ does not exist', 'Revision does not exist', 'No extended data with oid',
  'No service with oid', 'No delivery with id', 'No topic found with topicId',
  'Topic with id \\d+ not found', 'No data found for topicId', 'No file with oid',
  'User with oid \\d+ not found', 'This download belongs to another user',
].join('|') + ')');

const IFC = fs.readFileSync(IFC_SMALL);

function accessTable()
{
  return JSON.parse(execFileSync(binaryPath(), ['serve', '--print-access-json'], { encoding: 'utf8' }));
}

/** What the row says for this caller: true (allowed) or false (refused). */
function expected(row, caller, fx)
{
  const { who, service: svc, target } = row;
  if (caller.kind === 'bad') return row.ignoresToken && who === 'anyone';
  if (who === 'anyone') return true;
  if (caller.kind === 'anonymous') return false;
  if (caller.kind === 'admin') return true;
  if (caller.kind === 'service') {
    if (svc === 'none') return false;
    if (who === 'owner') {
      // a service owns only what its own service made; files: its owner's own uploads
      return target === 'file' ? caller.ownerUoid === fx.u1.uoid : false;
    }
    const g = caller.grant;
    switch (svc) {
      case 'owner': return true;
      case 'read_revision': return g.readRevision;
      case 'write_revision': return g.writePoid === fx.p.oid;
      case 'read_ed': return g.readEd; // the fixture's revision is the token's
      case 'write_ed': return g.scope === 'revision' || g.writeEd;
      default: return false;
    }
  }
  // users: u1 (USER with rights, maker of the fixture's topics and files), u2 (USER without
  // rights), ro (READ_ONLY with rights)
  const k = caller.kind;
  switch (who) {
    case 'register': case 'setup_admin': case 'admin': case 'top_level': return false;
    case 'user': return true;
    case 'writer': return k !== 'ro';
    case 'owner': return k === 'u1';
    case 'project_read': return k === 'u1' || k === 'ro';
    case 'project_write': case 'project_admin': return k === 'u1';
    default: return false;
  }
}

describe('authorization matrix: every method as every kind of caller', () => {
  let srv;
  let shortSrv;
  let receiver;
  const fx = {};
  const callers = [];
  const streams = [];
  let seq = 0;
  const unique = (p) => `${p}-${++seq}`;

  before(async () => {
    srv = await startServer();
    shortSrv = await startServer({ args: ['--token-lifetime-s', '1'] });
    receiver = await startReceiver();
    const a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    fx.admin = a;
    fx.oids = await pluginOids(a);
    const user = async (name, type) => {
      const u = await a.svc('addUserWithPassword', { username: `${name}@matrix.test`, password: `${name}-secret-1`,
        name, type, selfRegistration: false, resetUrl: '' });
      return { uoid: u.oid, username: `${name}@matrix.test`, password: `${name}-secret-1` };
    };
    fx.u1 = await user('u1', 'USER');
    fx.u2 = await user('u2', 'USER');
    fx.ro = await user('ro', 'READ_ONLY');
    fx.u3 = await user('u3', 'USER'); // added to and removed from projects by the calls
    fx.p = await a.svc('addProject', { projectName: 'matrix', schema: 'ifc2x3tc1' });
    for (const u of [fx.u1, fx.ro]) await a.svc('addUserToProject', { uoid: u.uoid, poid: fx.p.oid });
    fx.sub = await a.svc('addProjectAsSubProject', { projectName: 'matrix-sub', parentPoid: fx.p.oid, schema: 'ifc2x3tc1' });
    const u1 = api(srv.url, await loginToken(srv.url, fx.u1.username, fx.u1.password));
    fx.u1api = u1;
    // plugin configurations have an oid per user
    const pluginsOf = async (who) => ({
      des: (await who.svc('getDeserializerByName', { deserializerName: 'Ifc2x3tc1 (Streaming)' })).oid,
      ser: (await who.svc('getSerializerByContentType', { contentType: 'application/ifc' })).oid,
    });
    const des = (await pluginsOf(u1)).des;
    fx.u1des = des;
    const st = await u1.svc('checkinSync', { poid: fx.p.oid, comment: 'matrix', deserializerOid: des,
      fileSize: IFC.length, fileName: 'model.ifc', data: IFC.toString('base64'), merge: false });
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    fx.roid = st.roid;
    fx.schema = await a.svc('addExtendedDataSchema', { extendedDataSchema: {
      __type: 'SExtendedDataSchema', name: 'matrix-schema', contentType: 'application/json', description: 'm' } });
    const upload = async (who) => who.svc('uploadFile', { file: { __type: 'SFile', filename: 'r.json',
      mime: 'application/json', size: 2, data: Buffer.from('{}').toString('base64') } });
    fx.upload = upload;
    fx.file = await upload(u1);
    await u1.svc('addExtendedDataToRevision', { roid: fx.roid, extendedData: { __type: 'SExtendedData',
      title: 'report', fileId: fx.file, schemaId: fx.schema } });
    fx.edid = (await u1.svc('getAllExtendedDataOfRevision', { roid: fx.roid }))[0].oid;
    fx.ser = (await u1.svc('getSerializerByContentType', { contentType: 'application/ifc' })).oid;
    fx.topic = await u1.call('NotificationRegistryInterface', 'registerProgressOnProjectTopic',
      { type: 'UPLOAD', poid: fx.p.oid, description: 'matrix topic' });
    fx.download = await u1.svc('download', { roids: [fx.roid], query: '', serializerOid: fx.ser, sync: true });

    // services with each grant, their tokens from real notifications
    const service = async (who, name, over) => who.svc('addServiceToProject', { poid: fx.p.oid, sService: {
      __type: 'SService', name, serviceName: name, serviceIdentifier: name, providerName: 'matrix',
      url: receiver.url, token: 't', notificationProtocol: 'JSON', description: '', trigger: 'NEW_REVISION',
      readRevision: false, readExtendedDataId: -1, writeRevisionId: -1, writeExtendedDataId: -1,
      profileIdentifier: 'p', profileName: 'p', profileDescription: '', profilePublic: true, ...over } });
    fx.service = service;
    const grants = [
      ['svc-read', u1, { readRevision: true }, { readRevision: true }],
      ['svc-noread', u1, {}, {}],
      ['svc-write', u1, { writeRevisionId: fx.p.oid }, { writePoid: fx.p.oid }],
      ['svc-ed', u1, { readExtendedDataId: fx.schema, writeExtendedDataId: fx.schema },
        { readEd: true, writeEd: true }],
      ['svc-admin', a, { readRevision: true }, { readRevision: true }],
      ['svc-edscope', u1, { trigger: 'NEW_EXTENDED_DATA', readRevision: true, readExtendedDataId: fx.schema },
        { readRevision: true, readEd: true, scope: 'extended_data' }],
    ];
    for (const [name, owner, over, grant] of grants) {
      const soid = await service(owner, name, over);
      const before = receiver.got.length;
      if (name === 'svc-edscope') await owner.svc('triggerNewExtendedData', { edid: fx.edid, soid });
      else await owner.svc('triggerNewRevision', { roid: fx.roid, soid });
      assert.ok(await receiver.waitFor((g) => g.length > before, 10000), `${name} notified`);
      const token = receiver.got[receiver.got.length - 1].json.request.parameters.token;
      callers.push({ name, kind: 'service', token, ownerUoid: owner === a ? -2 : fx.u1.uoid, soid,
        grant: { readRevision: false, writePoid: -1, readEd: false, writeEd: false, scope: 'revision', ...grant } });
      if (name === 'svc-read') fx.soid = soid;
    }
    fx.delivery = (await a.call('DeliveryInterface', 'listDeliveries', { soid: fx.soid }))[0].oid;

    const login = async (u) => loginToken(srv.url, u.username, u.password);
    callers.unshift(
      { name: 'anonymous', kind: 'anonymous', token: undefined },
      { name: 'admin', kind: 'admin', token: a.token },
      { name: 'user with rights', kind: 'u1', token: u1.token, user: fx.u1 },
      { name: 'user without rights', kind: 'u2', token: await login(fx.u2), user: fx.u2 },
      { name: 'read-only user with rights', kind: 'ro', token: await login(fx.ro), user: fx.ro },
    );
    const revoked = await login(fx.u1);
    await api(srv.url, revoked).call('AuthInterface', 'logout', {});
    callers.push({ name: 'revoked token', kind: 'bad', token: revoked });
    for (const c of callers) {
      if (!c.token || c.kind === 'bad') continue;
      Object.assign(c, await pluginsOf(api(srv.url, c.token)));
      const ep = await rawEndpoint(srv.url, c.token);
      streams.push(ep);
      c.ep = ep.ep;
    }
  });

  after(async () => {
    for (const s of streams) s.close();
    if (receiver) await receiver.close();
    if (srv) await srv.stop();
    if (shortSrv) await shortSrv.stop();
  });

  /** Parameters naming the fixture, made fresh where a call uses its target up. */
  async function paramsFor(row, caller)
  {
    const a = fx.admin;
    const u1 = fx.u1api;
    const m = row.method;
    const byName = {
      poid: fx.p.oid, roid: fx.roid, croid: fx.roid, roids: [fx.roid], poids: [fx.p.oid], parentPoid: fx.p.oid,
      soid: fx.soid, serviceOid: fx.soid, edid: fx.edid, fileId: fx.file, uoid: fx.u1.uoid, topicId: fx.topic,
      id: fx.delivery, schemaId: fx.schema, serializerOid: caller.ser ?? fx.ser, deserializerOid: caller.des ?? 1,
      endPointId: caller.ep ?? 1, onlyEnabled: true, onlyTopLevel: false, onlyActive: true, sync: false, merge: false,
      comment: 'matrix', fileName: 'model.ifc', fileSize: 10, data: Buffer.from('not a model').toString('base64'),
      url: 'http://127.0.0.1:9/none.ifc', query: '', head: Buffer.from('ISO-10303-21;').toString('base64'),
      zipped: false, extension: 'ifc', type: 'UPLOAD', description: 'd', name: 'matrix-schema',
      namespace: 'matrix-schema', username: fx.u1.username, contentType: 'application/ifc', tag: 't',
      state: null, beforeId: 999999999, limit: 5, since: 0, parallel: false, bimsie1Interface: false, reason: 'r',
      pluginClassName: 'org.bimserver.serializers.JsonSerializerPlugin', serializerName: 'Ifc2x3tc1 (Streaming)',
      deserializerName: 'Ifc2x3tc1 (Streaming)', baseUrl: receiver.url, notificationsUrl: receiver.url,
      serviceIdentifier: 'x', serviceInterfaceName: 'AuthInterface', methodName: 'login',
      serviceMethodName: 'login', allowSelfRegistration: false, allowUsersToCreateTopLevelProjects: false,
      hideUserListForNonAdmin: false, serverName: 'bimhub', serverDescription: 'd', serverIcon: '',
      serviceRepositoryUrl: '', siteAddress: srv.url, password: fx.u2.password, oldPassword: 'x', newPassword: 'x',
      projectName: unique('matrix-new'), schema: 'ifc2x3tc1', resetUrl: '', selfRegistration: false,
      siteAddress2: null, adminName: 'a', adminUsername: 'a@b.c', adminPassword: 'long enough 1', token: 'x',
      actionId: fx.download, showOwn: false,
      userType: 'USER', serverSettings: { __type: 'SServerSettings' }, includeSiteAddress: false,
    };
    const p = {};
    for (const { name } of row.params) p[name] = byName[name] ?? null;
    switch (m) {
      case 'login': p.username = fx.u2.username; break;
      case 'getUserByUoid': case 'changePassword': p.uoid = fx.u1.uoid; break;
      case 'getExtendedData': case 'getExtendedDataSchemaById': p.oid = m === 'getExtendedData' ? fx.edid : fx.schema; break;
      case 'getDeserializerById': p.oid = caller.des ?? 1; break;
      case 'getSerializerById': case 'getPluginDescriptor': p.oid = caller.ser ?? 1; break;
      case 'getDownloadData': p.topicId = fx.download; break;
      case 'addUser': case 'addUserWithPassword':
        p.username = `${unique('n')}@matrix.test`; p.name = 'n'; p.type = 'USER'; p.password = 'a long one 1'; break;
      case 'addUserToProject': p.uoid = fx.u3.uoid; break;
      case 'deleteUser': case 'undeleteUser': {
        const u = await a.svc('addUserWithPassword', { username: `${unique('gone')}@matrix.test`,
          password: 'a long one 1', name: 'g', type: 'USER', selfRegistration: false, resetUrl: '' });
        if (m === 'undeleteUser') await a.svc('deleteUser', { uoid: u.oid });
        p.uoid = u.oid; break;
      }
      case 'removeUserFromProject':
        await a.svc('addUserToProject', { uoid: fx.u3.uoid, poid: fx.p.oid });
        p.uoid = fx.u3.uoid; break;
      case 'deleteProject': case 'undeleteProject': {
        const s = await a.svc('addProjectAsSubProject', { projectName: unique('gone'), parentPoid: fx.p.oid,
          schema: 'ifc2x3tc1' });
        if (m === 'undeleteProject') await a.svc('deleteProject', { poid: s.oid });
        p.poid = s.oid; break;
      }
      case 'updateProject': p.sProject = await a.svc('getProjectByPoid', { poid: fx.p.oid }); break;
      case 'updateRevision': p.sRevision = { __type: 'SRevision', oid: fx.roid, comment: 'matrix' }; break;
      case 'addServiceToProject':
        p.sService = { __type: 'SService', name: unique('added'), serviceName: 'a', serviceIdentifier: 'a',
          providerName: 'p', url: receiver.url, token: 't', notificationProtocol: 'JSON', description: '',
          trigger: 'NEW_EXTENDED_DATA', readRevision: false, readExtendedDataId: -1, writeRevisionId: -1,
          writeExtendedDataId: -1, profileIdentifier: 'p', profileName: 'p', profileDescription: '',
          profilePublic: true };
        break;
      case 'deleteService': p.oid = await fx.service(a, unique('doomed'), { trigger: 'NEW_EXTENDED_DATA' }); break;
      case 'removeServiceFromProject':
        p.serviceOid = await fx.service(a, unique('doomed'), { trigger: 'NEW_EXTENDED_DATA' }); break;
      case 'triggerNewExtendedData': p.soid = callers.find((c) => c.name === 'svc-edscope').soid; break;
      case 'addExtendedDataSchema':
        p.extendedDataSchema = { __type: 'SExtendedDataSchema', name: unique('schema'),
          contentType: 'application/json', description: 'd' };
        break;
      case 'addExtendedDataToRevision': case 'addExtendedDataToProject':
        p.extendedData = { __type: 'SExtendedData', title: 'x', fileId: fx.file, schemaId: fx.schema }; break;
      case 'uploadFile':
        p.file = { __type: 'SFile', filename: 'f.json', mime: 'application/json', size: 2,
          data: Buffer.from('{}').toString('base64') };
        break;
      case 'updateProgressTopic':
        p.state = { __type: 'SLongActionState', title: 'step', progress: 10, state: 'STARTED', errors: [],
          warnings: [], infos: [], stage: 1 };
        break;
      case 'cleanupLongAction': case 'terminateLongRunningAction': case 'unregisterProgressTopic':
        p.topicId = await u1.call('NotificationRegistryInterface', 'registerProgressOnProjectTopic',
          { type: 'UPLOAD', poid: fx.p.oid, description: unique('t') });
        break;
      case 'checkinInitiatedSync': case 'checkinInitiatedAsync':
        // an asynchronous check-in of an earlier call may still hold the project a moment
        for (let i = 0; ; i++) {
          const r = await u1.raw('ServiceInterface', 'initiateCheckin', { poid: fx.p.oid, deserializerOid: fx.u1des });
          if (r.response?.result !== undefined || i === 100) { p.topicId = r.response?.result; break; }
          await sleep(50);
        }
        break;
      case 'setup':
        for (const k of ['siteAddress', 'serverName', 'serverDescription', 'serverIcon']) p[k] = byName[k];
        break;
      default: break;
    }
    return p;
  }

  /** Puts back what an allowed call changed that later calls rely on. */
  async function restore(row, result)
  {
    const a = fx.admin;
    if (row.method === 'addUserToProject') await a.svc('removeUserFromProject', { uoid: fx.u3.uoid, poid: fx.p.oid });
    if (row.method === 'disableService') await a.call('DeliveryInterface', 'enableService', { soid: fx.soid });
    if (row.method === 'initiateCheckin' && typeof result === 'number') {
      await a.svc('cleanupLongAction', { topicId: result });
    }
  }

  test('the table covers exactly the methods MetaInterface lists, and each row is complete', async () => {
    const rows = accessTable();
    const listed = new Set();
    const a = fx.admin;
    for (const ifc of await a.call('MetaInterface', 'getServiceInterfaces', {})) {
      for (const m of await a.call('MetaInterface', 'getServiceMethods', { serviceInterfaceName: ifc.name })) {
        listed.add(`${ifc.simpleName}.${m.name}`);
      }
    }
    const inTable = new Set(rows.map((r) => `${r.interface}.${r.method}`));
    assert.deepEqual([...listed].filter((x) => !inTable.has(x)), [], 'methods without a row');
    assert.deepEqual([...inTable].filter((x) => !listed.has(x)), [], 'rows without a method');
    for (const r of rows) assert.notEqual(r.who, 'missing', `${r.interface}.${r.method} has no rule`);
  });

  test('every method allows and refuses exactly the callers its row names', async () => {
    const rows = accessTable();
    const metaParams = new Map();
    const a = fx.admin;
    for (const r of rows) {
      const ps = await a.call('MetaInterface', 'getServiceMethodParameters',
        { serviceInterfaceName: r.interface, serviceMethodName: r.method });
      metaParams.set(`${r.interface}.${r.method}`, ps.map((x) => ({ name: x.name })));
    }
    // calls that end sessions go last
    const last = new Set(['logout', 'changePassword']);
    rows.sort((x, y) => Number(last.has(x.method)) - Number(last.has(y.method)));
    const wrong = [];
    for (const r of rows) {
      const row = { ...r, params: metaParams.get(`${r.interface}.${r.method}`) };
      for (const caller of callers) {
        let token = caller.token;
        // these end sessions (an admin's password change ends all of the user's): a fresh one
        if ((row.method === 'logout' || row.method === 'changePassword') && caller.user) {
          token = await loginToken(srv.url, caller.user.username, caller.user.password);
        }
        const params = await paramsFor(row, caller);
        if (row.method === 'changePassword' && caller.user) {
          params.oldPassword = caller.user.password;
          params.newPassword = caller.user.password;
        } else if (row.method === 'changePassword') {
          params.oldPassword = fx.u1.password;
          params.newPassword = fx.u1.password;
        }
        const res = await api(srv.url, token).raw(r.interface, r.method, params);
        const exc = res.response?.exception;
        // loginUserToken's own parameter is no valid user token here: that is not a refusal
        const refused = Boolean(exc && REFUSED.test(exc.message) &&
          !(r.method === 'loginUserToken' && exc.message === 'Invalid token'));
        const want = expected(row, caller, fx);
        if (refused === want) {
          wrong.push(`${r.interface}.${r.method} as ${caller.name}: expected ${want ? 'allowed' : 'refused'}, got ${
            exc ? JSON.stringify(exc.message) : 'a result'}`);
        }
        if (!exc) await restore(row, res.response?.result);
        if (row.method.startsWith('checkinInitiated')) {
          await fx.admin.svc('cleanupLongAction', { topicId: params.topicId }); // frees the project
        }
      }
    }
    assert.deepEqual(wrong, [], `${wrong.length} wrong answers:\n${wrong.join('\n')}`);
  });

  test('an expired token is refused by every method that takes one', async () => {
    const token = await loginToken(shortSrv.url, ADMIN_USER, ADMIN_PASSWORD);
    await sleep(1500);
    const wrong = [];
    const anon = api(shortSrv.url, undefined);
    for (const r of accessTable()) {
      // every parameter present (as null), so the token is what the call trips on
      const ps = await anon.call('MetaInterface', 'getServiceMethodParameters',
        { serviceInterfaceName: r.interface, serviceMethodName: r.method });
      const params = Object.fromEntries(ps.map((x) => [x.name, null]));
      const res = await api(shortSrv.url, token).raw(r.interface, r.method, params);
      const exc = res.response?.exception;
      const refused = Boolean(exc && /This token has expired/.test(exc.message));
      const want = !r.ignoresToken;
      if (refused !== want) wrong.push(`${r.interface}.${r.method}: ${JSON.stringify(res.response).slice(0, 200)}`);
    }
    assert.deepEqual(wrong, [], wrong.join('\n'));
  });
});
