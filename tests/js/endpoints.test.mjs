// Notification registry and server pushes over /stream (spec §4.6, §4.7, §6, §7), first as a
// user of bimserverapi 0.0.167 sees them (its register*/unregister* methods and positional
// handler arguments), then raw: endpoint ownership, rights filters, backpressure, pings and
// idle timeouts, limits.
//
// Note: bimserverapi's unregister(listener) never removes a handler (it treats the Set of
// listeners as an array), so a handler keeps being called for whatever the server still
// pushes; "unregister stops delivery" below therefore really tests the server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, loginToken, pluginOids } from './lib/checkin.mjs';
import { RawWs } from './lib/rawws.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';
import {
  assertPush, checkinB64, checkinSyncB64, handler, IFC_SMALL, jsRegister, jsUser, rawEndpoint,
  reg, regErr, sleep,
} from './lib/stream-client.mjs';
import fs from 'node:fs';

const DES = 'Ifc2x3tc1 (Streaming)';
const PLAIN = 'plain@bimhub.test';
const PLAIN_PW = 'plain-secret-1';
const OTHER = 'other@bimhub.test';
const OTHER_PW = 'other-secret-1';

/** Seqs of a connection's pushes must count 1, 2, 3 ... */
function assertSeqs(frames, what)
{
  const seqs = frames.filter((f) => f.request).map((f) => f.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), `${what}: push seqs ${JSON.stringify(seqs)}`);
}

