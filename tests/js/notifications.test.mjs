// Notifications to remote services (spec §8.3-§8.6): the seed workflow end to end, payloads
// byte-compatible with BIMserver, Standard Webhooks signatures, the loop guard, the rights of
// service tokens, triggers, NEW_PROJECT and project extended data, per-service options and
// secret rotation. Retries and durability are in deliveries.test.mjs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { Webhook } from 'standardwebhooks';

import { api, fetchBytes, loginToken, pluginOids, sha256 } from './lib/checkin.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';
import { IFC_SMALL, rawEndpoint, reg, sleep } from './lib/stream-client.mjs';

const IFC = fs.readFileSync(IFC_SMALL);
const NEW_REVISION_KEYS = ['poid', 'roid', 'soid', 'serviceIdentifier', 'profileIdentifier', 'userToken',
  'token', 'apiUrl'];
const NEW_ED_REVISION_KEYS = ['poid', 'roid', 'edid', 'soid', 'serviceIdentifier', 'profileIdentifier',
  'userToken', 'token', 'apiUrl'];

function sService(url, over = {})
{
  return {
    __type: 'SService', name: 'Clash check', serviceName: 'Clash detector',
    serviceIdentifier: 'clash', providerName: 'ACME', url, token: 'ACME-USER-TOKEN',
    notificationProtocol: 'JSON', description: 'Checks for clashes', trigger: 'NEW_REVISION',
    readRevision: true, readExtendedDataId: -1, writeRevisionId: -1, writeExtendedDataId: -1,
    profileIdentifier: 'default', profileName: 'Default', profileDescription: '',
    profilePublic: true, ...over,
  };
}

