// What older clients and scripts rely on: the version numbers they compare (the Python
// client's 1.5.183 gate, the JS client's serverInfo.version), the names BIMserver had before
// (ServiceInterface.checkin until 1.5.117, the Bimsie1ServiceInterface forms of 1.3/1.4) and
// that a failed check-in or notification shows in the server's log.
// The fields the Python client reads are checked here the way it checks them; the client
// itself was run by hand (its README's 1.5 and 1.4 examples), not by this test.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { api, fetchBytes, loginToken, pluginOids, postUpload, checkinParts, sha256, waitProgress }
  from './lib/checkin.mjs';
import { call, closeClient, loggedInClient, newClient } from './lib/client.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, binaryPath, startServer } from './lib/server.mjs';
import { IFC_SMALL, sleep } from './lib/stream-client.mjs';

const IFC = fs.readFileSync(IFC_SMALL); // ifc2x3tc1
const escapeRe = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** bimhub's own version, as `bimhub --version` prints it. */
function ownVersion()
{
  return execFileSync(binaryPath(), ['--version'], { encoding: 'utf8' }).trim().split(/\s+/).pop();
}

/** The Python client's own check: every number at least the required one, each on its own. */
function pythonGate(version, required)
{
  return ['major', 'minor', 'revision'].every((k, i) => Number.parseInt(version[k], 10) >= required[i]);
}

describe('versions clients compare', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { if (srv) await srv.stop(); });

  test('getServerInfo and getVersion report BIMserver 1.5.188 and bimhub\'s own version in fullString', async () => {
    const a = api(srv.url);
    const info = await a.call('AdminInterface', 'getServerInfo', {});
    const v = await a.call('AdminInterface', 'getVersion', {});
    assert.deepEqual(info.version, v);
    assert.equal(v.__type, 'SVersion');
    assert.deepEqual([v.major, v.minor, v.revision], [1, 5, 188]);
    assert.equal(v.fullString, `1.5.188-bimhub-${ownVersion()}`);
    // what the Python client computes before it fetches parameter descriptions
    assert.equal(pythonGate(info.version, [1, 5, 183]), true);
  });

  test('the JS client (bimserverapi 0.0.167) keeps serverInfo.version after init', async () => {
    const client = newClient(srv.url);
    try {
      const info = await client.init();
      assert.equal(info.serverState, 'RUNNING');
      assert.deepEqual([client.version.major, client.version.minor, client.version.revision], [1, 5, 188]);
      assert.match(client.version.fullString, /^1\.5\.188-bimhub-/);
    } finally {
      await closeClient(client);
    }
  });


});