describe('notifications through bimserverapi', () => {
  let srv;
  let admin; // jsUser
  let plain; // jsUser, no rights on the admin's projects
  let a; // api as admin
  let ap; // api as plain
  let des;
  let plainUoid;

  before(async () => {
    srv = await startServer();
    const tok = await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD);
    a = api(srv.url, tok);
    des = (await pluginOids(a)).des[DES];
    plainUoid = (await a.svc('addUserWithPassword', {
      username: PLAIN, password: PLAIN_PW, name: 'Plain', type: 'USER', selfRegistration: false,
      resetUrl: '',
    })).oid;
    admin = await jsUser(srv.url, ADMIN_USER, ADMIN_PASSWORD);
    plain = await jsUser(srv.url, PLAIN, PLAIN_PW);
    ap = api(srv.url, plain.token);
  });
  after(async () => {
    if (admin) await admin.close();
    if (plain) await plain.close();
    if (srv) await srv.stop();
  });

  test('endpoint ids: from 2, one per socket, bound to the socket\'s user', () => {
    assert.equal(admin.ep, 2);
    assert.equal(plain.ep, 3);
  });

  test('newProject: admins hear every project, a user only those they may read; unregister stops it', async () => {
    const ha = handler('admin newProject');
    const hp = handler('plain newProject');
    await jsRegister(admin.client, 'registerNewProjectHandler', ha.fn);
    await jsRegister(plain.client, 'registerNewProjectHandler', hp.fn);
    const p1 = await a.svc('addProject', { projectName: 'np-admin', schema: 'ifc2x3tc1' });
    assert.deepEqual((await ha.wait(1, (c) => c[0] === p1.oid))[0], [p1.oid]);
    // (plain users may not create projects in bimhub: "Only administrators can create new projects")
    await sleep(300);
    assert.deepEqual(hp.calls, [], 'the plain user heard nothing of the admin\'s project');

    await jsRegister(admin.client, 'unregisterNewProjectHandler', ha.fn);
    await jsRegister(plain.client, 'unregisterNewProjectHandler', hp.fn);
    const n = ha.calls.length;
    const p3 = await a.svc('addProject', { projectName: 'np-after', schema: 'ifc2x3tc1' });
    await sleep(500);
    assert.equal(ha.calls.length, n, `after unregister: ${JSON.stringify(ha.calls)} (p3 ${p3.oid})`);
    assert.equal(hp.calls.length, 0);
  });

  test('newUser: admins only; unregister stops it', async () => {
    const ha = handler('admin newUser');
    const hp = handler('plain newUser');
    await jsRegister(admin.client, 'registerNewUserHandler', ha.fn);
    await jsRegister(plain.client, 'registerNewUserHandler', hp.fn);
    const u = await a.svc('addUserWithPassword', {
      username: OTHER, password: OTHER_PW, name: 'Other', type: 'USER', selfRegistration: false,
      resetUrl: '',
    });
    assert.deepEqual((await ha.wait(1))[0], [u.oid]);
    await sleep(300);
    assert.deepEqual(hp.calls, [], 'a plain user\'s endpoint hears no newUser');
    await jsRegister(admin.client, 'unregisterNewUserHandler', ha.fn);
    await a.svc('addUserWithPassword', {
      username: 'third@bimhub.test', password: 'third-secret-1', name: 'Third', type: 'USER',
      selfRegistration: false, resetUrl: '',
    });
    await sleep(500);
    assert.equal(ha.calls.length, 1, `after unregister: ${JSON.stringify(ha.calls)}`);
  });

  test('a check-in: project topic announced, progress to FINISHED, newRevision, closed topic', async () => {
    const p = await a.svc('addProject', { projectName: 'ci', schema: 'ifc2x3tc1' });
    const newT = handler('newProgressOnProjectTopic');
    const closedT = handler('closedProgressOnProjectTopic');
    const rev = handler('newRevision');
    const prog = handler('progress');
    await jsRegister(admin.client, 'registerChangeProgressProjectHandler', p.oid, newT.fn, closedT.fn);
    await jsRegister(admin.client, 'registerNewRevisionOnSpecificProjectHandler', p.oid, rev.fn);
    const framesBefore = admin.frames.length;

    const topicId = await a.svc('initiateCheckin', { poid: p.oid, deserializerOid: des });
    assert.deepEqual((await newT.wait(1))[0], [p.oid, topicId], 'newProgressOnProjectTopic(poid, topicId)');
    await jsRegister(admin.client, 'registerProgressHandler', topicId, prog.fn);
    const data = fs.readFileSync(IFC_SMALL);
    await a.svc('checkinInitiatedAsync', {
      topicId, poid: p.oid, comment: 'pushed', deserializerOid: des, fileSize: data.length,
      fileName: 'pushed.ifc', data: data.toString('base64'), merge: false,
    });
    const fin = (await prog.wait(1, (c) => c[1].state === 'FINISHED', { timeoutMs: 60000 }))[0];
    const [revCall] = await rev.wait(1);
    assert.equal(fin[0], topicId);
    const st = fin[1];
    assert.equal(st.__type, 'SLongCheckinActionState');
    assert.equal(st.title, 'Checkin of pushed.ifc');
    assert.equal(st.progress, 100);
    assert.equal(st.topicId, topicId);
    assert.ok(st.roid > 0);
    assert.deepEqual(revCall, [p.oid, st.roid], 'newRevision(poid, roid)');
    const proj = await a.svc('getProjectByPoid', { poid: p.oid });
    assert.equal(proj.lastRevisionId, st.roid, 'newRevision names the committed revision');

    // every progress push is for this topic, titles as spec §7.3, stages never go back
    const states = prog.calls.map((c) => { assert.equal(c[0], topicId); return c[1]; });
    const titles = states.map((s) => s.title);
    assert.equal(titles[0], 'Deserializing IFC file...', `titles ${JSON.stringify(titles)}`);
    assert.ok(titles.includes('Generating inverses/opposites...'), JSON.stringify(titles));
    assert.ok(titles.includes('Saving to database (pushed.ifc)'), JSON.stringify(titles));
    for (let i = 1; i < states.length; i++) {
      assert.ok(states[i].stage >= states[i - 1].stage, `stages ${states.map((s) => s.stage)}`);
    }
    assert.ok(states.slice(0, -1).every((s) => s.state === 'STARTED' || s.state === 'FINISHED'));

    // the raw frames: one per push, seq counting up on this endpoint, declared key order
    const mine = admin.frames.slice(framesBefore).filter((f) => f.request);
    const revFrame = mine.find((f) => f.request.method === 'newRevision');
    assertPush(revFrame, 'newRevision', { poid: p.oid, roid: st.roid });
    const progFrame = mine.find((f) => f.request.method === 'progress');
    assertPush(progFrame, 'progress', { topicId, state: undefined });
    assertSeqs(admin.frames, 'admin endpoint');

    // ending the topic announces it closed; the topic is gone
    await a.svc('cleanupLongAction', { topicId });
    assert.deepEqual((await closedT.wait(1))[0], [p.oid, topicId], 'closedProgressOnProjectTopic(poid, topicId)');
    const exc = await regErr(a, 'getProgress', { topicId });
    assert.equal(exc.message, `No topic found with topicId ${topicId}`);

    // unregister: no more newRevision, no more topic announcements, no more progress
    await jsRegister(admin.client, 'unregisterNewRevisionOnSpecificProjectHandler', p.oid, rev.fn);
    await new Promise((resolve) => admin.client.unregisterChangeProgressProjectHandler(p.oid, newT.fn, closedT.fn, resolve));
    const nRev = rev.calls.length;
    const nNew = newT.calls.length;
    const st2 = await checkinSyncB64(a, p.oid, des, { fileName: 'second.ifc' });
    assert.equal(st2.state, 'FINISHED', JSON.stringify(st2));
    await sleep(500);
    assert.equal(rev.calls.length, nRev, `newRevision after unregister: ${JSON.stringify(rev.calls)}`);
    assert.equal(newT.calls.length, nNew, `newProgressOnProjectTopic after unregister: ${JSON.stringify(newT.calls)}`);
  });

  test('registerProgressHandler without a callback: the client asks getProgress ({} before any state)', async () => {
    const p = await a.svc('addProject', { projectName: 'gp', schema: 'ifc2x3tc1' });
    const topicId = await a.svc('initiateCheckin', { poid: p.oid, deserializerOid: des });
    const h = handler('progress (no callback)');
    admin.client.registerProgressHandler(topicId, h.fn);
    const [c] = await h.wait(1, (x) => x[0] === topicId);
    assert.deepEqual(c, [topicId, {}]);
    await new Promise((resolve) => admin.client.unregisterProgressHandler(topicId, h.fn, resolve));
    // after unregistering, the check-in's progress is not pushed to this endpoint
    const n = h.calls.length;
    const data = fs.readFileSync(IFC_SMALL);
    await a.svc('checkinInitiatedSync', {
      topicId, poid: p.oid, comment: 'x', deserializerOid: des, fileSize: data.length,
      fileName: 'x.ifc', data: data.toString('base64'), merge: false,
    });
    await sleep(500);
    assert.equal(h.calls.length, n, `progress after unregisterProgressHandler: ${JSON.stringify(h.calls.slice(n))}`);
  });

  test('newExtendedData after addExtendedDataToRevision; unregister stops it', async () => {
    const p = await a.svc('addProject', { projectName: 'ed', schema: 'ifc2x3tc1' });
    const st = await checkinSyncB64(a, p.oid, des);
    const roid = st.roid;
    const h = handler('newExtendedData');
    await jsRegister(admin.client, 'registerNewExtendedDataOnRevisionHandler', roid, h.fn);
    const content = Buffer.from('{"hello":"extended"}');
    const fileId = await a.svc('uploadFile', { file: { __type: 'SFile', data: content.toString('base64'),
      filename: 'ed.json', mime: 'application/json', size: content.length } });
    const schemaId = await a.svc('addExtendedDataSchema', { extendedDataSchema: {
      __type: 'SExtendedDataSchema', name: 'push-test-schema', contentType: 'application/json',
      description: '', url: '', validate: false } });
    await a.svc('addExtendedDataToRevision', { roid, extendedData: {
      // timeToGenerate: bimserverapi does not send it, but without it bimhub crashes (see the
      // last describe of this file)
      __type: 'SExtendedData', title: 'first', schemaId, fileId, timeToGenerate: 0 } });
    const [c] = await h.wait(1);
    const eds = await a.svc('getAllExtendedDataOfRevision', { roid });
    assert.equal(eds.length, 1);
    assert.deepEqual(c, [roid, eds[0].oid], 'newExtendedData(roid, edid)');
    const f = admin.frames.filter((x) => x.request && x.request.method === 'newExtendedData').pop();
    assertPush(f, 'newExtendedData', { roid, edid: eds[0].oid });

    await jsRegister(admin.client, 'unregisterNewExtendedDataOnRevisionHandler', roid, h.fn);
    await a.svc('addExtendedDataToRevision', { roid, extendedData: {
      __type: 'SExtendedData', title: 'second', schemaId, fileId, timeToGenerate: 0 } });
    await sleep(500);
    assert.equal(h.calls.length, 1, `after unregister: ${JSON.stringify(h.calls)}`);
  });

  test('server topics: announced to their owner (and admins), progress rate rule, closed on unregisterProgressTopic', async () => {
    const newS = handler('admin newProgressOnServerTopic');
    const closedS = handler('admin closedProgressOnServerTopic');
    const newSp = handler('plain newProgressOnServerTopic');
    await jsRegister(admin.client, 'registerChangeProgressServerHandler', newS.fn, closedS.fn);
    await jsRegister(plain.client, 'registerChangeProgressServerHandler', newSp.fn, () => {});

    const topicId = await reg(a, 'registerProgressTopic', { type: 'RUNNING_SERVICE', description: 'work' });
    assert.deepEqual((await newS.wait(1, (c) => c[0] === topicId))[0], [topicId]);
    assert.ok((await reg(a, 'getProgressTopicsOnServer')).includes(topicId));
    assert.deepEqual(await reg(a, 'getProgress', { topicId }), {}, 'no state yet');

    const prog = handler('progress');
    await jsRegister(admin.client, 'registerProgressHandler', topicId, prog.fn);
    const state = (over) => ({ __type: 'SLongActionState', title: 'Working', progress: 0, state: 'STARTED', ...over });
    await reg(a, 'updateProgressTopic', { topicId, state: state({}) });
    const [first] = await prog.wait(1, (c) => c[0] === topicId);
    assert.equal(first[1].title, 'Working');
    assert.equal(first[1].state, 'STARTED');
    // ten quick progress-only changes: at most a few pushed (one per 200 ms)
    const t0 = Date.now();
    for (let i = 1; i <= 10; i++) await reg(a, 'updateProgressTopic', { topicId, state: state({ progress: i }) });
    const took = Date.now() - t0;
    await reg(a, 'updateProgressTopic', { topicId, state: state({ progress: 100 }) });
    await prog.wait(1, (c) => c[1].progress === 100);
    const mid = prog.calls.filter((c) => c[1].progress >= 1 && c[1].progress <= 10).length;
    assert.ok(mid <= Math.ceil(took / 200) + 1, `${mid} progress-only pushes in ${took} ms`);
    await reg(a, 'updateProgressTopic', { topicId, state: state({ title: 'Done', progress: 100, state: 'FINISHED' }) });
    const [fin] = await prog.wait(1, (c) => c[1].state === 'FINISHED');
    assert.equal(fin[1].title, 'Done');
    assert.deepEqual(await reg(a, 'getProgress', { topicId }).then((s) => [s.title, s.state, s.progress]),
      ['Done', 'FINISHED', 100]);

    await reg(a, 'unregisterProgressTopic', { topicId });
    assert.deepEqual((await closedS.wait(1))[0], [topicId], 'closedProgressOnServerTopic(topicId)');
    assert.ok(!(await reg(a, 'getProgressTopicsOnServer')).includes(topicId));
    assert.equal((await regErr(a, 'getProgress', { topicId })).message, `No topic found with topicId ${topicId}`);
    await sleep(200);
    assert.deepEqual(newSp.calls, [], 'the plain user does not hear the admin\'s server topic');

    // the plain user's own topic: announced to them and to the admin
    const mine = await reg(ap, 'registerProgressTopic', { type: 'UPLOAD', description: 'mine' });
    assert.deepEqual((await newSp.wait(1))[0], [mine]);
    await newS.wait(1, (c) => c[0] === mine);
    assert.deepEqual(await reg(ap, 'getProgressTopicsOnServer'), [mine], 'a user lists only topics they may see');

    // a download is a server topic of its user
    const p = await a.svc('addProject', { projectName: 'dl', schema: 'ifc2x3tc1' });
    const st = await checkinSyncB64(a, p.oid, des);
    const ser = (await pluginOids(a)).ser['Ifc (Streaming)'];
    const dl = await a.svc('download', { roids: [st.roid], query: '{}', serializerOid: ser, sync: false });
    await newS.wait(1, (c) => c[0] === dl);
    await sleep(200);
    assert.ok(!newSp.calls.some((c) => c[0] === dl), 'the plain user does not hear the admin\'s download');

    await new Promise((resolve) => admin.client.unregisterChangeProgressServerHandler(newS.fn, closedS.fn, resolve));
    const n = newS.calls.length;
    await reg(a, 'registerProgressTopic', { type: 'RUNNING_SERVICE', description: 'after' });
    await sleep(500);
    assert.equal(newS.calls.length, n, `after unregister: ${JSON.stringify(newS.calls.slice(n))}`);
  });

  test('revision topics: announced on the revision, project and server change-topics', async () => {
    const p = await a.svc('addProject', { projectName: 'rt', schema: 'ifc2x3tc1' });
    const st = await checkinSyncB64(a, p.oid, des);
    const newR = handler('newProgressOnRevisionTopic');
    const newP = handler('newProgressOnProjectTopic');
    const newS = handler('newProgressOnServerTopic');
    await jsRegister(admin.client, 'registerChangeProgressRevisionHandler', p.oid, st.roid, newR.fn, () => {});
    await jsRegister(admin.client, 'registerChangeProgressProjectHandler', p.oid, newP.fn, () => {});
    await jsRegister(admin.client, 'registerChangeProgressServerHandler', newS.fn, () => {});

    const t = await reg(a, 'registerProgressOnRevisionTopic', { type: 'RUNNING_SERVICE', poid: p.oid, roid: st.roid, description: 'rev' });
    assert.deepEqual((await newR.wait(1))[0], [p.oid, st.roid, t], 'newProgressOnRevisionTopic(poid, roid, topicId)');
    assert.deepEqual((await newP.wait(1, (c) => c[1] === t))[0], [p.oid, t]);
    assert.deepEqual((await newS.wait(1, (c) => c[0] === t))[0], [t]);
    assert.deepEqual(await reg(a, 'getProgressTopicsOnRevision', { poid: p.oid, roid: st.roid }), [t]);
    assert.ok((await reg(a, 'getProgressTopicsOnProject', { poid: p.oid })).includes(t));
    const tp = await reg(a, 'registerProgressOnProjectTopic', { type: 'RUNNING_SERVICE', poid: p.oid, description: 'proj' });
    assert.deepEqual((await newP.wait(1, (c) => c[1] === tp))[0], [p.oid, tp]);
    assert.deepEqual((await reg(a, 'getProgressTopicsOnProject', { poid: p.oid })).sort(), [t, tp].sort());

    // bimserverapi's unregisterChangeProgressRevisionHandler sends unregisterChangeProgressOnProject
    // with a roid (spec §10.3): accepted, it ends the project announcements
    await new Promise((resolve) => admin.client.unregisterChangeProgressRevisionHandler(st.roid, newR.fn, () => {}, resolve));
    assert.deepEqual(admin.client.notifier.errors, []);
    const nP = newP.calls.length;
    await reg(a, 'registerProgressOnProjectTopic', { type: 'RUNNING_SERVICE', poid: p.oid, description: 'proj2' });
    await sleep(400);
    assert.equal(newP.calls.length, nP, 'unregisterChangeProgressOnProject by roid ended the project announcements');
    // unregisterChangeProgressOnRevision ends the revision ones
    await reg(a, 'unregisterChangeProgressOnRevision', { endPointId: admin.ep, roid: st.roid, poid: p.oid });
    const nR = newR.calls.length;
    await reg(a, 'registerProgressOnRevisionTopic', { type: 'RUNNING_SERVICE', poid: p.oid, roid: st.roid, description: 'rev2' });
    await sleep(400);
    assert.equal(newR.calls.length, nR, 'no revision announcement after unregisterChangeProgressOnRevision');
    await new Promise((resolve) => admin.client.unregisterChangeProgressServerHandler(newS.fn, () => {}, resolve));
  });

  test('every push this socket got counts 1, 2, 3 ...', () => {
    assertSeqs(admin.frames, 'admin');
    assertSeqs(plain.frames, 'plain');
  });
});