describe('notifications to services', () => {
  let srv;
  let a; // admin api
  let oids;
  let schemaOid;
  const receivers = [];

  const receiver = async () => {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  };
  const project = (name, parentPoid) => (parentPoid
    ? a.svc('addProjectAsSubProject', { projectName: name, parentPoid, schema: 'ifc2x3tc1' })
    : a.svc('addProject', { projectName: name, schema: 'ifc2x3tc1' }));
  const addService = (poid, url, over) => a.svc('addServiceToProject', { poid, sService: sService(url, over) });
  const checkin = async (who, poid, comment = 'c') => {
    const st = await who.svc('checkinSync', {
      poid, comment, deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'], fileSize: IFC.length,
      fileName: 'model.ifc', data: IFC.toString('base64'), merge: false,
    });
    return st;
  };
  const dlv = (m, p) => a.call('DeliveryInterface', m, p);

  before(async () => {
    srv = await startServer({ args: ['--delivery-retry-schedule', '0,500ms,1s,2s'] });
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    oids = await pluginOids(a);
    schemaOid = await a.svc('addExtendedDataSchema', { extendedDataSchema: {
      __type: 'SExtendedDataSchema', name: 'clash-report', contentType: 'application/json', description: 'r' } });
  });
  after(async () => {
    for (const r of receivers) await r.close();
    if (srv) await srv.stop();
  });

  test('the seed workflow: newRevision, download with its token, write back, newExtendedData, NEW_EXTENDED_DATA service', async () => {
    const clash = await receiver();
    const reader = await receiver();
    const p = await project('seed');
    const soid = await addService(p.oid, clash.url, { writeExtendedDataId: schemaOid });
    const edSoid = await addService(p.oid, reader.url, { name: 'Report reader', serviceIdentifier: 'reader',
      trigger: 'NEW_EXTENDED_DATA', readExtendedDataId: schemaOid });
    const secret = await dlv('getServiceSecret', { soid });
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);

    const st = await checkin(a, p.oid, 'seed');
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    const roid = st.roid;
    assert.ok(await clash.waitFor((g) => g.length >= 1), 'newRevision reached the service');
    const rec = clash.got[0];
    assert.equal(rec.path, '/json');
    assert.equal(rec.headers['content-type'], 'application/json; charset=UTF-8');
    const { request } = rec.json;
    assert.deepEqual(Object.keys(rec.json), ['request']);
    assert.equal(request.interface, 'RemoteServiceInterface');
    assert.equal(request.method, 'newRevision');
    assert.deepEqual(Object.keys(request.parameters), NEW_REVISION_KEYS, 'parameters in declared order');
    const np = request.parameters;
    assert.equal(np.poid, p.oid);
    assert.equal(np.roid, roid);
    assert.equal(np.soid, soid);
    assert.equal(np.serviceIdentifier, 'clash');
    assert.equal(np.profileIdentifier, 'default');
    assert.equal(np.userToken, 'ACME-USER-TOKEN');
    assert.match(np.token, /^[0-9a-f]{128}$/); // signed by the server, not stored
    assert.notEqual(np.token, a.token);
    assert.equal(np.apiUrl, srv.url);
    // Standard Webhooks: any library verifies it with the service's secret
    assert.match(rec.id, /^msg_[0-9a-f]{12}_\d+$/);
    const verified = new Webhook(secret).verify(rec.body, {
      'webhook-id': rec.id, 'webhook-timestamp': rec.timestamp, 'webhook-signature': rec.signature });
    assert.equal(verified.request.parameters.roid, roid);
    assert.throws(() => new Webhook(secret).verify(rec.body.replace(`"roid":${roid}`, '"roid":1'), {
      'webhook-id': rec.id, 'webhook-timestamp': rec.timestamp, 'webhook-signature': rec.signature }));

    // The service downloads the revision with the token and apiUrl it was given.
    const s = api(np.apiUrl, np.token);
    const rev = await s.svc('getRevision', { roid });
    assert.equal(rev.oid, roid);
    const ser = await s.svc('getSerializerByContentType', { contentType: 'application/ifc' });
    const topicId = await s.svc('download', { roids: [roid], query: '{"includeAllFields":true}',
      serializerOid: ser.oid, sync: false });
    const dl = await fetchBytes(`${np.apiUrl}/download?token=${np.token}&topicId=${topicId}`);
    assert.equal(dl.status, 200);
    assert.equal(sha256(dl.body), sha256(IFC));

    // A WebSocket listener on the revision's extended data.
    const ep = await rawEndpoint(srv.url, a.token);
    await reg(a, 'registerNewExtendedDataOnRevisionHandler', { endPointId: ep.ep, roid });

    // It writes back its report as extended data, with the same token.
    const report = Buffer.from(JSON.stringify({ clashes: 0 }));
    const fileId = await s.svc('uploadFile', { file: { __type: 'SFile', data: report.toString('base64'),
      filename: 'clash.json', mime: 'application/json', size: report.length } });
    assert.equal((await s.svc('getExtendedDataSchemaByName', { name: 'clash-report' })).oid, schemaOid);
    await s.svc('addExtendedDataToRevision', { roid, extendedData: {
      __type: 'SExtendedData', title: 'Clashes', schemaId: schemaOid, fileId } });
    const eds = await a.svc('getAllExtendedDataOfRevision', { roid });
    assert.equal(eds.length, 1);
    const edid = eds[0].oid;
    const push = await ep.push();
    assert.equal(push.request.method, 'newExtendedData');
    assert.deepEqual(push.request.parameters, { roid, edid });
    ep.close();

    // The NEW_EXTENDED_DATA service hears of it, with the real soid.
    assert.ok(await reader.waitFor((g) => g.length >= 1), 'newExtendedDataOnRevision reached the reader');
    const r2 = reader.got[0].json.request;
    assert.equal(r2.method, 'newExtendedDataOnRevision');
    assert.deepEqual(Object.keys(r2.parameters), NEW_ED_REVISION_KEYS);
    assert.equal(r2.parameters.poid, p.oid);
    assert.equal(r2.parameters.roid, roid);
    assert.equal(r2.parameters.edid, edid);
    assert.equal(r2.parameters.soid, edSoid);
    assert.equal(r2.parameters.serviceIdentifier, 'reader');
    // and it may read that extended data (readExtendedDataId is set)
    const rs = api(srv.url, r2.parameters.token);
    assert.equal((await rs.svc('getExtendedData', { oid: edid })).title, 'Clashes');
    // Nothing else: the NEW_REVISION service is not called for extended data (spec §10 #21).
    await sleep(300);
    assert.equal(clash.got.length, 1);
    assert.equal(reader.got.length, 1);
    // The log says delivered, one attempt each.
    const list = await dlv('listDeliveries', { soid, state: 'DELIVERED' });
    assert.equal(list.length, 1);
    assert.equal(list[0].webhookId, rec.id);
    assert.equal(list[0].attempts, 1);
    assert.equal(list[0].method, 'newRevision');
    assert.equal(list[0].roid, roid);
  });

  test('loop guard: the service whose token checked the revision in is not told; the others are', async () => {
    const writer = await receiver();
    const other = await receiver();
    const p = await project('loop');
    const wSoid = await addService(p.oid, writer.url, { name: 'writer', writeRevisionId: p.oid });
    await addService(p.oid, other.url, { name: 'other' });
    const first = await checkin(a, p.oid, 'by a user');
    assert.ok(await writer.waitFor((g) => g.length === 1));
    assert.ok(await other.waitFor((g) => g.length === 1));
    const token = writer.got[0].json.request.parameters.token;
    const st = await checkin(api(srv.url, token), p.oid, 'by the service');
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    assert.notEqual(st.roid, first.roid);
    assert.equal((await a.svc('getRevision', { roid: st.roid })).serviceId, wSoid);
    assert.ok(await other.waitFor((g) => g.length === 2), 'the other service hears of it');
    assert.equal(other.got[1].json.request.parameters.roid, st.roid);
    await sleep(500);
    assert.equal(writer.got.length, 1, 'the writer is not called about its own revision');
  });

  test('service token rights: each right granted and refused (spec §8.5)', async () => {
    const granted = await receiver();
    const bare = await receiver();
    const root = await project('rights');
    const sub = await project('rights-sub', root.oid);
    const elsewhere = await project('rights-elsewhere');
    await checkin(a, sub.oid, 'in the sub-project');
    const outside = await checkin(a, elsewhere.oid, 'elsewhere');
    await addService(root.oid, granted.url, { name: 'granted', readRevision: true, writeRevisionId: root.oid,
      readExtendedDataId: schemaOid, writeExtendedDataId: schemaOid });
    await addService(root.oid, bare.url, { name: 'bare', readRevision: false });
    const st = await checkin(a, root.oid, 'event');
    const roid = st.roid;
    assert.ok(await granted.waitFor((g) => g.length === 1));
    assert.ok(await bare.waitFor((g) => g.length === 1));
    const g = api(srv.url, granted.got[0].json.request.parameters.token);
    const b = api(srv.url, bare.got[0].json.request.parameters.token);
    const ser = (await a.svc('getSerializerByContentType', { contentType: 'application/ifc' })).oid;
    const download = (who, r) => who.raw('ServiceInterface', 'download',
      { roids: [r], query: '{"includeAllFields":true}', serializerOid: ser, sync: false });

    // read revisions: the project's whole tree when readRevision, nothing otherwise
    const subRev = (await a.svc('getAllRevisionsOfProject', { poid: sub.oid }))[0].oid;
    assert.equal(typeof (await download(g, roid)).response.result, 'number');
    assert.equal(typeof (await download(g, subRev)).response.result, 'number', 'a sub-project revision');
    assert.ok((await download(g, outside.roid)).response.exception, 'a revision outside the tree');
    assert.match((await download(b, roid)).response.exception.message, /No rights to download revision/);
    assert.match((await b.err('ServiceInterface', 'checkout', { roid, serializerOid: ser, sync: false })).message,
      /No rights to download revision/);
    // metadata is read with the owner's rights (spec §8.5 "any" methods)
    assert.equal((await b.svc('getRevision', { roid })).oid, roid);

    // write extended data: the event's revision only
    const file = async (who) => who.svc('uploadFile', { file: { __type: 'SFile', data: 'e30=', filename: 'r.json',
      mime: 'application/json', size: 2 } });
    const ed = (fileId) => ({ __type: 'SExtendedData', title: 't', schemaId: schemaOid, fileId });
    await g.svc('addExtendedDataToRevision', { roid, extendedData: ed(await file(g)) });
    const exc = await g.err('ServiceInterface', 'addExtendedDataToRevision',
      { roid: subRev, extendedData: ed(await file(g)) });
    assert.match(exc.message, /No rights to write extended data to revision/);
    assert.match((await g.err('ServiceInterface', 'addExtendedDataToProject',
      { poid: root.oid, extendedData: ed(await file(g)) })).message, /Real authentication required/);

    // read extended data: only with readExtendedDataId
    const edid = (await a.svc('getAllExtendedDataOfRevision', { roid }))[0].oid;
    assert.equal((await g.svc('getExtendedData', { oid: edid })).oid, edid);
    assert.equal((await g.svc('getAllExtendedDataOfRevision', { roid })).length, 1);
    assert.match((await b.err('ServiceInterface', 'getExtendedData', { oid: edid })).message, /No rights to read/);
    assert.match((await b.err('ServiceInterface', 'getAllExtendedDataOfRevision', { roid })).message, /No rights to read/);
    const dl = await fetchBytes(`${srv.url}/download?token=${b.token}&action=extendeddata&edid=${edid}`);
    assert.equal(dl.status, 403);

    // check in: only to writeRevisionId
    const ok = await checkin(g, root.oid, 'granted write');
    assert.equal(ok.state, 'FINISHED', JSON.stringify(ok));
    const refused = await b.err('ServiceInterface', 'checkinSync', { poid: root.oid, comment: 'x',
      deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'], fileSize: IFC.length, fileName: 'm.ifc',
      data: IFC.toString('base64'), merge: false });
    assert.match(refused.message, /No rights to checkin to this project/);
    assert.match((await g.err('ServiceInterface', 'checkinSync', { poid: sub.oid, comment: 'x',
      deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'], fileSize: IFC.length, fileName: 'm.ifc',
      data: IFC.toString('base64'), merge: false })).message, /No rights to checkin to this project/);

    // methods that need a real login refuse it
    assert.match((await g.err('ServiceInterface', 'addProject', { projectName: 'nope', schema: 'ifc2x3tc1' })).message,
      /Real authentication required/);
    assert.match((await g.err('DeliveryInterface', 'getServiceSecret', { soid: 1 })).message,
      /Real authentication required/);
  });

  test('a service token dies with its service', async () => {
    const r = await receiver();
    const p = await project('token-death');
    const soid = await addService(p.oid, r.url);
    await checkin(a, p.oid);
    assert.ok(await r.waitFor((g) => g.length === 1));
    const token = r.got[0].json.request.parameters.token;
    const s = api(srv.url, token);
    assert.equal((await s.svc('getProjectByPoid', { poid: p.oid })).oid, p.oid);
    // a token whose signed content was changed (here: another revision) is refused
    const forged = token.slice(0, 40) + (token[40] === '0' ? '1' : '0') + token.slice(41);
    assert.match((await api(srv.url, forged).err('ServiceInterface', 'getProjectByPoid', { poid: p.oid })).message,
      /Invalid token/);
    await a.svc('deleteService', { oid: soid });
    const exc = await s.err('ServiceInterface', 'getProjectByPoid', { poid: p.oid });
    assert.match(exc.message, /token/i);
  });

  test('NEW_PROJECT services of a parent hear of a new sub-project (newProject)', async () => {
    const r = await receiver();
    const parent = await project('np-parent');
    const soid = await addService(parent.oid, r.url, { name: 'np', trigger: 'NEW_PROJECT' });
    const child = await project('np-child', parent.oid);
    assert.ok(await r.waitFor((g) => g.length === 1));
    const req = r.got[0].json.request;
    assert.equal(req.method, 'newProject');
    assert.deepEqual(Object.keys(req.parameters), ['poid', 'soid', 'serviceIdentifier', 'profileIdentifier',
      'userToken', 'token', 'apiUrl']);
    assert.equal(req.parameters.poid, child.oid);
    assert.equal(req.parameters.soid, soid);
    await project('np-top-level'); // not a sub-project of parent: nothing
    await checkin(a, parent.oid); // not its trigger
    await sleep(300);
    assert.equal(r.got.length, 1);
  });

  test('extended data on a project: newExtendedDataOnProject to NEW_EXTENDED_DATA services', async () => {
    const r = await receiver();
    const p = await project('ed-project');
    const soid = await addService(p.oid, r.url, { name: 'edp', trigger: 'NEW_EXTENDED_DATA' });
    const fileId = await a.svc('uploadFile', { file: { __type: 'SFile', data: 'e30=', filename: 'p.json',
      mime: 'application/json', size: 2 } });
    await a.svc('addExtendedDataToProject', { poid: p.oid, extendedData: {
      __type: 'SExtendedData', title: 'on the project', schemaId: schemaOid, fileId } });
    assert.ok(await r.waitFor((g) => g.length === 1));
    const req = r.got[0].json.request;
    assert.equal(req.method, 'newExtendedDataOnProject');
    assert.deepEqual(Object.keys(req.parameters), ['poid', 'edid', 'soid', 'serviceIdentifier',
      'profileIdentifier', 'userToken', 'token', 'apiUrl']);
    assert.equal(req.parameters.poid, p.oid);
    assert.equal(req.parameters.soid, soid);
    assert.equal(typeof req.parameters.edid, 'number');
  });

  test('triggerNewRevision and triggerNewExtendedData send again to that one service', async () => {
    const r1 = await receiver();
    const r2 = await receiver();
    const ed = await receiver();
    const p = await project('trigger');
    const s1 = await addService(p.oid, r1.url, { name: 't1' });
    await addService(p.oid, r2.url, { name: 't2' });
    const sEd = await addService(p.oid, ed.url, { name: 'ted', trigger: 'NEW_EXTENDED_DATA' });
    const st = await checkin(a, p.oid);
    assert.ok(await r1.waitFor((g) => g.length === 1));
    assert.ok(await r2.waitFor((g) => g.length === 1));
    await a.svc('triggerNewRevision', { roid: st.roid, soid: s1 });
    assert.ok(await r1.waitFor((g) => g.length === 2));
    assert.equal(r1.got[1].json.request.parameters.roid, st.roid);
    assert.notEqual(r1.got[1].id, r1.got[0].id, 'a new notification, a new webhook-id');
    await sleep(300);
    assert.equal(r2.got.length, 1, 'only that service');
    assert.match((await a.svcErr('triggerNewRevision', { roid: st.roid, soid: sEd })).message,
      /not triggered by NEW_REVISION/);

    const fileId = await a.svc('uploadFile', { file: { __type: 'SFile', data: 'e30=', filename: 'p.json',
      mime: 'application/json', size: 2 } });
    await a.svc('addExtendedDataToRevision', { roid: st.roid, extendedData: {
      __type: 'SExtendedData', title: 'x', schemaId: schemaOid, fileId } });
    assert.ok(await ed.waitFor((g) => g.length === 1));
    const edid = ed.got[0].json.request.parameters.edid;
    await a.svc('triggerNewExtendedData', { edid, soid: sEd });
    assert.ok(await ed.waitFor((g) => g.length === 2));
    assert.equal(ed.got[1].json.request.method, 'newExtendedDataOnRevision');
    assert.equal(ed.got[1].json.request.parameters.edid, edid);
  });

  test('setDeliveryOptions: the 1.4 interface name on request', async () => {
    const r = await receiver();
    const p = await project('bimsie1');
    const soid = await addService(p.oid, r.url);
    await dlv('setDeliveryOptions', { soid, parallel: false, bimsie1Interface: true });
    const health = await dlv('getServiceHealth', { soid });
    assert.equal(health.bimsie1Interface, true);
    assert.equal(health.parallel, false);
    await checkin(a, p.oid);
    assert.ok(await r.waitFor((g) => g.length === 1));
    assert.equal(r.got[0].json.request.interface, 'Bimsie1RemoteServiceInterface');
  });

  test('rotateServiceSecret: both secrets sign during the overlap; only the owner and admins see them', async () => {
    const r = await receiver();
    const p = await project('rotate');
    const soid = await addService(p.oid, r.url);
    const old = await dlv('getServiceSecret', { soid });
    const fresh = await dlv('rotateServiceSecret', { soid });
    assert.notEqual(fresh, old);
    assert.equal(await dlv('getServiceSecret', { soid }), fresh);
    await checkin(a, p.oid);
    assert.ok(await r.waitFor((g) => g.length === 1));
    const rec = r.got[0];
    assert.equal(rec.signature.split(' ').length, 2, rec.signature);
    const headers = { 'webhook-id': rec.id, 'webhook-timestamp': rec.timestamp, 'webhook-signature': rec.signature };
    new Webhook(fresh).verify(rec.body, headers);
    new Webhook(old).verify(rec.body, headers);

    await a.svc('addUserWithPassword', { username: 'rot-other@bimhub.test', password: 'rot-other-secret-1',
      name: 'O', type: 'USER', selfRegistration: false, resetUrl: '' });
    const o = api(srv.url, await loginToken(srv.url, 'rot-other@bimhub.test', 'rot-other-secret-1'));
    for (const m of ['getServiceSecret', 'rotateServiceSecret', 'getServiceHealth', 'listDeliveries', 'enableService']) {
      const exc = await o.err('DeliveryInterface', m, { soid });
      assert.match(exc.message, /No service with oid/, m);
    }
  });

  test('getAllServiceDescriptors reads <serviceRepositoryUrl>/services.json, sorted by provider', async () => {
    assert.deepEqual(await a.svc('getAllServiceDescriptors', {}), [], 'none configured');
    const repo = http.createServer((req, res) => {
      if (req.url !== '/repo/services.json') { res.writeHead(404); res.end(); return; }
      const body = JSON.stringify({ services: [
        { name: 'Zeta', identifier: 'z', description: 'd', notificationProtocol: 'JSON', trigger: 'NEW_REVISION',
          url: 'http://z.example', companyUrl: '', tokenUrl: '', newProfileUrl: '', providerName: 'Zed Inc',
          registerUrl: '', authorizeUrl: '', rights: { readRevision: true, writeExtendedData: 'http://z/ns' } },
        { name: 'Alpha', identifier: 'a', description: 'd', notificationProtocol: 'JSON', trigger: 'NEW_EXTENDED_DATA',
          url: 'http://a.example', companyUrl: '', tokenUrl: '', newProfileUrl: '', providerName: 'Acme',
          registerUrl: '', authorizeUrl: '', rights: {} },
      ] });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(body);
    });
    await new Promise((r) => repo.listen(0, '127.0.0.1', r));
    try {
      await a.call('SettingsInterface', 'setServiceRepositoryUrl',
        { serviceRepositoryUrl: `http://127.0.0.1:${repo.address().port}/repo` });
      const list = await a.svc('getAllServiceDescriptors', {});
      assert.deepEqual(list.map((d) => [d.__type, d.providerName, d.identifier]),
        [['SServiceDescriptor', 'Acme', 'a'], ['SServiceDescriptor', 'Zed Inc', 'z']]);
      assert.equal(list[1].readRevision, true);
      assert.equal(list[1].writeExtendedData, 'http://z/ns');
      assert.equal(list[0].trigger, 'NEW_EXTENDED_DATA');
      await a.call('SettingsInterface', 'setServiceRepositoryUrl',
        { serviceRepositoryUrl: `http://127.0.0.1:${repo.address().port}/missing` });
      // a 404 says what any unreachable URL says (the outbound guard's one error)
      assert.equal((await a.svcErr('getAllServiceDescriptors', {})).message,
        'Cannot fetch the URL: it is not reachable or not allowed');
    } finally {
      await a.call('SettingsInterface', 'setServiceRepositoryUrl', { serviceRepositoryUrl: '' });
      await new Promise((r) => repo.close(r));
    }
  });
});
