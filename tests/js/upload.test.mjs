// Raw POST /upload (spec §1.3, §7.3, §10 #10 #11): the JS and Java clients' forms, compression,
// sync, action=file, and every way a check-in can fail; plus --max-upload-bytes (limits).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import {
  api, checkinParts, fetchBytes, listFiles, loginToken, makeZip, pluginOids, postUpload, readZip,
  sha256, sharedIfcFiles, waitProgress,
} from './lib/checkin.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const files = sharedIfcFiles();
const byName = Object.fromEntries(files.map((f) => [f.name, f]));
const SMALL = fs.readFileSync(byName['Sample_entities.ifc'].path);
const IFC4 = fs.readFileSync(byName['slab-standard-case.ifc'].path);
const MEDIUM = fs.readFileSync(byName['tested_sample_project.ifc'].path); // 710 KB

describe('POST /upload', () => {
  let srv;
  let a;
  let oids;
  let des2x3;
  let n = 0;
  const newProject = (schema = 'ifc2x3tc1') =>
    a.svc('addProject', { projectName: `up-${++n}`, schema });

  /** The server still answers /json and a check-in still works. */
  const stillServing = async () => {
    const p = await newProject();
    const r = await postUpload(srv.url, checkinParts({
      token: a.token, deserializerOid: des2x3, poid: p.oid, data: SMALL,
      extra: [{ name: 'sync', value: 'true' }],
    }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json && r.json.state, 'FINISHED', `server still serving check-ins: ${r.text}`);
  };

  /** The project has no revision and no lock. */
  const untouched = async (poid) => {
    assert.deepEqual(await a.svc('getAllRevisionsOfProject', { poid }), [], 'no revision created');
    const p = await a.svc('getProjectByPoid', { poid });
    assert.equal(p.lastRevisionId, -1);
    assert.equal(p.checkinInProgress, 0, 'project lock released');
  };

  /** Async upload of data; returns the final topic state. */
  const uploadAndWait = async (poid, data, { fileName = 'm.ifc', deserializerOid = des2x3, extra = [] } = {}) => {
    const r = await postUpload(srv.url, checkinParts({ token: a.token, deserializerOid, poid, data, fileName, extra }));
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json, `JSON answer: ${r.text}`);
    if (r.json.exception) return { exception: r.json.exception };
    assert.equal(typeof r.json.topicId, 'number', r.text);
    return waitProgress(a, r.json.topicId);
  };

  before(async () => {
    srv = await startServer();
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    oids = await pluginOids(a);
    des2x3 = oids.des['Ifc2x3tc1 (Streaming)'];
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('JS order, async: {"topicId":T,"checkinid":T}, text/json, FINISHED with roid', async () => {
    const p = await newProject();
    const r = await postUpload(srv.url, checkinParts({
      token: a.token, deserializerOid: des2x3, comment: 'js order', poid: p.oid, data: SMALL,
      fileName: 'Sample_entities.ifc',
    }));
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/json/);
    assert.equal(typeof r.json.topicId, 'number', r.text);
    assert.equal(r.json.checkinid, r.json.topicId, 'both keys (spec §10 #10)');
    const st = await waitProgress(a, r.json.topicId);
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    assert.equal(st.title, 'Checkin of Sample_entities.ifc');
    const rev = await a.svc('getRevision', { roid: st.roid });
    assert.equal(rev.comment, 'js order');
  });

  test('with the topicId of initiateCheckin: answers that same topic', async () => {
    const p = await newProject();
    const topicId = await a.svc('initiateCheckin', { poid: p.oid, deserializerOid: des2x3 });
    const r = await postUpload(srv.url, checkinParts({
      token: a.token, deserializerOid: des2x3, poid: p.oid, topicId, data: SMALL,
    }));
    assert.equal(r.json.topicId, topicId, r.text);
    assert.equal(r.json.checkinid, topicId);
    const st = await waitProgress(a, topicId);
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
  });

  test('Java form: part named "data", sync=true → the final SLongCheckinActionState', async () => {
    const p = await newProject();
    const r = await postUpload(srv.url, checkinParts({
      token: a.token, deserializerOid: des2x3, comment: 'java', poid: p.oid, data: SMALL,
      fileName: 'java.ifc', fileField: 'data',
      extra: [{ name: 'sync', value: 'true' }, { name: 'merge', value: 'false' }],
    }));
    assert.equal(r.status, 200);
    assert.equal(r.json.__type, 'SLongCheckinActionState', r.text);
    assert.equal(r.json.state, 'FINISHED');
    assert.equal(r.json.title, 'Checkin of java.ifc');
    assert.equal(r.json.progress, 100);
    assert.ok(r.json.roid > 0);
    const gone = await a.err('NotificationRegistryInterface', 'getProgress', { topicId: r.json.topicId });
    assert.ok(gone.message, 'sync removes the topic');
    assert.equal((await a.svc('getRevision', { roid: r.json.roid })).comment, 'java');
  });

  for (const [kind, pack] of [['gzip', (b) => zlib.gzipSync(b)], ['deflate', (b) => zlib.deflateSync(b)]]) {
    test(`compression=${kind}: the stored model is the uncompressed file`, async () => {
      const p = await newProject();
      const r = await postUpload(srv.url, checkinParts({
        token: a.token, deserializerOid: des2x3, poid: p.oid, data: pack(MEDIUM),
        fileName: 'tested_sample_project.ifc',
        extra: [{ name: 'sync', value: 'true' }, { name: 'compression', value: kind }],
      }));
      assert.equal(r.json && r.json.state, 'FINISHED', r.text);
      const dl = await a.svc('download', { roids: [r.json.roid], query: '{}', serializerOid: oids.ser['Ifc (Streaming)'], sync: true });
      const got = await fetchBytes(`${srv.url}/download?token=${a.token}&topicId=${dl}`);
      assert.equal(got.status, 200);
      assert.equal(sha256(got.body), sha256(MEDIUM));
    });
  }

  test('compression=gzip with a body that is not gzip: AS_ERROR, no revision', async () => {
    const p = await newProject();
    const st = await uploadAndWait(p.oid, SMALL, { extra: [{ name: 'compression', value: 'gzip' }] });
    assert.ok(st.exception || st.state === 'AS_ERROR', JSON.stringify(st));
    await untouched(p.oid);
  });

  test('action=file → {"fileId":N}; getFile returns the bytes, no revision anywhere', async () => {
    const r = await postUpload(srv.url, [
      { name: 'action', value: 'file' }, { name: 'token', value: a.token },
      { name: 'file', filename: 'notes.txt', data: Buffer.from('hello file\n'), contentType: 'text/plain' },
    ]);
    assert.equal(r.status, 200);
    assert.equal(typeof r.json.fileId, 'number', r.text);
    const f = await a.svc('getFile', { fileId: r.json.fileId });
    assert.equal(f.__type, 'SFile');
    assert.equal(Buffer.from(f.data, 'base64').toString(), 'hello file\n');
    assert.equal(f.filename, 'notes.txt');
    assert.equal(f.size, 11);
  });

  test('no poid → {"exception":{"__type",...,"message":"No poid"}} (an object)', async () => {
    const r = await postUpload(srv.url, checkinParts({ token: a.token, deserializerOid: des2x3, data: SMALL }));
    assert.equal(r.status, 200);
    assert.equal(typeof r.json.exception, 'object', r.text);
    assert.equal(r.json.exception.message, 'No poid');
    assert.equal(typeof r.json.exception.__type, 'string');
    await stillServing();
  });

  test('poid only after the file part: "No poid" (the file acts with the fields before it), nothing checked in', async () => {
    const p = await newProject();
    const r = await postUpload(srv.url, [
      { name: 'token', value: a.token }, { name: 'deserializerOid', value: des2x3 },
      { name: 'file', filename: 'm.ifc', data: SMALL }, { name: 'poid', value: p.oid },
    ]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json && r.json.exception && r.json.exception.message, 'No poid', r.text);
    await untouched(p.oid);
    await stillServing();
  });

  test('no token: nothing done (exception or {}), no revision', async () => {
    const p = await newProject();
    const r = await postUpload(srv.url, checkinParts({ deserializerOid: des2x3, poid: p.oid, data: SMALL }));
    assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `status ${r.status}`);
    if (r.status === 200) assert.ok(r.json && (r.json.exception || Object.keys(r.json).length === 0), r.text);
    await untouched(p.oid);
    const bad = await postUpload(srv.url, checkinParts({ token: 'not-a-token', deserializerOid: des2x3, poid: p.oid, data: SMALL }));
    assert.ok(bad.json && bad.json.exception, `bad token: ${bad.text}`);
    await untouched(p.oid);
  });

  test('an empty file: AS_ERROR, no revision', async () => {
    const p = await newProject();
    const st = await uploadAndWait(p.oid, Buffer.alloc(0));
    assert.ok(st.exception || st.state === 'AS_ERROR', JSON.stringify(st));
    if (!st.exception) assert.ok(st.errors.length > 0 && st.title === st.errors[0]);
    await untouched(p.oid);
    await stillServing();
  });

  test('a non-IFC file: AS_ERROR with deserializeErrorCode, no revision', async () => {
    const p = await newProject();
    const st = await uploadAndWait(p.oid, Buffer.from('%PDF-1.4\nthis is not STEP\n'.repeat(50)));
    assert.equal(st.state, 'AS_ERROR', JSON.stringify(st));
    assert.notEqual(st.deserializeErrorCode, 0);
    assert.equal(st.progress, 0);
    await untouched(p.oid);
  });

  test('a truncated IFC file (cut in the middle of DATA): AS_ERROR, no revision', async () => {
    const p = await newProject();
    const text = MEDIUM.toString('latin1');
    const dataAt = text.indexOf('DATA;');
    const cut = MEDIUM.subarray(0, Math.floor((dataAt + MEDIUM.length) / 2) + 7);
    const st = await uploadAndWait(p.oid, cut);
    assert.equal(st.state, 'AS_ERROR', JSON.stringify(st));
    assert.notEqual(st.deserializeErrorCode, 0);
    await untouched(p.oid);
    await stillServing();
  });

  test('an IFC4 file into an ifc2x3tc1 project: AS_ERROR mentioning the schema', async () => {
    const p = await newProject('ifc2x3tc1');
    const st = await uploadAndWait(p.oid, IFC4, { fileName: 'slab.ifc' });
    assert.equal(st.state, 'AS_ERROR', JSON.stringify(st));
    assert.match(st.title, /schema|IFC4/i);
    await untouched(p.oid);
  });

  test('a corrupt ifczip: AS_ERROR, no revision', async () => {
    const p = await newProject();
    const zip = await makeZip([{ name: 'm.ifc', data: SMALL }]);
    const bad = Buffer.from(zip);
    for (let i = 40; i < 200; i++) bad[i] ^= 0x5a; // garble the compressed data
    const st = await uploadAndWait(p.oid, bad, { fileName: 'm.ifczip', deserializerOid: oids.des['IfcZip 2x3tc1'] });
    assert.ok(st.exception || st.state === 'AS_ERROR', JSON.stringify(st));
    await untouched(p.oid);
    const st2 = await uploadAndWait(p.oid, Buffer.from('PK\u0003\u0004 nonsense'), { fileName: 'n.ifczip', deserializerOid: oids.des['IfcZip 2x3tc1'] });
    assert.ok(st2.exception || st2.state === 'AS_ERROR', JSON.stringify(st2));
    await untouched(p.oid);
    await stillServing();
  });

  test('an ifczip made with zip(1): check-in works; IfcZip download holds the original', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bimhub-zip-'));
    try {
      fs.copyFileSync(byName['tested_sample_project.ifc'].path, path.join(dir, 'tested_sample_project.ifc'));
      execFileSync('zip', ['-q', '-9', 'model.ifczip', 'tested_sample_project.ifc'], { cwd: dir });
      const zip = fs.readFileSync(path.join(dir, 'model.ifczip'));
      const p = await newProject();
      const st = await uploadAndWait(p.oid, zip, { fileName: 'model.ifczip', deserializerOid: oids.des['IfcZip 2x3tc1'] });
      assert.equal(st.state, 'FINISHED', JSON.stringify(st));
      const dl = await a.svc('download', { roids: [st.roid], query: '{}', serializerOid: oids.ser.IfcZip, sync: true });
      const got = await fetchBytes(`${srv.url}/download?token=${a.token}&topicId=${dl}`);
      assert.equal(got.status, 200);
      assert.match(String(got.headers['content-type']), /application\/zip/);
      const entries = await readZip(got.body);
      assert.equal(entries.length, 1);
      assert.match(entries[0].name, /\.ifc$/);
      assert.equal(sha256(entries[0].data), sha256(MEDIUM));
      // the plain IFC serializer gives the IFC itself
      const dl2 = await a.svc('download', { roids: [st.roid], query: '{}', serializerOid: oids.ser['Ifc (Streaming)'], sync: true });
      const got2 = await fetchBytes(`${srv.url}/download?token=${a.token}&topicId=${dl2}`);
      assert.equal(sha256(got2.body), sha256(MEDIUM));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a second check-in while one is initiated: "Checkin in progress..."', async () => {
    const p = await newProject();
    const t1 = await a.svc('initiateCheckin', { poid: p.oid, deserializerOid: des2x3 });
    const r = await postUpload(srv.url, checkinParts({ token: a.token, deserializerOid: des2x3, poid: p.oid, data: SMALL }));
    const msg = r.json.exception ? r.json.exception.message
      : (await waitProgress(a, r.json.topicId)).title;
    assert.equal(msg, `Checkin in progress on this project (topicId: ${t1}), please try again later`, r.text);
    // the initiated one still works
    const r2 = await postUpload(srv.url, checkinParts({ token: a.token, deserializerOid: des2x3, poid: p.oid, topicId: t1, data: SMALL }));
    assert.equal((await waitProgress(a, r2.json.topicId)).state, 'FINISHED');
    assert.equal((await a.svc('getAllRevisionsOfProject', { poid: p.oid })).length, 1);
  });

  test('a user without rights on the project: error, no revision', async () => {
    const p = await newProject();
    await a.svc('addUserWithPassword', {
      username: 'norights@bimhub.test', password: 'norights-secret-1', name: 'N', type: 'USER',
      selfRegistration: false, resetUrl: '',
    });
    const o = api(srv.url, await loginToken(srv.url, 'norights@bimhub.test', 'norights-secret-1'));
    const od = (await pluginOids(o)).des['Ifc2x3tc1 (Streaming)'];
    const r = await postUpload(srv.url, checkinParts({ token: o.token, deserializerOid: od, poid: p.oid, data: SMALL }));
    assert.equal(r.status, 200);
    let failed = !!(r.json && r.json.exception);
    if (!failed && r.json && r.json.topicId) failed = (await waitProgress(o, r.json.topicId)).state === 'AS_ERROR';
    assert.ok(failed, `expected an error: ${r.text}`);
    await untouched(p.oid);
    await stillServing();
  });
});

