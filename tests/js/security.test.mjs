// Regressions of a security review: each test is one finding, seen failing on the code
// before its fix. The full allow/deny matrix is in authorization.test.mjs; here are the
// paths the matrix cannot show (a crash, a topic ended under a running upload, rights lost
// while a service stays registered, a project deleted during its check-in, a number out of
// range).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { api, checkinParts, fetchBytes, loginToken, pluginOids, postUpload } from './lib/checkin.mjs';
import { postJson } from './lib/client.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';
import { IFC_SMALL, sleep } from './lib/stream-client.mjs';

const IFC = fs.readFileSync(IFC_SMALL);

/** A sync /upload sent in two halves: resolves {sendRest(), done} after the first half. */
function slowUpload(url, { token, poid, des, sync = true })
{
  const boundary = '----bimhubsec' + crypto.randomBytes(6).toString('hex');
  const field = (n, v) => `--${boundary}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`;
  const head = Buffer.from(field('token', token) + field('deserializerOid', des) + field('poid', poid) +
    field('comment', 'slow') + field('sync', sync ? 'true' : 'false') +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.ifc"\r\n` +
    'Content-Type: application/octet-stream\r\n\r\n');
  const foot = Buffer.from(`\r\n--${boundary}--\r\n`);
  const half = Math.floor(IFC.length / 2);
  const req = http.request(`${url}/upload`, { method: 'POST', headers: {
    'Content-Type': `multipart/form-data; boundary=${boundary}`,
    'Content-Length': head.length + IFC.length + foot.length } });
  const done = new Promise((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
    });
  });
  req.write(head);
  req.write(IFC.subarray(0, half));
  return { done, sendRest: () => { req.write(IFC.subarray(half)); req.end(foot); } };
}

async function waitTopic(a, poid)
{
  for (let i = 0; i < 200; i++) {
    const ids = await a.call('NotificationRegistryInterface', 'getProgressTopicsOnProject', { poid });
    if (ids.length) return ids[0];
    await sleep(25);
  }
  throw new Error('no check-in topic appeared');
}