describe('endpoints over raw /stream', () => {
  let srv;
  let a; // admin api
  let b; // api of a user without rights
  let des;
  const open = [];
  const endpoint = async (token, extra) => {
    const r = await rawEndpoint(srv.url, token, extra);
    open.push(r.s);
    return r;
  };

  before(async () => {
    srv = await startServer({ args: ['--max-endpoints-per-user', '3', '--max-registrations-per-endpoint', '3'] });
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    des = (await pluginOids(a)).des[DES];
    await a.svc('addUserWithPassword', { username: OTHER, password: OTHER_PW, name: 'B', type: 'USER',
      selfRegistration: false, resetUrl: '' });
    b = api(srv.url, await loginToken(srv.url, OTHER, OTHER_PW));
  });
  after(async () => {
    for (const s of open) if (!s.isClosed()) s.drop();
    if (srv) await srv.stop();
  });

  test('another user\'s endpoint id, a missing or null endPointId are refused', async () => {
    const ra = await endpoint(a.token);
    const expectNotFound = (exc, what) => {
      assert.equal(exc.__type, 'UserException', `${what}: ${JSON.stringify(exc)}`);
      assert.equal(exc.message, `Endpoint with id ${ra.ep} not found`, what);
      assert.equal(exc.errorCode, 1, `${what}: errorCode`);
    };
    expectNotFound(await regErr(b, 'registerNewProjectHandler', { endPointId: ra.ep }), 'register');
    expectNotFound(await regErr(b, 'unregisterNewProjectHandler', { endPointId: ra.ep }), 'unregister');
    expectNotFound(await regErr(b, 'registerChangeProgressOnServer', { endPointId: ra.ep }), 'change server');
    const nul0 = await regErr(a, 'registerNewProjectHandler', { endPointId: null });
    assert.equal(nul0.message, 'No EndpointId given');
    assert.equal(nul0.errorCode, 1);
    const nul = await regErr(a, 'registerNewUserHandler', { endPointId: null });
    assert.equal(nul.message, 'No EndpointId given');
    const unknown = await regErr(a, 'registerNewUserHandler', { endPointId: 999999 });
    assert.equal(unknown.message, 'Endpoint with id 999999 not found');
    // a missing key is a missing parameter, as in BIMserver (spec §3); null is "No EndpointId"
    const miss = await regErr(a, 'registerNewProjectHandler', {});
    assert.equal(miss.message, 'Missing parameter: registerNewProjectHandler -> endPointId');
    await ra.close();
  });

  test('a user without rights on a project hears nothing about it', async () => {
    const ra = await endpoint(a.token);
    const rb = await endpoint(b.token);
    for (const m of ['registerNewRevisionHandler', 'registerNewProjectHandler']) {
      await reg(a, m, { endPointId: ra.ep });
      await reg(b, m, { endPointId: rb.ep });
    }
    await reg(b, 'registerChangeProgressOnServer', { endPointId: rb.ep });
    const p = await a.svc('addProject', { projectName: 'secret', schema: 'ifc2x3tc1' });
    assertPush(await ra.push(), 'newProject', { poid: p.oid });
    // registering for the project itself is refused
    const e1 = await regErr(b, 'registerNewRevisionOnSpecificProjectHandler', { endPointId: rb.ep, poid: p.oid });
    assert.equal(e1.__type, 'UserException', JSON.stringify(e1));
    const e2 = await regErr(b, 'registerChangeProgressOnProject', { endPointId: rb.ep, poid: p.oid });
    assert.equal(e2.__type, 'UserException', JSON.stringify(e2));
    const st = await checkinSyncB64(a, p.oid, des);
    assert.equal(st.state, 'FINISHED');
    const f = await ra.push();
    assertPush(f, 'newRevision', { poid: p.oid, roid: st.roid });
    assert.equal(f.seq, 2);
    const leaked = await rb.quiet(500);
    assert.deepEqual(leaked, [], 'user B got pushes about project P');
    // once B may read P, B hears the next revision
    await a.svc('addUserToProject', { uoid: (await b.call('AuthInterface', 'getLoggedInUser', {})).oid, poid: p.oid });
    const st2 = await checkinSyncB64(a, p.oid, des);
    assertPush(await rb.push(), 'newRevision', { poid: p.oid, roid: st2.roid });
    await ra.close();
    await rb.close();
  });

  test('--max-endpoints-per-user and --max-registrations-per-endpoint', async () => {
    const u = 'limits@bimhub.test';
    await a.svc('addUserWithPassword', { username: u, password: 'limits-secret-1', name: 'L', type: 'USER',
      selfRegistration: false, resetUrl: '' });
    const tok = await loginToken(srv.url, u, 'limits-secret-1');
    const l = api(srv.url, tok);
    const eps = [];
    for (let i = 0; i < 3; i++) eps.push(await endpoint(tok));
    const fourth = await endpoint(tok);
    assert.deepEqual(fourth.reply, { error: 'Too many endpoints for this user (limit 3)' });
    const ep = eps[0].ep;
    await reg(l, 'registerNewProjectHandler', { endPointId: ep });
    await reg(l, 'registerNewRevisionHandler', { endPointId: ep });
    await reg(l, 'registerChangeProgressOnServer', { endPointId: ep });
    await reg(l, 'registerNewProjectHandler', { endPointId: ep }); // again: no new registration
    const exc = await regErr(l, 'registerNewUserHandler', { endPointId: ep });
    assert.equal(exc.__type, 'UserException', JSON.stringify(exc));
    assert.match(exc.message, /Too many registrations/);
    await reg(l, 'unregisterNewRevisionHandler', { endPointId: ep });
    await reg(l, 'registerNewUserHandler', { endPointId: ep });
    for (const e of eps) await e.close();
  });
});