describe('--max-upload-bytes 100000', () => {
  let srv;
  let a;
  before(async () => {
    srv = await startServer({ args: ['--max-upload-bytes', '100000'] });
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('a 700 KB upload: AS_ERROR with a clear message, no revision, tmp/ empty, blobs/ only completed files', async () => {
    const oids = await pluginOids(a);
    const p = await a.svc('addProject', { projectName: 'limit', schema: 'ifc2x3tc1' });
    const ok = await postUpload(srv.url, checkinParts({
      token: a.token, deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'], poid: p.oid, data: SMALL,
      extra: [{ name: 'sync', value: 'true' }],
    }));
    assert.equal(ok.json && ok.json.state, 'FINISHED', `28 KB fits: ${ok.text}`);
    const r = await postUpload(srv.url, checkinParts({
      token: a.token, deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'], poid: p.oid, data: MEDIUM,
    }));
    assert.equal(r.status, 200, r.text);
    let msg;
    if (r.json.exception) {
      msg = r.json.exception.message;
    } else {
      const st = await waitProgress(a, r.json.topicId);
      assert.equal(st.state, 'AS_ERROR', JSON.stringify(st));
      msg = st.title;
      assert.deepEqual(st.errors, [msg]);
    }
    assert.match(msg, /100000|limit|too large|larger/i, msg);
    const revs = await a.svc('getAllRevisionsOfProject', { poid: p.oid });
    assert.equal(revs.length, 1, 'only the small revision');
    assert.equal((await a.svc('getProjectByPoid', { poid: p.oid })).checkinInProgress, 0);
    assert.deepEqual(listFiles(path.join(srv.dataDir, 'tmp')), [], 'tmp/ is empty');
    const blobs = listFiles(path.join(srv.dataDir, 'blobs'));
    assert.deepEqual(blobs.map((b) => path.basename(b)), [sha256(SMALL)], 'blobs/ holds only the completed file');
    // gzip does not get around the limit (it applies after decompression)
    const gz = await postUpload(srv.url, checkinParts({
      token: a.token, deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'], poid: p.oid, data: zlib.gzipSync(MEDIUM),
      extra: [{ name: 'sync', value: 'true' }, { name: 'compression', value: 'gzip' }],
    }));
    assert.ok(gz.json.exception || gz.json.state === 'AS_ERROR', gz.text);
    assert.equal((await a.svc('getAllRevisionsOfProject', { poid: p.oid })).length, 1);
    assert.deepEqual(listFiles(path.join(srv.dataDir, 'tmp')), []);
  });
});