describe('security regressions', () => {
  let srv;
  let a;
  let receiver;
  let des;
  const users = {};

  before(async () => {
    srv = await startServer();
    receiver = await startReceiver();
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    for (const [name, type] of [['alice', 'USER'], ['bob', 'USER'], ['reader', 'READ_ONLY']]) {
      const u = await a.svc('addUserWithPassword', { username: `${name}@sec.test`, password: `${name}-pw-123`,
        name, type, selfRegistration: false, resetUrl: '' });
      users[name] = { uoid: u.oid, api: api(srv.url, await loginToken(srv.url, `${name}@sec.test`, `${name}-pw-123`)) };
    }
    des = (await pluginOids(a)).des['Ifc2x3tc1 (Streaming)'];
  });
  after(async () => {
    if (receiver) await receiver.close();
    if (srv) await srv.stop();
  });

  const project = async (name, members = []) => {
    const p = await a.svc('addProject', { projectName: name, schema: 'ifc2x3tc1' });
    for (const m of members) await a.svc('addUserToProject', { uoid: users[m].uoid, poid: p.oid });
    return p;
  };
  const checkin = async (who, poid) => {
    const d = (await who.svc('getDeserializerByName', { deserializerName: 'Ifc2x3tc1 (Streaming)' })).oid;
    const st = await who.svc('checkinSync', { poid, comment: 'c', deserializerOid: d, fileSize: IFC.length,
      fileName: 'm.ifc', data: IFC.toString('base64'), merge: false });
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    return st.roid;
  };
  const serviceToken = async (owner, poid, roid, over = {}) => {
    const soid = await owner.svc('addServiceToProject', { poid, sService: {
      __type: 'SService', name: `s-${crypto.randomBytes(4).toString('hex')}`, serviceName: 's',
      serviceIdentifier: 's', providerName: 'p', url: receiver.url, token: 't', notificationProtocol: 'JSON',
      description: '', trigger: 'NEW_REVISION', readRevision: false, readExtendedDataId: -1, writeRevisionId: -1,
      writeExtendedDataId: -1, profileIdentifier: 'p', profileName: 'p', profileDescription: '',
      profilePublic: true, ...over } });
    const n = receiver.got.length;
    await owner.svc('triggerNewRevision', { roid, soid });
    assert.ok(await receiver.waitFor((g) => g.length > n, 10000));
    return { soid, token: receiver.got[receiver.got.length - 1].json.request.parameters.token };
  };
  const alive = async () => {
    const r = await postJson(`${srv.url}/json`, { request: { interface: 'AdminInterface', method: 'getServerInfo',
      parameters: {} } });
    assert.equal(r.status, 200, 'the server still answers');
  };

  for (const end of ['cleanupLongAction', 'unregisterProgressTopic']) {
    test(`ending its own topic with ${end} during a sync /upload does not crash the server`, async () => {
      const alice = users.alice.api;
      const p = await project(`crash-${end}`, ['alice']);
      const d = (await alice.svc('getDeserializerByName', { deserializerName: 'Ifc2x3tc1 (Streaming)' })).oid;
      const up = slowUpload(srv.url, { token: alice.token, poid: p.oid, des: d });
      const topicId = await waitTopic(alice, p.oid);
      const iface = end === 'cleanupLongAction' ? 'ServiceInterface' : 'NotificationRegistryInterface';
      await alice.call(iface, end, { topicId });
      up.sendRest();
      const r = await up.done;
      assert.equal(r.status, 200);
      const body = JSON.parse(r.text);
      assert.ok(body.state === 'FINISHED' || body.exception, r.text);
      await alive();
      const revs = await alice.svc('getAllRevisionsOfProject', { poid: p.oid });
      if (body.state === 'FINISHED') assert.equal(revs.length, 1);
    });
  }

  test('a service token owned by an admin cannot change server settings', async () => {
    const p = await project('settings');
    const roid = await checkin(a, p.oid);
    const { token } = await serviceToken(a, p.oid, roid, { readRevision: true });
    const s = api(srv.url, token);
    const before = await a.call('SettingsInterface', 'getSiteAddress', {});
    for (const [m, params] of [['setSiteAddress', { siteAddress: 'http://attacker.example' }],
      ['setServerName', { serverName: 'owned' }], ['setAllowSelfRegistration', { allowSelfRegistration: true }],
      ['setAllowUsersToCreateTopLevelProjects', { allowUsersToCreateTopLevelProjects: true }],
      ['setServiceRepositoryUrl', { serviceRepositoryUrl: 'http://attacker.example' }]]) {
      const e = await s.err('SettingsInterface', m, params);
      assert.match(e.message, /Real authentication required/, m);
    }
    assert.equal(await a.call('SettingsInterface', 'getSiteAddress', {}), before);
    assert.equal(await a.call('SettingsInterface', 'isAllowSelfRegistration', {}), false);
  });

  test('a service token reads nothing beyond its grant', async () => {
    const alice = users.alice.api;
    const bob = users.bob.api;
    const p = await project('grant', ['alice']);
    const other = await project('other', ['bob']);
    const roid = await checkin(alice, p.oid);
    await checkin(bob, other.oid);
    // a download alice prepared: a token without readRevision may not take it
    const ser = (await alice.svc('getSerializerByContentType', { contentType: 'application/ifc' })).oid;
    const topicId = await alice.svc('download', { roids: [roid], query: '', serializerOid: ser, sync: true });
    const { token } = await serviceToken(alice, p.oid, roid);
    const s = api(srv.url, token);
    assert.match((await s.svcErr('download', { roids: [roid], query: '', serializerOid: ser, sync: true })).message,
      /No rights to download revision/);
    assert.match((await s.svcErr('getDownloadData', { topicId })).message, /No data found/);
    const dl = await fetchBytes(`${srv.url}/download?token=${token}&topicId=${topicId}`);
    assert.equal(dl.status, 403);
    // an admin-owned token: no admin rights, so not bob's file nor a topic of bob's project
    const fileId = await bob.svc('uploadFile', { file: { __type: 'SFile', filename: 'private.txt',
      mime: 'text/plain', size: 6, data: Buffer.from('secret').toString('base64') } });
    const adminTok = api(srv.url, (await serviceToken(a, p.oid, roid, { readRevision: true })).token);
    assert.match((await adminTok.svcErr('getFile', { fileId })).message, /No file with oid/);
    const d2 = (await bob.svc('getDeserializerByName', { deserializerName: 'Ifc2x3tc1 (Streaming)' })).oid;
    const bobTopic = await bob.svc('initiateCheckin', { poid: other.oid, deserializerOid: d2 });
    assert.match((await adminTok.err('NotificationRegistryInterface', 'getProgress', { topicId: bobTopic })).message,
      /No topic found/);
    await bob.svc('cleanupLongAction', { topicId: bobTopic });
    // nor rename its owner's check-in topic
    const d = (await alice.svc('getDeserializerByName', { deserializerName: 'Ifc2x3tc1 (Streaming)' })).oid;
    const aliceTopic = await alice.svc('initiateCheckin', { poid: p.oid, deserializerOid: d });
    const e = await s.err('NotificationRegistryInterface', 'updateProgressTopic', { topicId: aliceTopic, state: {
      __type: 'SLongActionState', title: 'pwned', progress: 1, state: 'STARTED' } });
    assert.match(e.message, /Real authentication required|No topic found/);
    await alice.svc('cleanupLongAction', { topicId: aliceTopic });
  });

  test('READ_ONLY users cannot write extended data, schemas, triggers or project topics', async () => {
    const reader = users.reader.api;
    const p = await project('ro', ['reader', 'alice']);
    const roid = await checkin(users.alice.api, p.oid);
    const fileId = await users.alice.api.svc('uploadFile', { file: { __type: 'SFile', filename: 'x.json',
      mime: 'application/json', size: 2, data: Buffer.from('{}').toString('base64') } });
    const { soid } = await serviceToken(users.alice.api, p.oid, roid);
    const ed = { __type: 'SExtendedData', title: 'x', fileId };
    const calls = [
      ['ServiceInterface', 'addExtendedDataToRevision', { roid, extendedData: ed }],
      ['ServiceInterface', 'addExtendedDataToProject', { poid: p.oid, extendedData: ed }],
      ['ServiceInterface', 'addExtendedDataSchema', { extendedDataSchema: { __type: 'SExtendedDataSchema',
        name: 'ro-schema', contentType: 'text/plain' } }],
      ['ServiceInterface', 'triggerNewRevision', { roid, soid }],
      ['NotificationRegistryInterface', 'registerProgressOnProjectTopic', { type: 'UPLOAD', poid: p.oid,
        description: 'x' }],
    ];
    const n = receiver.got.length;
    for (const [iface, m, params] of calls) {
      assert.match((await reader.err(iface, m, params)).message, /Read-only users cannot/, m);
    }
    await sleep(300);
    assert.equal(receiver.got.length, n, 'no token went out for the read-only user');
    assert.equal((await a.svc('getAllExtendedDataOfRevision', { roid })).length, 0);
  });

  test('/upload keeps the same rules: READ_ONLY stores no file, a token checks in only where its grant says', async () => {
    const reader = users.reader.api;
    const alice = users.alice.api;
    const p = await project('upload-rules', ['reader', 'alice']);
    const other = await project('upload-other', ['alice']);
    const r1 = await postUpload(srv.url, [{ name: 'action', value: 'file' }, { name: 'token', value: reader.token },
      { name: 'file', filename: 'x.txt', data: Buffer.from('x') }]);
    assert.match(r1.text, /Read-only users cannot/);
    const roid = await checkin(alice, p.oid);
    // writeRevisionId names a project outside the service's tree: its token may not check in there
    const { token } = await serviceToken(alice, p.oid, roid, { writeRevisionId: other.oid });
    const d = (await alice.svc('getDeserializerByName', { deserializerName: 'Ifc2x3tc1 (Streaming)' })).oid;
    const r2 = await postUpload(srv.url, checkinParts({ token, deserializerOid: d, poid: other.oid, data: IFC }));
    assert.match(r2.text, /No rights to checkin to this project/);
    assert.equal((await alice.svc('getAllRevisionsOfProject', { poid: other.oid })).length, 0);
  });

  test('getProgress of another project\'s check-in is refused and not listed', async () => {
    const alice = users.alice.api;
    const bob = users.bob.api;
    const p = await project('progress', ['alice']);
    const d = (await alice.svc('getDeserializerByName', { deserializerName: 'Ifc2x3tc1 (Streaming)' })).oid;
    const topicId = await alice.svc('initiateCheckin', { poid: p.oid, deserializerOid: d });
    assert.match((await bob.err('NotificationRegistryInterface', 'getProgress', { topicId })).message,
      /No topic found/);
    const listed = await bob.call('NotificationRegistryInterface', 'getProgressTopicsOnServer', {});
    assert.ok(!listed.includes(topicId));
    await alice.svc('cleanupLongAction', { topicId });
  });

  test('1e300 as a long is an error, not undefined behaviour', async () => {
    const e = await a.svcErr('getProjectByPoid', { poid: 1e300 });
    assert.match(e.message, /poid must be a number/);
    await alive();
  });

  test('a service whose owner lost the project\'s rights is no longer notified', async () => {
    const alice = users.alice.api;
    const p = await project('lost', ['alice']);
    const roid = await checkin(alice, p.oid);
    const { soid } = await serviceToken(alice, p.oid, roid);
    await a.svc('removeUserFromProject', { uoid: users.alice.uoid, poid: p.oid });
    const n = receiver.got.length;
    await checkin(a, p.oid);
    await sleep(1000);
    assert.equal(receiver.got.filter((g) => g.json?.request?.parameters?.soid === soid).length,
      receiver.got.slice(0, n).filter((g) => g.json?.request?.parameters?.soid === soid).length,
      'no notification with a token of a user without rights');
    const health = await a.call('DeliveryInterface', 'getServiceHealth', { soid });
    assert.equal(health.enabled, false, JSON.stringify(health));
  });

  test('a check-in into a project deleted during its upload makes no revision', async () => {
    const p = await project('deleted-during');
    const up = slowUpload(srv.url, { token: a.token, poid: p.oid, des });
    await waitTopic(a, p.oid);
    await a.svc('deleteProject', { poid: p.oid });
    up.sendRest();
    const r = await up.done;
    assert.match(r.text, /deleted during the check-in/);
    await a.svc('undeleteProject', { poid: p.oid });
    assert.equal((await a.svc('getAllRevisionsOfProject', { poid: p.oid })).length, 0);
  });
});
