// Check-in as BIMserver's JS client does it (spec §1.3, §4.4 "Check-in", §7.3, §9), then
// download through the client's own call and /download, for every shared IFC file; the JSON
// check-in methods (checkinSync/Async, checkinInitiated*, checkinFromUrl*) and the revision
// methods.
//
// xhr2 (the Node XMLHttpRequest used for bimserverapi) cannot send a FormData; lib/checkin.mjs
// wraps it so that send(FormData) puts Node's own multipart encoding on the wire. The
// client's checkin() code itself (field order, reading `checkinid`) runs unchanged.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { call, closeClient, loggedInClient } from './lib/client.mjs';
import {
  api, DESERIALIZER_FOR, fetchBytes, installFormDataXhr, loginToken, pluginOids, sha256,
  sharedIfcFiles, waitProgress,
} from './lib/checkin.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

installFormDataXhr();

const files = sharedIfcFiles();
const small = files.find((f) => f.name === 'Sample_entities.ifc');
const tiny4 = files.find((f) => f.name === 'slab-standard-case.ifc');

/** client.checkin() as a promise: resolves the topic id the client read from the answer. */
function clientCheckin(c, topicId, project, comment, file, deserializerOid)
{
  const progress = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('client.checkin: no answer in 60 s')), 60000);
    try {
      c.checkin(topicId, project, comment, file, deserializerOid, (p) => progress.push(p),
        (id) => { clearTimeout(timer); resolve({ id, progress }); },
        (exc) => { clearTimeout(timer); reject(Object.assign(new Error('checkin error'), { exception: exc })); });
    } catch (e) {
      clearTimeout(timer);
      reject(e);
    }
  });
}