describe('legacy method names', () => {
  let srv;
  let a;
  let des;
  let ser;
  let n = 0;
  const project = async () => (await a.svc('addProject', { projectName: `legacy-${++n}`, schema: 'ifc2x3tc1' })).oid;
  const args = (poid, over = {}) => ({ poid, comment: 'legacy', deserializerOid: des, fileSize: IFC.length,
    fileName: 'model.ifc', data: IFC.toString('base64'), ...over });

  before(async () => {
    srv = await startServer();
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    const oids = await pluginOids(a);
    des = oids.des['Ifc2x3tc1 (Streaming)'];
    ser = oids.ser['Ifc (Streaming)'];
  });
  after(async () => { if (srv) await srv.stop(); });

  async function downloaded(roid)
  {
    const topic = await a.svc('download', { roids: [roid], query: '', serializerOid: ser, sync: true });
    const res = await fetchBytes(`${srv.url}/download?token=${a.token}&topicId=${topic}`);
    assert.equal(res.status, 200);
    return res.body;
  }

  test('ServiceInterface.checkin with sync "false" (as the Python README sends it) checks in asynchronously', async () => {
    const poid = await project();
    const topic = await a.svc('checkin', args(poid, { sync: 'false', merge: 'false' }));
    assert.equal(typeof topic, 'number');
    const st = await waitProgress(a, topic);
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    assert.equal(sha256(await downloaded(st.roid)), sha256(IFC));
  });

  test('ServiceInterface.checkin with sync true waits: the topicId of a FINISHED check-in, the project free', async () => {
    const poid = await project();
    const topic = await a.svc('checkin', args(poid, { sync: true, merge: false }));
    const st = await a.progress(topic);
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    const p = await a.svc('getProjectByPoid', { poid });
    assert.equal(p.lastRevisionId, st.roid);
    assert.equal(p.checkinInProgress, 0);
    assert.equal(sha256(await downloaded(st.roid)), sha256(IFC));
  });

  test('a failed synchronous checkin answers its reason and leaves the project free', async () => {
    const poid = await project();
    const e = await a.err('ServiceInterface', 'checkin',
      args(poid, { data: Buffer.from('not a model').toString('base64'), sync: true }));
    assert.equal(e.__type, 'UserException');
    assert.ok(e.message.length > 0);
    const p = await a.svc('getProjectByPoid', { poid });
    assert.equal(p.checkinInProgress, 0);
    assert.equal(p.lastRevisionId, -1);
    const topic = await a.svc('checkin', args(poid, { sync: true }));
    assert.equal((await a.progress(topic)).state, 'FINISHED');
  });

  test('checkinFromUrl (the former name) and its 1.4 form fetch the model: sync waits, async returns at once', async () => {
    const files = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': IFC.length });
      res.end(IFC);
    });
    await new Promise((resolve) => files.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${files.address().port}/model.ifc`;
    try {
      const from = (iface, poid, sync) => a.call(iface, 'checkinFromUrl',
        { poid, comment: 'url', deserializerOid: des, fileName: 'model.ifc', url, merge: false, sync });
      let poid = await project();
      let st = await a.progress(await from('ServiceInterface', poid, true));
      assert.equal(st.state, 'FINISHED', JSON.stringify(st));
      assert.equal(sha256(await downloaded(st.roid)), sha256(IFC));
      poid = await project();
      st = await waitProgress(a, await from('Bimsie1ServiceInterface', poid, false));
      assert.equal(st.state, 'FINISHED', JSON.stringify(st));
      assert.equal((await a.svc('getProjectByPoid', { poid })).lastRevisionId, st.roid);
    } finally {
      files.close();
    }
  });

  test('checkin keeps checkinSync\'s rights: no rights, read-only and anonymous callers are refused', async () => {
    const poid = await project();
    await a.svc('addUserWithPassword', { username: 'ro@legacy.test', password: 'ro-secret-1', name: 'ro',
      type: 'READ_ONLY', selfRegistration: false, resetUrl: '' });
    await a.svc('addUserWithPassword', { username: 'u@legacy.test', password: 'u-secret-1', name: 'u',
      type: 'USER', selfRegistration: false, resetUrl: '' });
    const ro = api(srv.url, await loginToken(srv.url, 'ro@legacy.test', 'ro-secret-1'));
    const u = api(srv.url, await loginToken(srv.url, 'u@legacy.test', 'u-secret-1'));
    const roUoid = (await ro.call('AuthInterface', 'getLoggedInUser', {})).oid;
    await a.svc('addUserToProject', { uoid: roUoid, poid });
    for (const iface of ['ServiceInterface', 'Bimsie1ServiceInterface']) {
      assert.match((await u.err(iface, 'checkin', args(poid, { sync: true }))).message,
        /^Project with oid \d+ does not exist/);
      assert.match((await ro.err(iface, 'checkin', args(poid, { sync: true }))).message, /^Read-only users cannot/);
      assert.match((await api(srv.url).err(iface, 'checkin', args(poid, { sync: true }))).message,
        /^Authentication required/);
    }
    assert.equal((await a.svc('getProjectByPoid', { poid })).lastRevisionId, -1);
  });

  test('the 1.3/1.4 forms through Bimsie1ServiceInterface: addProject(projectName), getSuggestedDeserializerForExtension(extension), checkin without merge, download(roid), getDownloadData(actionId)', async () => {
    const b1 = (m, p) => a.call('Bimsie1ServiceInterface', m, p);
    const p = await b1('addProject', { projectName: 'legacy-13' });
    assert.equal(p.__type, 'SProject');
    assert.equal(p.schema, 'ifc2x3tc1');
    const sub = await a.call('org.buildingsmart.bimsie1.Bimsie1ServiceInterface', 'addProjectAsSubProject',
      { projectName: 'legacy-13-sub', parentPoid: p.oid });
    assert.equal(sub.parentId, p.oid);
    assert.equal(sub.schema, 'ifc2x3tc1');
    const d = await b1('getSuggestedDeserializerForExtension', { extension: 'ifc' });
    assert.equal(d.oid, des);
    assert.equal((await b1('getSuggestedDeserializerForExtension', { extension: 'ifc', poid: p.oid })).oid, des);
    const topic = await b1('checkin', { poid: p.oid, comment: '1.4', deserializerOid: d.oid, fileSize: IFC.length,
      fileName: 'model.ifc', data: IFC.toString('base64'), sync: true });
    const st = await a.progress(topic);
    assert.equal(st.state, 'FINISHED');
    // a method with no 1.4 form of its own answers under the Bimsie1 name as in 1.5
    const revs = await b1('getAllRevisionsOfProject', { poid: p.oid });
    assert.deepEqual(revs.map((r) => r.oid), [st.roid]);
    const dl = await b1('download', { roid: st.roid, serializerOid: ser, showOwn: false, sync: true });
    const data = await b1('getDownloadData', { actionId: dl });
    assert.equal(data.__type, 'SCheckoutResult');
    assert.equal(sha256(Buffer.from(data.file, 'base64')), sha256(IFC));
    await b1('terminateLongRunningAction', { actionId: dl });
    // 1.5 names keep their 1.5 signatures
    assert.match((await a.err('ServiceInterface', 'addProject', { projectName: 'x' })).message,
      /^Missing parameter: addProject -> schema/);
  });

  test('through the JS client: checkin, and the Bimsie1 forms by the full name the 1.4-era client sent', async () => {
    const { client } = await loggedInClient(srv.url, ADMIN_USER, ADMIN_PASSWORD);
    // bimserverapi 0.0.167 maps only the 1.5 names; BIMserver 1.4's bimserverapi_BimServerApi.js
    // had this entry (and sent the full name)
    client.interfaceMapping.Bimsie1ServiceInterface = 'org.buildingsmart.bimsie1.Bimsie1ServiceInterface';
    try {
      const p = await call(client, 'Bimsie1ServiceInterface', 'addProject', { projectName: 'legacy-js' });
      assert.equal(p.schema, 'ifc2x3tc1');
      const d = await call(client, 'Bimsie1ServiceInterface', 'getSuggestedDeserializerForExtension', { extension: 'ifc' });
      const topic = await call(client, 'ServiceInterface', 'checkin', { poid: p.oid, comment: 'js', deserializerOid: d.oid,
        fileSize: IFC.length, fileName: 'model.ifc', data: IFC.toString('base64'), merge: false, sync: true });
      const st = await call(client, 'NotificationRegistryInterface', 'getProgress', { topicId: topic });
      assert.equal(st.state, 'FINISHED');
    } finally {
      await closeClient(client);
    }
  });

  test('MetaInterface lists the Bimsie1 rows with their parameters, and checkin with the 1.5 ones', async () => {
    const meta = (m, p) => a.call('MetaInterface', m, p);
    const ifaces = await meta('getServiceInterfaces', {});
    const b1 = ifaces.find((i) => i.simpleName === 'Bimsie1ServiceInterface');
    assert.deepEqual(b1, { __type: 'SServiceInterface', name: 'org.buildingsmart.bimsie1.Bimsie1ServiceInterface',
      nameSpace: 'org.buildingsmart.bimsie1', simpleName: 'Bimsie1ServiceInterface' });
    assert.ok(!ifaces.some((i) => i.simpleName === 'Bimsie1AuthInterface'), 'clients take that name for a 1.4 server');
    const methods = (await meta('getServiceMethods', { serviceInterfaceName: b1.name })).map((m) => m.name);
    assert.deepEqual(methods, ['addProject', 'addProjectAsSubProject', 'checkin', 'checkinFromUrl', 'download',
      'getDownloadData', 'getSuggestedDeserializerForExtension', 'terminateLongRunningAction']);
    const params = async (iface, m) => (await meta('getServiceMethodParameters',
      { serviceInterfaceName: iface, serviceMethodName: m })).map((p) => p.name);
    assert.deepEqual(await params(b1.name, 'addProject'), ['projectName', 'schema']);
    assert.deepEqual(await params(b1.name, 'checkin'),
      ['poid', 'comment', 'deserializerOid', 'fileSize', 'fileName', 'data', 'sync']);
    assert.deepEqual(await params(b1.name, 'getDownloadData'), ['actionId']);
    assert.deepEqual(await params(b1.name, 'checkinFromUrl'),
      ['poid', 'comment', 'deserializerOid', 'fileName', 'url', 'sync']);
    assert.deepEqual(await params('org.bimserver.ServiceInterface', 'checkin'),
      ['poid', 'comment', 'deserializerOid', 'fileSize', 'fileName', 'data', 'merge', 'sync']);
    assert.deepEqual(await params('ServiceInterface', 'addProject'), ['projectName', 'schema']);
  });
});

describe('a failed check-in or notification is in the log', () => {
  let srv;
  let receiver;
  let a;
  before(async () => {
    // one attempt, then the delivery is parked (and redeliver sends it again)
    srv = await startServer({ args: ['--delivery-retry-schedule', '0'] });
    receiver = await startReceiver();
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
  });
  after(async () => {
    if (receiver) await receiver.close();
    if (srv) await srv.stop();
  });

  const logLines = (re) => srv.stderr().split('\n').filter((l) => re.test(l));

  async function waitLog(re, ms = 10000)
  {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      const l = logLines(re);
      if (l.length) return l;
      await sleep(50);
    }
    return [];
  }

  test('each refused upload logs one warn line with the reason the reply gives', async () => {
    const oids = await pluginOids(a);
    const des = oids.des['Ifc2x3tc1 (Streaming)'];
    // no poid
    let res = await postUpload(srv.url, checkinParts({ token: a.token, deserializerOid: des, data: IFC }));
    assert.equal(res.json.exception.message, 'No poid');
    let lines = await waitLog(/warn .*upload from 127\.0\.0\.1 to project -1 refused: "No poid"/);
    assert.equal(lines.length, 1, srv.stderr());
    // a field the client made up, with a line break in it, stays on one line
    const poid = (await a.svc('addProject', { projectName: 'log-upload', schema: 'ifc2x3tc1' })).oid;
    res = await postUpload(srv.url, checkinParts({ token: a.token, deserializerOid: des, poid, data: IFC,
      extra: [{ name: 'compression', value: 'zstd\nFAKE line' }] }));
    assert.match(res.json.exception.message, /^Unknown compression/);
    lines = await waitLog(new RegExp(`warn .*upload from 127\\.0\\.0\\.1 to project ${poid} refused: "Unknown compression zstd FAKE line`));
    assert.equal(lines.length, 1, srv.stderr());
    assert.equal(logLines(/^FAKE line/).length, 0);
    // a synchronous upload whose check-in fails: the state's error
    res = await postUpload(srv.url, checkinParts({ token: a.token, deserializerOid: des, poid,
      data: Buffer.from('not a model'), extra: [{ name: 'sync', value: 'true' }] }));
    assert.equal(res.json.state, 'AS_ERROR', res.text);
    lines = await waitLog(new RegExp(`warn .*upload from 127\\.0\\.0\\.1 to project ${poid} refused: "${escapeRe(res.json.errors[0])}"$`));
    assert.equal(lines.length, 1, srv.stderr());
    // a bad token says so, and never shows the token
    res = await postUpload(srv.url, checkinParts({ token: 'not-a-token-0123456789', deserializerOid: des, poid, data: IFC }));
    assert.ok(res.json.exception);
    lines = await waitLog(new RegExp(`refused: "${escapeRe(res.json.exception.message)}"$`));
    assert.equal(lines.length, 1, srv.stderr());
    assert.ok(!srv.stderr().includes('not-a-token-0123456789'));
    assert.ok(!srv.stderr().includes(a.token));
  });

  test('each failed notification attempt logs one warn line with status and reason, never the token', async () => {
    const poid = (await a.svc('addProject', { projectName: 'log-notify', schema: 'ifc2x3tc1' })).oid;
    receiver.respond = (rec) => {
      const token = rec.json?.request?.parameters?.token;
      return { status: 200, body: JSON.stringify({ response: { exception: { __type: 'UserException',
        message: `rejected token ${token}\nsecond line` } } }) };
    };
    const soid = await a.svc('addServiceToProject', { poid, sService: {
      __type: 'SService', name: 'logged', serviceName: 'logged', serviceIdentifier: 'logged', providerName: 'ACME',
      url: receiver.url, token: 'T', notificationProtocol: 'JSON', description: '', trigger: 'NEW_REVISION',
      readRevision: true, readExtendedDataId: -1, writeRevisionId: -1, writeExtendedDataId: -1,
      profileIdentifier: 'default', profileName: 'Default', profileDescription: '', profilePublic: true } });
    const oids = await pluginOids(a);
    const st = await a.svc('checkinSync', { poid, comment: 'c', deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'],
      fileSize: IFC.length, fileName: 'm.ifc', data: IFC.toString('base64'), merge: false });
    assert.equal(st.state, 'FINISHED');
    assert.ok(await receiver.waitFor((g) => g.length >= 1, 10000), 'notified');
    const token = receiver.got[0].json.request.parameters.token;
    assert.ok(token && token.length > 8);
    const re = new RegExp(`warn .*delivery \\d+ to service ${soid}, attempt 1 failed: status 200, reason ` +
      '"The service answered with an exception: rejected token \\*+ second line"');
    const lines = await waitLog(re);
    assert.equal(lines.length, 1, srv.stderr());
    assert.ok(!srv.stderr().includes(token), 'the service token is not logged');

    // a status error, the next attempt: one more line
    receiver.respond = () => ({ status: 503, body: 'busy' });
    // the outcome of the first attempt is recorded up to 10 ms after its answer
    let d;
    for (let i = 0; i < 200; i++) {
      d = (await a.call('DeliveryInterface', 'listDeliveries', { soid }))[0];
      if (d.state !== 'PENDING') break;
      await sleep(25);
    }
    await a.call('DeliveryInterface', 'redeliver', { id: d.oid });
    const more = await waitLog(new RegExp(`delivery ${d.oid} to service ${soid}, attempt 2 failed: status 503, reason "HTTP 503"`));
    assert.equal(more.length, 1, srv.stderr());
  });
});
