// bimhub's resume extension of /stream: {"token":T,"endpointid":N,"lastseq":S} takes an
// endpoint back after a dropped connection (or a restart) and replays the pushes after S.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, loginToken, pluginOids } from './lib/checkin.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';
import { assertPush, checkinSyncB64, rawEndpoint, reg, sleep } from './lib/stream-client.mjs';

const DES = 'Ifc2x3tc1 (Streaming)';

/** Drops the socket (no close handshake) and gives the server a moment to notice. */
async function drop(r)
{
  r.s.drop();
  await sleep(200);
}

function resumedReply(m, ep, seq, complete = true)
{
  assert.deepEqual(m, { type: 'endpoint', payload: { endpointid: ep, resumed: true, historyComplete: complete, seq },
    endpointid: ep });
}

describe('resume after a dropped connection', () => {
  let srv;
  let a;
  const open = [];
  const endpoint = async (extra) => {
    const r = await rawEndpoint(srv.url, a.token, extra);
    open.push(r.s);
    return r;
  };
  let n = 0;
  const newProject = () => a.svc('addProject', { projectName: `r${n++}`, schema: 'ifc2x3tc1' });

  before(async () => {
    srv = await startServer();
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
  });
  after(async () => {
    for (const s of open) if (!s.isClosed()) s.drop();
    if (srv) await srv.stop();
  });

  test('the missed pushes come back with their seqs, then live ones', async () => {
    const r = await endpoint();
    assert.equal(r.ep, 2, 'the first endpoint of a data dir is 2');
    await reg(a, 'registerNewProjectHandler', { endPointId: r.ep });
    const p0 = await newProject();
    const f0 = await r.push();
    assertPush(f0, 'newProject', { poid: p0.oid });
    assert.equal(f0.seq, 1);
    await drop(r);
    const missed = [await newProject(), await newProject(), await newProject()];
    const r2 = await endpoint({ endpointid: r.ep, lastseq: 1 });
    resumedReply(r2.reply, r.ep, 4);
    for (let i = 0; i < 3; i++) {
      const f = await r2.push();
      assertPush(f, 'newProject', { poid: missed[i].oid }, `missed #${i}`);
      assert.equal(f.seq, 2 + i);
    }
    const live = await newProject();
    const f = await r2.push();
    assertPush(f, 'newProject', { poid: live.oid }, 'live');
    assert.equal(f.seq, 5);
    assert.deepEqual(await r2.quiet(300), [], 'each push once');
    await r2.close();
  });

  test('resuming at the current seq replays nothing', async () => {
    const r = await endpoint();
    await reg(a, 'registerNewProjectHandler', { endPointId: r.ep });
    await newProject();
    const f = await r.push();
    await drop(r);
    const r2 = await endpoint({ endpointid: r.ep, lastseq: f.seq });
    resumedReply(r2.reply, r.ep, f.seq);
    assert.deepEqual(await r2.quiet(300), []);
    await r2.close();
  });

  test('dropped before the first push: lastseq 0 gets everything', async () => {
    const r = await endpoint();
    await reg(a, 'registerNewProjectHandler', { endPointId: r.ep });
    await drop(r);
    const missed = [await newProject(), await newProject()];
    const r2 = await endpoint({ endpointid: r.ep, lastseq: 0 });
    resumedReply(r2.reply, r.ep, 2);
    const got = await r2.quiet(500);
    assert.deepEqual(got.map((x) => [x.seq, x.request.parameters.poid]), [[1, missed[0].oid], [2, missed[1].oid]],
      'historyComplete was true, so both missed pushes must follow');
    await r2.close();
  });

  test('another user\'s endpoint id cannot be resumed', async () => {
    const r = await endpoint();
    await drop(r);
    await a.svc('addUserWithPassword', { username: 'resume-b@bimhub.test', password: 'resume-b-secret-1', name: 'B',
      type: 'USER', selfRegistration: false, resetUrl: '' });
    const tb = await loginToken(srv.url, 'resume-b@bimhub.test', 'resume-b-secret-1');
    const rb = await rawEndpoint(srv.url, tb, { endpointid: r.ep, lastseq: 0 });
    open.push(rb.s);
    assert.equal(rb.reply.error, `Endpoint with id ${r.ep} not found`, JSON.stringify(rb.reply));
    assert.equal(rb.reply.type, undefined);
    // and the endpoint still belongs to its user
    const r2 = await endpoint({ endpointid: r.ep, lastseq: 0 });
    assert.equal(r2.reply.payload.resumed, true, JSON.stringify(r2.reply));
    await r2.close();
    await rb.close();
  });

  test('an unknown endpoint id gets an error, not an endpoint', async () => {
    const r = await endpoint({ endpointid: 987654, lastseq: 3 });
    assert.equal(r.reply.error, 'Endpoint with id 987654 not found', JSON.stringify(r.reply));
    await r.close();
  });
});