describe('backpressure (--ws-queue-max-frames 20)', () => {
  let srv;
  let a;
  let des;
  before(async () => {
    srv = await startServer({ args: ['--ws-queue-max-frames', '20', '--log-level', 'info'] });
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    des = (await pluginOids(a)).des[DES];
  });
  after(async () => {
    if (srv) await srv.stop();
  });
  const update = (topicId, n, pad) => ({ interface: 'NotificationRegistryInterface', method: 'updateProgressTopic',
    parameters: { topicId, state: { __type: 'SLongActionState', title: `${n} ${pad}`, progress: 0,
      state: 'STARTED', errors: [pad] } } });
  const multi = async (token, requests) => {
    const res = await fetch(`${srv.url}/json`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token, requests }) });
    assert.equal(res.status, 200);
    const j = await res.json();
    assert.ok(j.responses.every((r) => 'result' in r), JSON.stringify(j).slice(0, 500));
  };
  const queueFullLines = () => (srv.stderr() + srv.stdout()).split('\n').filter((l) => /send queue full/.test(l));

  test('a stalled reader is closed with 1008; a healthy client keeps receiving every newRevision in order', async () => {
    const p = await a.svc('addProject', { projectName: 'bp', schema: 'ifc2x3tc1' });
    const topic = await reg(a, 'registerProgressOnProjectTopic', { type: 'RUNNING_SERVICE', poid: p.oid, description: 'flood' });
    // the stalled one: a raw TCP client that completes the handshake and registers
    const stalled = await RawWs.connect(srv.url, '/stream');
    await stalled.nextMessage();
    stalled.sendJson({ token: a.token });
    const sEp = JSON.parse((await stalled.nextMessage()).text).endpointid;
    await reg(a, 'registerNewRevisionOnSpecificProjectHandler', { endPointId: sEp, poid: p.oid });
    await reg(a, 'registerProgressHandler', { endPointId: sEp, topicId: topic });
    // the healthy one hears the same
    const healthy = await rawEndpoint(srv.url, a.token);
    await reg(a, 'registerNewRevisionOnSpecificProjectHandler', { endPointId: healthy.ep, poid: p.oid });
    await reg(a, 'registerProgressHandler', { endPointId: healthy.ep, topicId: topic });
    const got = [];
    const drain = async () => {
      while (healthy.s.pending().length) got.push((await healthy.s.next()).json);
    };
    const before = queueFullLines().length;
    const roids = [];
    roids.push((await checkinSyncB64(a, p.oid, des)).roid);
    stalled.sock.pause(); // stops reading from here on
    // flood: title changes are always pushed; ~1.7 KB frames, 10 per /json multi-call (fewer
    // than the queue limit per burst, so a healthy reader is never near it)
    const pad = 'x'.repeat(500);
    let n = 0;
    const t0 = Date.now();
    while (queueFullLines().length === before && Date.now() - t0 < 30000) {
      const requests = [];
      for (let i = 0; i < 10; i++) requests.push(update(topic, n++, pad));
      await multi(a.token, requests);
      await drain();
      if (n === 200) roids.push((await checkinSyncB64(a, p.oid, des)).roid);
    }
    const fullLines = queueFullLines().length - before;
    assert.ok(fullLines >= 1, `the server found the stalled client's queue full once after ${n} pushes: ${queueFullLines().slice(before).join(' | ')}`);
    roids.push((await checkinSyncB64(a, p.oid, des)).roid);
    roids.push((await checkinSyncB64(a, p.oid, des)).roid);
    await sleep(300);
    await drain();
    assert.ok(!healthy.s.isClosed(), `healthy client closed: ${JSON.stringify(await Promise.race([healthy.s.closed, sleep(10, null)]))}`);
    // healthy: every push, seqs 1..N, every newRevision in order
    const seqs = got.map((f) => f.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'healthy client: consecutive seqs');
    const revs = got.filter((f) => f.request.method === 'newRevision').map((f) => f.request.parameters.roid);
    assert.deepEqual(revs, roids, 'healthy client: every newRevision, in order');
    assert.equal(got.filter((f) => f.request.method === 'progress').length, n, 'healthy client: every title change');
    // the stalled one, reading again, gets what had been sent and then a close frame 1008
    stalled.sock.resume();
    const c = await stalled.waitClose({ timeoutMs: 20000 });
    stalled.destroy();
    await healthy.close();
    assert.deepEqual([c.closeFrame, c.code], [true, 1008], `stalled client: ${JSON.stringify(c)} after ${n} pushes; ` +
      `"send queue full" logged ${fullLines} times`);
  });

  test('a client that reads is not dropped by a burst of 100 pushes in one multi-call', async () => {
    const topic = await reg(a, 'registerProgressTopic', { type: 'RUNNING_SERVICE', description: 'burst' });
    const r = await rawEndpoint(srv.url, a.token);
    await reg(a, 'registerProgressHandler', { endPointId: r.ep, topicId: topic });
    const requests = [];
    for (let i = 0; i < 100; i++) requests.push(update(topic, i, 'y'));
    await multi(a.token, requests);
    await sleep(1000);
    const closed = r.s.isClosed() ? await r.s.closed : null;
    const got = r.s.pending().length;
    if (!closed) await r.close();
    assert.deepEqual({ closed, got }, { closed: null, got: 100 },
      `server log: ${queueFullLines().join(' | ')}`);
  });
});

