// Downloads (spec §1.4, §4.4 "Revisions, downloads, long actions", §7.4, §7.5, §10 #14 #26):
// download/checkout, getDownloadData, /download with zip=on and gzip, cleanup, other users.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import {
  api, fetchBytes, loginToken, pluginOids, readZip, sha256, sharedIfcFiles, waitProgress,
} from './lib/checkin.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const f = sharedIfcFiles().find((x) => x.name === 'tested_sample_project.ifc');
const DATA = fs.readFileSync(f.path);

describe('downloads', () => {
  let srv;
  let a;
  let o; // a second user, no rights on the project
  let oids;
  let roid;
  let ser;

  before(async () => {
    srv = await startServer();
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    oids = await pluginOids(a);
    ser = oids.ser['Ifc (Streaming)'];
    const p = await a.svc('addProject', { projectName: 'dl', schema: 'ifc2x3tc1' });
    const st = await a.svc('checkinSync', {
      poid: p.oid, comment: 'c', deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'], fileSize: DATA.length,
      fileName: f.name, data: DATA.toString('base64'), merge: false,
    });
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    roid = st.roid;
    await a.svc('addUserWithPassword', {
      username: 'dl-other@bimhub.test', password: 'dl-other-secret-1', name: 'O', type: 'USER',
      selfRegistration: false, resetUrl: '',
    });
    o = api(srv.url, await loginToken(srv.url, 'dl-other@bimhub.test', 'dl-other-secret-1'));
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  const prepare = async (method = 'download', serializerOid = ser) => {
    const topicId = method === 'download'
      ? await a.svc('download', { roids: [roid], query: '{"includeAllFields":true}', serializerOid, sync: false })
      : await a.svc('checkout', { roid, serializerOid, sync: false });
    const st = await a.progress(topicId);
    assert.equal(st.title, 'Done preparing', JSON.stringify(st));
    return topicId;
  };

  test('download → "Done preparing"; GET /download gives the bytes; then FINISHED "Done"', async () => {
    const t = await prepare();
    const res = await fetchBytes(`${srv.url}/download?token=${a.token}&topicId=${t}`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /application\/ifc/);
    assert.equal(sha256(res.body), sha256(DATA));
    const st = await waitProgress(a, t, { timeoutMs: 5000 });
    assert.equal(st.state, 'FINISHED');
    assert.equal(st.title, 'Done');
    // the topic is not cleaned up by the download: a second fetch works too
    const again = await fetchBytes(`${srv.url}/download?token=${a.token}&topicId=${t}`, { method: 'POST' });
    assert.equal(again.status, 200);
    assert.equal(sha256(again.body), sha256(DATA));
  });

  test('checkout + getDownloadData: SCheckoutResult with the file in Base64', async () => {
    const t = await prepare('checkout');
    const r = await a.svc('getDownloadData', { topicId: t });
    assert.ok(['SCheckoutResult', 'SDownloadResult'].includes(r.__type), JSON.stringify(r).slice(0, 200));
    assert.equal(sha256(Buffer.from(r.file, 'base64')), sha256(DATA));
    assert.equal(r.serializerOid, ser);
    assert.equal(r.projectName, 'dl');
    assert.equal(r.revisionNr, 1);
  });

  test('zip=on: a zip with one .ifc entry equal to the model', async () => {
    const t = await prepare();
    const res = await fetchBytes(`${srv.url}/download?token=${a.token}&zip=on&topicId=${t}`, {
      headers: { 'Accept-Encoding': 'gzip' },
    });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /application\/zip/);
    assert.equal(res.headers['content-encoding'], undefined, 'zip=on is not gzipped');
    const entries = await readZip(res.body);
    assert.equal(entries.length, 1);
    assert.match(entries[0].name, /\.ifc$/);
    assert.equal(sha256(entries[0].data), sha256(DATA));
  });

  test('Accept-Encoding: gzip → Content-Encoding: gzip of the same bytes', async () => {
    const t = await prepare();
    const res = await fetchBytes(`${srv.url}/download?token=${a.token}&topicId=${t}`, {
      headers: { 'Accept-Encoding': 'deflate, gzip' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.ok(res.body.length < DATA.length);
    assert.equal(sha256(zlib.gunzipSync(res.body)), sha256(DATA));
  });

  test('schema serializer and IfcZip serializer', async () => {
    const t = await prepare('download', oids.ser['Ifc2x3tc1 (Streaming)']);
    const res = await fetchBytes(`${srv.url}/download?token=${a.token}&topicId=${t}`);
    assert.equal(sha256(res.body), sha256(DATA));
    const tz = await prepare('download', oids.ser.IfcZip);
    const rz = await fetchBytes(`${srv.url}/download?token=${a.token}&topicId=${tz}`);
    assert.match(String(rz.headers['content-disposition']), /\.ifczip"/);
    const entries = await readZip(rz.body);
    assert.equal(sha256(entries[0].data), sha256(DATA));
  });

  test('an IFC4 serializer on an IFC2X3 revision is refused', async () => {
    const r = await a.raw('ServiceInterface', 'download', {
      roids: [roid], query: '{}', serializerOid: oids.ser['Ifc4 (Streaming)'], sync: false,
    });
    let failed = !!r.response.exception;
    if (!failed) failed = (await a.progress(r.response.result)).state === 'AS_ERROR';
    assert.ok(failed, JSON.stringify(r));
  });

  test('/download errors: 4xx text/plain (no token, bad token, unknown topic, no topicId)', async () => {
    const t = await prepare();
    for (const q of [`topicId=${t}`, `token=bogus&topicId=${t}`, `token=${a.token}&topicId=99999999`,
      `token=${a.token}`]) {
      const res = await fetchBytes(`${srv.url}/download?${q}`);
      assert.ok(res.status >= 400 && res.status < 500, `${q}: status ${res.status}`);
      assert.match(String(res.headers['content-type']), /^text\/plain/, q);
      assert.ok(res.body.length > 0 && res.body.length < 500, `${q}: short text`);
    }
  });

  test("another user's topic: /download 403/404 and getDownloadData \"No data found\"", async () => {
    const t = await prepare();
    const res = await fetchBytes(`${srv.url}/download?token=${o.token}&topicId=${t}`);
    assert.ok([403, 404].includes(res.status), `status ${res.status}: ${res.body.toString().slice(0, 100)}`);
    assert.ok(!res.body.includes(DATA.subarray(0, 100)), 'no model bytes');
    const exc = await o.svcErr('getDownloadData', { topicId: t });
    assert.match(exc.message, /No data found/);
    // nor can the other user start a download of the revision
    const r = await o.raw('ServiceInterface', 'download', { roids: [roid], query: '{}', serializerOid: (await pluginOids(o)).ser['Ifc (Streaming)'], sync: false });
    assert.ok(r.response.exception, `download of a revision without rights: ${JSON.stringify(r)}`);
  });

  test('cleanupLongAction removes the topic; terminateLongRunningAction of unknown id fails', async () => {
    const t = await prepare();
    assert.deepEqual(await a.svc('cleanupLongAction', { topicId: t }), {});
    await a.err('NotificationRegistryInterface', 'getProgress', { topicId: t });
    const exc = await a.svcErr('getDownloadData', { topicId: t });
    assert.match(exc.message, new RegExp(`No data found for topicId ${t}`));
    const res = await fetchBytes(`${srv.url}/download?token=${a.token}&topicId=${t}`);
    assert.ok(res.status >= 400 && res.status < 500);
    assert.deepEqual(await a.svc('cleanupLongAction', { topicId: 123456789 }), {}, 'unknown id: silently ignored');
    const t2 = await prepare();
    assert.deepEqual(await a.svc('terminateLongRunningAction', { topicId: t2 }), {});
    const e2 = await a.svcErr('terminateLongRunningAction', { topicId: 123456789 });
    assert.match(e2.message, /No data found for topicId 123456789/);
  });
});