describe('resume with --endpoint-history-frames 2', () => {
  let srv;
  let a;
  before(async () => {
    srv = await startServer({ args: ['--endpoint-history-frames', '2'] });
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
  });
  after(async () => {
    if (srv) await srv.stop();
  });
  let n = 0;
  const newProject = () => a.svc('addProject', { projectName: `h${n++}`, schema: 'ifc2x3tc1' });

  test('two missed pushes are still complete; three are not, and nothing is replayed', async () => {
    const r = await rawEndpoint(srv.url, a.token);
    await reg(a, 'registerNewProjectHandler', { endPointId: r.ep });
    await newProject();
    assert.equal((await r.push()).seq, 1);
    await drop(r);
    const two = [await newProject(), await newProject()];
    const r2 = await rawEndpoint(srv.url, a.token, { endpointid: r.ep, lastseq: 1 });
    resumedReply(r2.reply, r.ep, 3);
    assert.deepEqual((await r2.quiet(400)).map((f) => [f.seq, f.request.parameters.poid]),
      [[2, two[0].oid], [3, two[1].oid]]);
    await drop(r2);
    await newProject();
    await newProject();
    await newProject();
    const r3 = await rawEndpoint(srv.url, a.token, { endpointid: r.ep, lastseq: 3 });
    resumedReply(r3.reply, r.ep, 6, false);
    assert.deepEqual(await r3.quiet(400), [], 'an incomplete history is not replayed');
    const live = await newProject();
    const f = await r3.push();
    assertPush(f, 'newProject', { poid: live.oid });
    assert.equal(f.seq, 7, 'seqs go on');
    await r3.close();
  });
});

describe('resume after a graceful restart', () => {
  let srv;
  let a;
  let des;
  before(async () => {
    srv = await startServer();
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    des = (await pluginOids(a)).des[DES];
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('endpoints, registrations and history survive SIGTERM and a new start', async () => {
    const p = await a.svc('addProject', { projectName: 'restart', schema: 'ifc2x3tc1' });
    const r = await rawEndpoint(srv.url, a.token);
    const other = await rawEndpoint(srv.url, a.token);
    await reg(a, 'registerNewRevisionOnSpecificProjectHandler', { endPointId: r.ep, poid: p.oid });
    await reg(a, 'registerNewProjectHandler', { endPointId: r.ep });
    const st1 = await checkinSyncB64(a, p.oid, des);
    const f1 = await r.push();
    assertPush(f1, 'newRevision', { poid: p.oid, roid: st1.roid });
    await drop(r);
    // missed before the restart
    const st2 = await checkinSyncB64(a, p.oid, des);
    const p2 = await a.svc('addProject', { projectName: 'restart-2', schema: 'ifc2x3tc1' });
    await other.close();

    await srv.stop();
    await srv.restart();
    let token = a.token;
    const probe = await a.raw('AuthInterface', 'getLoggedInUser', {}).catch(() => null);
    if (!probe || !probe.response || !probe.response.result) {
      token = await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD); // sessions need not survive
    }
    a = api(srv.url, token);

    const r2 = await rawEndpoint(srv.url, token, { endpointid: r.ep, lastseq: f1.seq });
    resumedReply(r2.reply, r.ep, f1.seq + 2);
    const g1 = await r2.push();
    assertPush(g1, 'newRevision', { poid: p.oid, roid: st2.roid }, 'missed newRevision');
    assert.equal(g1.seq, f1.seq + 1);
    const g2 = await r2.push();
    assertPush(g2, 'newProject', { poid: p2.oid }, 'missed newProject');
    assert.equal(g2.seq, f1.seq + 2);
    // the registrations still work
    const st3 = await checkinSyncB64(a, p.oid, des);
    const g3 = await r2.push({ timeoutMs: 20000 });
    assertPush(g3, 'newRevision', { poid: p.oid, roid: st3.roid }, 'live after restart');
    assert.equal(g3.seq, f1.seq + 3);
    // a bare token gets a new id above the old ones
    const fresh = await rawEndpoint(srv.url, token);
    assert.ok(fresh.ep > Math.max(r.ep, other.ep), `new endpoint ${fresh.ep} after ${r.ep}, ${other.ep}`);
    await fresh.close();
    await r2.close();
  });
});