describe('pings and the idle timeout', () => {
  let srv;
  let token;
  before(async () => {
    srv = await startServer({ args: ['--ws-ping-interval-s', '1', '--ws-idle-timeout-s', '3'] });
    token = await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD);
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('pings every second; a client that answers stays, a silent one is closed with 1001', async () => {
    const { OP } = await import('./lib/rawws.mjs');
    const live = await RawWs.connect(srv.url, '/stream'); // answers pings (RawWs pongs)
    const silent = await RawWs.connect(srv.url, '/stream');
    const pings = [];
    const origLive = live._frame.bind(live);
    live._frame = (f) => { if (f.opcode === OP.PING) pings.push(Date.now()); origLive(f); };
    const origSilent = silent._frame.bind(silent);
    silent._frame = (f) => { if (f.opcode !== OP.PING) origSilent(f); }; // never pongs
    await live.nextMessage();
    await silent.nextMessage();
    live.sendJson({ token });
    silent.sendJson({ token });
    await live.nextMessage();
    await silent.nextMessage();
    const t0 = Date.now();
    const c = await silent.waitClose({ timeoutMs: 8000 });
    const after = Date.now() - t0;
    assert.equal(c.code, 1001, JSON.stringify(c));
    assert.ok(after >= 2000 && after <= 5000, `closed after ${after} ms`);
    assert.ok(pings.length >= 2, `pings: ${pings.length}`);
    for (let i = 1; i < pings.length; i++) {
      const d = pings[i] - pings[i - 1];
      assert.ok(d >= 500 && d <= 1700, `ping interval ${d} ms`);
    }
    await sleep(1500);
    assert.ok(!live.closeFrame && !live.ended, 'the client that pongs is still open');
    live.close();
    silent.destroy();
  });
});

describe('optional fields left out (crash: rpc_json_long(NULL))', () => {
  test('addExtendedDataToRevision as bimserverapi sends it: {__type, title, schemaId, fileId}, no timeToGenerate', async () => {
    const srv = await startServer();
    let stopErr = null;
    try {
      const a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
      const des = (await pluginOids(a)).des[DES];
      const p = await a.svc('addProject', { projectName: 'ed-js', schema: 'ifc2x3tc1' });
      const st = await checkinSyncB64(a, p.oid, des);
      const r = await rawEndpoint(srv.url, a.token);
      await reg(a, 'registerNewExtendedDataOnRevisionHandler', { endPointId: r.ep, roid: st.roid });
      const data = Buffer.from('hello');
      const fileId = await a.svc('uploadFile', { file: { __type: 'SFile', data: data.toString('base64'),
        filename: 'x.txt', mime: 'text/plain', size: data.length } });
      const schemaId = await a.svc('addExtendedDataSchema', { extendedDataSchema: {
        __type: 'SExtendedDataSchema', name: 'js-shaped', contentType: 'text/plain' } });
      // exactly the object bimserverapi's addExtendedData() builds
      await a.svc('addExtendedDataToRevision', { roid: st.roid, extendedData: {
        __type: 'SExtendedData', title: 'js', schemaId, fileId } });
      const f = await r.push();
      assertPush(f, 'newExtendedData', { roid: st.roid, edid: undefined });
      await r.close();
    } finally {
      try { await srv.stop(); } catch (e) { stopErr = e; }
    }
    if (stopErr) throw stopErr;
  });

  test('updateProgressTopic with a state that has no "progress" key', async () => {
    const srv = await startServer();
    try {
      const a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
      const t = await reg(a, 'registerProgressTopic', { type: 'RUNNING_SERVICE', description: 'x' });
      await reg(a, 'updateProgressTopic', { topicId: t, state: { __type: 'SLongActionState', title: 'no progress key', state: 'STARTED' } });
      assert.equal((await reg(a, 'getProgress', { topicId: t })).title, 'no progress key');
    } finally {
      await srv.stop();
    }
  });
});