describe('check-in through bimserverapi, every shared IFC file', () => {
  let srv;
  let c;
  let token;
  let a;
  let oids;

  before(async () => {
    srv = await startServer();
    ({ client: c, token } = await loggedInClient(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    a = api(srv.url, token);
    oids = await pluginOids(a);
  });
  after(async () => {
    if (c) await closeClient(c);
    if (srv) await srv.stop();
  });

  for (const f of files) {
    test(`${f.name} (${f.schema}, ${f.size} bytes): client.checkin, getRevision, download, same SHA-256`, async () => {
      const data = fs.readFileSync(f.path);
      const project = await call(c, 'ServiceInterface', 'addProject',
        { projectName: `p-${f.name}`, schema: f.schema });
      assert.equal(project.schema, f.schema);

      const des = await call(c, 'ServiceInterface', 'getSuggestedDeserializerForExtension',
        { extension: 'ifc', poid: project.oid });
      assert.equal(des.__type, 'SDeserializerPluginConfiguration');
      assert.equal(des.name, DESERIALIZER_FOR[f.schema], 'streaming deserializer of the project schema');
      assert.equal(des.oid, oids.des[DESERIALIZER_FOR[f.schema]]);

      const topicId = await call(c, 'ServiceInterface', 'initiateCheckin',
        { poid: project.oid, deserializerOid: des.oid });
      assert.equal(typeof topicId, 'number');
      assert.ok(topicId > 0);
      assert.deepEqual(await a.progress(topicId), {}, 'getProgress right after initiateCheckin is {}');
      const locked = await call(c, 'ServiceInterface', 'getProjectByPoid', { poid: project.oid });
      assert.equal(locked.checkinInProgress, topicId, 'project marked check-in in progress');

      const file = new File([data], f.name, { type: 'application/octet-stream' });
      const t0 = Date.now();
      const { id } = await clientCheckin(c, topicId, project, `comment ${f.name}`, file, des.oid);
      assert.equal(id, topicId, 'the client reads checkinid = the initiated topic');

      const st = await waitProgress(a, topicId, { timeoutMs: 120000 });
      assert.equal(st.__type, 'SLongCheckinActionState');
      assert.equal(st.state, 'FINISHED', `final state: ${JSON.stringify(st)}`);
      assert.equal(st.title, `Checkin of ${f.name}`);
      assert.equal(st.progress, 100);
      assert.equal(st.topicId, topicId);
      assert.deepEqual(st.errors, []);
      assert.equal(st.deserializeErrorCode, 0);
      assert.ok(st.roid > 0, 'roid of the new revision');
      assert.ok(st.end >= st.start && st.start >= t0 - 5000, `start ${st.start} end ${st.end}`);

      const rev = await call(c, 'ServiceInterface', 'getRevision', { roid: st.roid });
      assert.equal(rev.__type, 'SRevision');
      assert.equal(rev.oid, st.roid);
      assert.equal(rev.id, 1);
      assert.equal(rev.comment, `comment ${f.name}`);
      assert.equal(rev.projectId, project.oid);
      assert.equal(rev.userId, c.user.oid);
      assert.ok(Math.abs(rev.date - Date.now()) < 10 * 60 * 1000, `date ${rev.date}`);
      const records = (data.toString('latin1').match(/^\s*#\d+\s*=/gm) || []).length;
      assert.equal(rev.size, records, 'size = number of DATA records (object count)');

      const after1 = await call(c, 'ServiceInterface', 'getProjectByPoid', { poid: project.oid });
      assert.equal(after1.lastRevisionId, st.roid);
      assert.deepEqual(after1.revisions, [st.roid]);
      assert.equal(after1.checkinInProgress, 0, 'lock released');

      // Download as the client would: ServiceInterface.download, then /download
      const serializerOid = oids.ser['Ifc (Streaming)'];
      const dl = await call(c, 'ServiceInterface', 'download',
        { roids: [st.roid], query: '{"includeAllFields":true}', serializerOid, sync: false });
      assert.equal(typeof dl, 'number');
      const prep = await a.progress(dl);
      assert.equal(prep.title, 'Done preparing', JSON.stringify(prep));
      assert.equal(prep.state, 'STARTED');
      const res = await fetchBytes(c.generateRevisionDownloadUrl({ topicId: dl }),
        { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'null' });
      assert.equal(res.status, 200, res.body.toString().slice(0, 300));
      assert.match(String(res.headers['content-type']), /^application\/ifc/);
      assert.match(String(res.headers['content-disposition']), /filename="[^"]*\.ifc"/);
      assert.equal(res.body.length, data.length);
      assert.equal(sha256(res.body), sha256(data), 'downloaded bytes = checked-in bytes');
      const done = await waitProgress(a, dl, { timeoutMs: 10000 });
      assert.equal(done.state, 'FINISHED');
      assert.equal(done.title, 'Done');
      assert.equal(done.progress, 100);
      await call(c, 'ServiceInterface', 'cleanupLongAction', { topicId: dl });
    });
  }
});

describe('check-in over /json (checkinSync, checkinAsync, checkinInitiated*, checkinFromUrl*)', () => {
  let srv;
  let a;
  let oids;
  let fileServer;
  let fileUrl;
  const data = fs.readFileSync(small.path);
  const b64 = data.toString('base64');

  before(async () => {
    srv = await startServer();
    const { rpc } = await import('./lib/client.mjs');
    const tok = (await rpc(srv.url, 'AuthInterface', 'login',
      { username: ADMIN_USER, password: ADMIN_PASSWORD })).response.result;
    a = api(srv.url, tok);
    oids = await pluginOids(a);
    fileServer = http.createServer((req, res) => {
      if (req.url === '/model.ifc') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.end(data);
      } else if (req.url === '/garbage.ifc') {
        res.writeHead(200);
        res.end('this is not an IFC file\n');
      } else {
        res.writeHead(404);
        res.end('nope');
      }
    });
    await new Promise((r) => fileServer.listen(0, '127.0.0.1', r));
    fileUrl = `http://127.0.0.1:${fileServer.address().port}`;
  });
  after(async () => {
    if (fileServer) await new Promise((r) => fileServer.close(r));
    if (srv) await srv.stop();
  });

  const newProject = (name, schema = 'ifc2x3tc1') => a.svc('addProject', { projectName: name, schema });

  test('checkinSync with Base64 returns the FINISHED state and removes the topic', async () => {
    const p = await newProject('sync');
    const st = await a.svc('checkinSync', {
      poid: p.oid, comment: 'sync check-in', deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'],
      fileSize: data.length, fileName: 'Sample_entities.ifc', data: b64, merge: false,
    });
    assert.equal(st.__type, 'SLongCheckinActionState');
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    assert.equal(st.title, 'Checkin of Sample_entities.ifc');
    assert.equal(st.progress, 100);
    assert.ok(st.roid > 0);
    const exc = await a.err('NotificationRegistryInterface', 'getProgress', { topicId: st.topicId });
    assert.match(exc.message, /topic/i, 'a sync check-in removes its topic');
    const rev = await a.svc('getRevision', { roid: st.roid });
    assert.equal(rev.comment, 'sync check-in');
    assert.equal(rev.id, 1);
    // a second revision gets id 2
    const st2 = await a.svc('checkinSync', {
      poid: p.oid, comment: 'second', deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'],
      fileSize: -1, fileName: 'again.ifc', data: b64, merge: false,
    });
    assert.equal(st2.state, 'FINISHED', JSON.stringify(st2));
    const rev2 = await a.svc('getRevision', { roid: st2.roid });
    assert.equal(rev2.id, 2);
    const all = await a.svc('getAllRevisionsOfProject', { poid: p.oid });
    assert.deepEqual(all.map((r) => r.oid).sort(), [st.roid, st2.roid].sort());
    const proj = await a.svc('getProjectByPoid', { poid: p.oid });
    assert.equal(proj.lastRevisionId, st2.roid);
  });

  test('checkinAsync returns a topic that ends FINISHED with a roid', async () => {
    const p = await newProject('async');
    const topicId = await a.svc('checkinAsync', {
      poid: p.oid, comment: 'async', deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'],
      fileSize: data.length, fileName: 'a.ifc', data: b64, merge: false,
    });
    assert.equal(typeof topicId, 'number');
    const st = await waitProgress(a, topicId);
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    assert.equal(st.title, 'Checkin of a.ifc');
    assert.ok(st.roid > 0);
    const rev = await a.svc('getRevision', { roid: st.roid });
    assert.equal(rev.comment, 'async');
    await a.svc('cleanupLongAction', { topicId });
  });

  test('checkinInitiatedSync and checkinInitiatedAsync run on the initiated topic', async () => {
    const p = await newProject('initiated');
    const des = oids.des['Ifc2x3tc1 (Streaming)'];
    const t1 = await a.svc('initiateCheckin', { poid: p.oid, deserializerOid: des });
    const st = await a.svc('checkinInitiatedSync', {
      topicId: t1, poid: p.oid, comment: 'is', deserializerOid: des, fileSize: data.length,
      fileName: 'is.ifc', data: b64, merge: false,
    });
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    assert.equal(st.topicId, t1);
    const t2 = await a.svc('initiateCheckin', { poid: p.oid, deserializerOid: des });
    assert.notEqual(t2, t1);
    const r = await a.svc('checkinInitiatedAsync', {
      topicId: t2, poid: p.oid, comment: 'ia', deserializerOid: des, fileSize: -1,
      fileName: 'ia.ifc', data: b64, merge: false,
    });
    assert.equal(r, t2, 'checkinInitiatedAsync returns the topicId');
    const st2 = await waitProgress(a, t2);
    assert.equal(st2.state, 'FINISHED', JSON.stringify(st2));
    assert.equal(st2.title, 'Checkin of ia.ifc');
    const revs = await a.svc('getAllRevisionsOfProject', { poid: p.oid });
    assert.equal(revs.length, 2);
  });

  test('a second initiateCheckin while one is initiated: "Checkin in progress..."', async () => {
    const p = await newProject('locked');
    const des = oids.des['Ifc2x3tc1 (Streaming)'];
    const t1 = await a.svc('initiateCheckin', { poid: p.oid, deserializerOid: des });
    const exc = await a.svcErr('initiateCheckin', { poid: p.oid, deserializerOid: des });
    assert.equal(exc.message,
      `Checkin in progress on this project (topicId: ${t1}), please try again later`);
    const exc2 = await a.svcErr('checkinSync', {
      poid: p.oid, comment: 'x', deserializerOid: des, fileSize: -1, fileName: 'x.ifc', data: b64, merge: false,
    });
    assert.match(exc2.message, /Checkin in progress on this project/);
    // cleaning up the initiated topic frees the project
    await a.svc('cleanupLongAction', { topicId: t1 });
    const st = await a.svc('checkinSync', {
      poid: p.oid, comment: 'x', deserializerOid: des, fileSize: -1, fileName: 'x.ifc', data: b64, merge: false,
    });
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
  });

  test('checkinSync of a non-IFC body: AS_ERROR, no revision, project free again', async () => {
    const p = await newProject('bad-json');
    const des = oids.des['Ifc2x3tc1 (Streaming)'];
    let st;
    const r = await a.raw('ServiceInterface', 'checkinSync', {
      poid: p.oid, comment: 'bad', deserializerOid: des, fileSize: -1, fileName: 'bad.ifc',
      data: Buffer.from('hello world, not STEP\n').toString('base64'), merge: false,
    });
    if (r.response.exception) {
      st = null;
      assert.ok(r.response.exception.message.length > 0);
    } else {
      st = r.response.result;
      assert.equal(st.state, 'AS_ERROR', JSON.stringify(st));
      assert.ok(st.errors.length > 0);
      assert.equal(st.title, st.errors[0]);
      assert.notEqual(st.deserializeErrorCode, 0, 'an IFC syntax error sets deserializeErrorCode');
    }
    assert.deepEqual(await a.svc('getAllRevisionsOfProject', { poid: p.oid }), []);
    const proj = await a.svc('getProjectByPoid', { poid: p.oid });
    assert.equal(proj.checkinInProgress, 0);
    assert.equal(proj.lastRevisionId, -1);
  });

  test('checkinFromUrlSync fetches the file over http; checkinFromUrlAsync too', async () => {
    const p = await newProject('fromurl');
    const des = oids.des['Ifc2x3tc1 (Streaming)'];
    const st = await a.svc('checkinFromUrlSync', {
      poid: p.oid, comment: 'from url', deserializerOid: des, fileName: 'remote.ifc',
      url: `${fileUrl}/model.ifc`, merge: false,
    });
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    assert.equal(st.title, 'Checkin of remote.ifc');
    const rev = await a.svc('getRevision', { roid: st.roid });
    assert.equal(rev.comment, 'from url');

    const topicId = await a.svc('checkinFromUrlAsync', {
      poid: p.oid, comment: 'from url async', deserializerOid: des, fileName: 'remote2.ifc',
      url: `${fileUrl}/model.ifc`, merge: false,
    });
    const st2 = await waitProgress(a, topicId);
    assert.equal(st2.state, 'FINISHED', JSON.stringify(st2));
    // the downloaded revision is the same file
    const dl = await a.svc('download', { roids: [st2.roid], query: '{}', serializerOid: oids.ser['Ifc (Streaming)'], sync: true });
    const res = await fetchBytes(`${srv.url}/download?token=${a.token}&topicId=${dl}`);
    assert.equal(res.status, 200);
    assert.equal(sha256(res.body), sha256(data));
  });

  /** a.raw with a deadline: resolves 'NO ANSWER' when the server does not answer in ms. */
  const rawWithin = (ms, method, params) => Promise.race([
    a.raw('ServiceInterface', method, params),
    new Promise((r) => setTimeout(() => r('NO ANSWER'), ms)),
  ]);

  test('checkinFromUrl: file:// and ftp:// are refused at once, no lock left', async () => {
    const p = await newProject('fromurl-scheme');
    const des = oids.des['Ifc2x3tc1 (Streaming)'];
    for (const url of ['file:///etc/passwd', 'ftp://127.0.0.1/x.ifc']) {
      const r = await rawWithin(10000, 'checkinFromUrlSync', {
        poid: p.oid, comment: 'x', deserializerOid: des, fileName: 'x.ifc', url, merge: false,
      });
      assert.notEqual(r, 'NO ANSWER', `${url}: no answer within 10 s`);
      assert.match(r.response.exception?.message ?? '', /http/i, `${url}: ${JSON.stringify(r)}`);
      const proj = await a.svc('getProjectByPoid', { poid: p.oid });
      assert.equal(proj.checkinInProgress, 0, `${url}: lock released`);
    }
    assert.deepEqual(await a.svc('getAllRevisionsOfProject', { poid: p.oid }), []);
  });

  for (const [what, path] of [['an HTTP 404', '/missing.ifc'], ['a refused connection', null]]) {
    test(`checkinFromUrlAsync of ${what}: AS_ERROR with the one outbound error, lock released`, async () => {
      const p = await newProject(`fromurl-async-${what}`);
      const url = path ? `${fileUrl}${path}` : 'http://127.0.0.1:1/x.ifc';
      const topicId = await a.svc('checkinFromUrlAsync', {
        poid: p.oid, comment: 'x', deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'],
        fileName: 'x.ifc', url, merge: false,
      });
      const st = await waitProgress(a, topicId, { timeoutMs: 15000 });
      assert.equal(st.state, 'AS_ERROR', JSON.stringify(st));
      assert.equal(st.title, st.errors[0]);
      // the same words for a 404 and a refused connection: no port-state oracle (outbound.test.mjs)
      assert.equal(st.title, 'Cannot fetch the URL: it is not reachable or not allowed', JSON.stringify(st));
      assert.equal((await a.svc('getProjectByPoid', { poid: p.oid })).checkinInProgress, 0);
      assert.deepEqual(await a.svc('getAllRevisionsOfProject', { poid: p.oid }), []);
    });

  }

  test('getRevision of an unknown roid is an exception', async () => {
    const exc = await a.svcErr('getRevision', { roid: 987654321 });
    assert.match(exc.message, /Revision does not exist|not/i);
  });

  test('setRevisionTag, updateRevision, getRevisionSummary, getIfcHeader', async () => {
    const p = await newProject('rev-methods');
    const st = await a.svc('checkinSync', {
      poid: p.oid, comment: 'orig', deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'],
      fileSize: -1, fileName: 'r.ifc', data: b64, merge: false,
    });
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    const roid = st.roid;
    assert.deepEqual(await a.svc('setRevisionTag', { roid, tag: 'v1.0' }), {});
    let rev = await a.svc('getRevision', { roid });
    assert.equal(rev.tag, 'v1.0');
    rev.comment = 'changed comment';
    await a.svc('updateRevision', { sRevision: rev });
    rev = await a.svc('getRevision', { roid });
    assert.equal(rev.comment, 'changed comment');
    assert.equal(rev.tag, 'v1.0');
    assert.equal(rev.id, 1, 'updateRevision keeps the id');

    const sum = await a.svc('getRevisionSummary', { roid });
    assert.equal(sum.__type, 'SRevisionSummary', JSON.stringify(sum).slice(0, 300));

    const hdr = await a.svc('getIfcHeader', { croid: roid });
    assert.equal(hdr.__type, 'SIfcHeader', JSON.stringify(hdr).slice(0, 300));
    const text = data.toString('latin1');
    const fileName = /FILE_NAME\s*\(\s*'([^']*)'/.exec(text)[1];
    assert.equal(hdr.filename, fileName);
    assert.equal(hdr.ifcSchemaVersion, 'IFC2X3');
  });

  test('determineIfcVersion reads the header', async () => {
    const head2 = fs.readFileSync(small.path).subarray(0, 4096).toString('base64');
    assert.equal(await a.svc('determineIfcVersion', { head: head2, zipped: false }), 'IFC2X3TC1');
    const head4 = fs.readFileSync(tiny4.path).subarray(0, 2048).toString('base64');
    assert.equal(await a.svc('determineIfcVersion', { head: head4, zipped: false }), 'IFC4');
  });

  test('a user without rights on the project cannot check in or read the revision', async () => {
    const p = await newProject('no-rights');
    const st = await a.svc('checkinSync', {
      poid: p.oid, comment: 'x', deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'],
      fileSize: -1, fileName: 'x.ifc', data: b64, merge: false,
    });
    await a.svc('addUserWithPassword', {
      username: 'other@bimhub.test', password: 'other-secret-1', name: 'Other', type: 'USER',
      selfRegistration: false, resetUrl: '',
    });
    const { rpc } = await import('./lib/client.mjs');
    const tok = (await rpc(srv.url, 'AuthInterface', 'login',
      { username: 'other@bimhub.test', password: 'other-secret-1' })).response.result;
    const o = api(srv.url, tok);
    const ooids = await pluginOids(o);
    const des = ooids.des['Ifc2x3tc1 (Streaming)'];
    await o.svcErr('initiateCheckin', { poid: p.oid, deserializerOid: des });
    await o.svcErr('checkinSync', {
      poid: p.oid, comment: 'x', deserializerOid: des, fileSize: -1, fileName: 'x.ifc', data: b64, merge: false,
    });
    await o.svcErr('getRevision', { roid: st.roid });
    await o.svcErr('getAllRevisionsOfProject', { poid: p.oid });
    assert.equal((await a.svc('getAllRevisionsOfProject', { poid: p.oid })).length, 1);
    const proj = await a.svc('getProjectByPoid', { poid: p.oid });
    assert.equal(proj.checkinInProgress, 0, 'refused calls leave no lock (spec §10 #18)');
  });
});

// Its own server, killed at the end: a checkinFromUrlSync that does not answer holds an HTTP
// thread (two of them block every HTTP thread) and keeps SIGTERM from ending the server.
describe('checkinFromUrlSync of a failing URL', () => {
  let srv;
  let a;
  let fileServer;
  let fileUrl;
  before(async () => {
    srv = await startServer();
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    fileServer = http.createServer((req, res) => { res.writeHead(404); res.end('nope'); });
    await new Promise((r) => fileServer.listen(0, '127.0.0.1', r));
    fileUrl = `http://127.0.0.1:${fileServer.address().port}`;
  });
  after(async () => {
    if (fileServer) fileServer.closeAllConnections?.();
    if (fileServer) await new Promise((r) => fileServer.close(r));
    if (srv) await srv.kill9();
  });

  for (const [what, path] of [['an HTTP 404', '/missing.ifc'], ['a refused connection', null]]) {
    test(`checkinFromUrlSync of ${what} answers (AS_ERROR or exception) within 10 s`, async () => {
      const des = (await pluginOids(a)).des['Ifc2x3tc1 (Streaming)'];
      const p = await a.svc('addProject', { projectName: `fromurl-sync-${what}`, schema: 'ifc2x3tc1' });
      const url = path ? `${fileUrl}${path}` : 'http://127.0.0.1:1/x.ifc';
      const r = await Promise.race([
        a.raw('ServiceInterface', 'checkinFromUrlSync', {
          poid: p.oid, comment: 'x', deserializerOid: des, fileName: 'x.ifc', url, merge: false,
        }),
        new Promise((res) => setTimeout(() => res('NO ANSWER'), 10000)),
      ]);
      assert.notEqual(r, 'NO ANSWER', `${url}: checkinFromUrlSync did not answer within 10 s`);
      const st = r.response.result;
      assert.ok(r.response.exception || st.state === 'AS_ERROR', JSON.stringify(r));
      assert.equal((await a.svc('getProjectByPoid', { poid: p.oid })).checkinInProgress, 0);
    });
  }
});
