// Durable, at-least-once delivery (beyond BIMserver): retries with backoff and Retry-After,
// 410, timeouts that hold back only their own service, parking, redelivery and replay, the
// delivery log, deleteService, a SIGKILL with deliveries pending, and 200 check-ins to two
// services of which one fails now and then.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { api, loginToken, pluginOids } from './lib/checkin.mjs';
import { refusedPort } from './lib/fake-service.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';
import { IFC_SMALL, sleep } from './lib/stream-client.mjs';

const IFC = fs.readFileSync(IFC_SMALL);
const FAIL_500 = { status: 500, body: 'Internal Server Error' };

function sService(url, over = {})
{
  return {
    __type: 'SService', name: 'svc', serviceName: 'Service', serviceIdentifier: 'svc', providerName: 'ACME',
    url, token: 'T', notificationProtocol: 'JSON', description: '', trigger: 'NEW_REVISION',
    readRevision: true, readExtendedDataId: -1, writeRevisionId: -1, writeExtendedDataId: -1,
    profileIdentifier: 'default', profileName: 'Default', profileDescription: '', profilePublic: true, ...over,
  };
}

/** One server with its admin, and helpers, for a describe block. */
async function setup(args)
{
  const srv = await startServer({ args });
  const a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
  const oids = await pluginOids(a);
  let n = 0;
  const env = {
    srv, a, receivers: [],
    async receiver(opts) {
      const r = await startReceiver(opts);
      env.receivers.push(r);
      return r;
    },
    project: () => a.svc('addProject', { projectName: `p${++n}`, schema: 'ifc2x3tc1' }),
    addService: (poid, url, over = {}) => a.svc('addServiceToProject',
      { poid, sService: sService(url, { name: `s${++n}`, ...over }) }),
    async checkin(poid, comment = 'c') {
      const st = await a.svc('checkinSync', { poid, comment, deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'],
        fileSize: IFC.length, fileName: 'm.ifc', data: IFC.toString('base64'), merge: false });
      assert.equal(st.state, 'FINISHED', JSON.stringify(st));
      return st.roid;
    },
    dlv: (m, p) => a.call('DeliveryInterface', m, p),
    async close() {
      for (const r of env.receivers) await r.close().catch(() => {});
      if (srv.proc && srv.proc.exitCode === null && srv.proc.signalCode === null) await srv.stop();
    },
  };
  return env;
}

describe('deliveries: retries and the delivery log', () => {
  let e;
  before(async () => {
    // the attempts of the first 3 s (the "up 3 s later" case) must not exhaust the schedule
    e = await setup(['--delivery-retry-schedule', '0,300ms,300ms,600ms,1s,1s,2s,5s', '--service-timeout-ms', '1500',
      '--service-connect-timeout-ms', '1000']);
  });
  after(async () => e && e.close());

  test('500 twice then 200: three attempts, one webhook-id, the log shows each', async () => {
    const r = await e.receiver();
    r.respond = (rec, n) => (n <= 2 ? FAIL_500 : undefined);
    const p = await e.project();
    const soid = await e.addService(p.oid, r.url);
    const roid = await e.checkin(p.oid);
    assert.ok(await r.waitFor((g) => g.length === 3), `got ${r.got.length}`);
    assert.deepEqual(r.got.map((g) => g.status), [500, 500, 200]);
    assert.equal(new Set(r.got.map((g) => g.id)).size, 1, 'the same webhook-id on every attempt');
    assert.ok(r.got.every((g) => g.json.request.parameters.roid === roid));
    assert.ok(r.got[1].at - r.got[0].at >= 200, 'backoff between attempts');
    await sleep(200);
    const [d] = await e.dlv('listDeliveries', { soid });
    assert.equal(d.state, 'DELIVERED');
    assert.equal(d.attempts, 3);
    assert.equal(d.webhookId, r.got[0].id);
    const full = await e.dlv('getDelivery', { id: d.oid });
    assert.deepEqual(full.attemptList.map((x) => [x.number, x.httpStatus, x.ok]),
      [[1, 500, false], [2, 500, false], [3, 200, true]]);
    assert.equal(full.attemptList[0].error, 'HTTP 500');
    assert.equal(full.attemptList[0].response, 'Internal Server Error');
    assert.ok(full.attemptList.every((x) => x.durationMs >= 0 && x.time > 0));
    const h = await e.dlv('getServiceHealth', { soid });
    assert.equal(h.delivered, 1);
    assert.equal(h.pending, 0);
    assert.equal(h.failures24h, 2);
    assert.equal(h.attempts24h, 3);
    assert.equal(h.consecutiveFailures, 0);
    assert.equal(h.enabled, true);
  });

  test('a service down at check-in time and up 3 s later gets the notification', async () => {
    const port = await refusedPort();
    const p = await e.project();
    const soid = await e.addService(p.oid, `http://127.0.0.1:${port}`);
    const roid = await e.checkin(p.oid);
    await sleep(3000);
    const [pending] = await e.dlv('listDeliveries', { soid });
    assert.equal(pending.state, 'PENDING');
    assert.ok(pending.attempts >= 2, JSON.stringify(pending));
    assert.equal(pending.lastError, 'Cannot fetch the URL: it is not reachable or not allowed');
    const r = await e.receiver({ port });
    assert.ok(await r.waitFor((g) => g.length >= 1, 5000), 'delivered after the service came up');
    assert.equal(r.got[0].json.request.parameters.roid, roid);
    assert.equal(r.got[0].id, pending.webhookId);
  });

  test('an exception in the answer, or a 2xx that is no envelope, is a failed attempt', async () => {
    const r = await e.receiver();
    r.respond = (rec, n) => (n === 1
      ? { status: 200, body: JSON.stringify({ response: { exception: { __type: 'UserException', message: 'busy' } } }) }
      : n === 2 ? { status: 200, body: 'OK' } : undefined);
    const p = await e.project();
    const soid = await e.addService(p.oid, r.url);
    await e.checkin(p.oid);
    assert.ok(await r.waitFor((g) => g.length === 3));
    await sleep(200);
    const [d] = await e.dlv('listDeliveries', { soid });
    const full = await e.dlv('getDelivery', { id: d.oid });
    assert.match(full.attemptList[0].error, /exception: busy/);
    assert.match(full.attemptList[1].error, /not a JSON envelope/);
    assert.equal(full.state, 'DELIVERED');
  });

  test('Retry-After is honoured', async () => {
    const r = await e.receiver();
    r.respond = (rec, n) => (n === 1 ? { status: 503, body: 'later', headers: { 'Retry-After': '2' } } : undefined);
    const p = await e.project();
    await e.addService(p.oid, r.url);
    await e.checkin(p.oid);
    assert.ok(await r.waitFor((g) => g.length === 2, 6000));
    const gap = r.got[1].at - r.got[0].at;
    assert.ok(gap >= 1900, `waited ${gap} ms, not the 2 s asked for (the schedule says 300 ms)`);
  });

  test('a hanging service times out while another service keeps receiving', async () => {
    const hang = await e.receiver();
    hang.respond = () => 'hang';
    const fast = await e.receiver();
    const p = await e.project();
    const hSoid = await e.addService(p.oid, hang.url);
    await e.addService(p.oid, fast.url);
    const t0 = Date.now();
    const roids = [await e.checkin(p.oid), await e.checkin(p.oid), await e.checkin(p.oid)];
    assert.ok(await fast.waitFor((g) => g.length === 3, 5000));
    assert.deepEqual(fast.got.map((g) => g.json.request.parameters.roid), roids);
    assert.ok(Date.now() - t0 < 1500 + 3000, 'the other service did not wait for the hanging one');
    assert.ok(await hang.waitFor((g) => g.length >= 2, 6000), 'the hanging one is tried again after the timeout');
    // in order: the head (the first revision) is retried, nothing behind it is sent yet
    assert.ok(hang.got.every((g) => g.json.request.parameters.roid === roids[0]));
    const full = await e.dlv('getDelivery', { id: (await e.dlv('listDeliveries', { soid: hSoid, state: 'PENDING' }))
      .find((d) => d.roid === roids[0]).oid });
    // a timeout is recorded as any unreachable service is (no port-state oracle in the log)
    assert.equal(full.attemptList[0].error, 'Cannot fetch the URL: it is not reachable or not allowed');
    assert.equal(full.attemptList[0].httpStatus, 0);
    hang.respond = undefined;
    assert.ok(await hang.waitFor((g) => new Set(g.filter((x) => x.status === 200)
      .map((x) => x.json.request.parameters.roid)).size === 3, 10000), 'all three once it answers');
    const okOrder = hang.got.filter((x) => x.status === 200).map((x) => x.json.request.parameters.roid);
    assert.deepEqual(okOrder, roids, 'delivered in event order');
  });

  test('410 Gone disables the service; enableService sends what waited', async () => {
    const r = await e.receiver();
    r.respond = () => ({ status: 410, body: 'gone' });
    const p = await e.project();
    const soid = await e.addService(p.oid, r.url);
    await e.checkin(p.oid);
    assert.ok(await r.waitFor((g) => g.length === 1));
    await sleep(300);
    let h = await e.dlv('getServiceHealth', { soid });
    assert.equal(h.enabled, false);
    assert.match(h.disabledReason, /410/);
    await e.checkin(p.oid);
    await sleep(800);
    assert.equal(r.got.length, 1, 'nothing is sent to a disabled service');
    h = await e.dlv('getServiceHealth', { soid });
    assert.equal(h.pending, 2);
    r.respond = undefined;
    await e.dlv('enableService', { soid });
    assert.ok(await r.waitFor((g) => g.filter((x) => x.status === 200).length === 2));
    assert.equal((await e.dlv('getServiceHealth', { soid })).enabled, true);
  });

  test('parallel option: several requests at once to one service', async () => {
    const r = await e.receiver();
    const held = [];
    r.respond = () => 'hang';
    const p = await e.project();
    const soid = await e.addService(p.oid, r.url);
    await e.dlv('setDeliveryOptions', { soid, parallel: true, bimsie1Interface: false });
    for (let i = 0; i < 4; i++) held.push(await e.checkin(p.oid));
    assert.ok(await r.waitFor((g) => g.length >= 4, 3000), `in flight at once: ${r.got.length}`);
    assert.deepEqual(new Set(r.got.slice(0, 4).map((g) => g.json.request.parameters.roid)), new Set(held));
    r.respond = undefined;
    assert.ok(await r.waitFor((g) => g.filter((x) => x.status === 200).length === 4, 8000));
  });
});

describe('deliveries: parking, redelivery, replay, deleteService', () => {
  let e;
  before(async () => {
    e = await setup(['--delivery-retry-schedule', '0,100ms,100ms']);
  });
  after(async () => e && e.close());

  test('after the schedule a delivery is parked as FAILED; redeliver sends it with the same webhook-id', async () => {
    const r = await e.receiver();
    r.respond = () => FAIL_500;
    const p = await e.project();
    const soid = await e.addService(p.oid, r.url);
    await e.checkin(p.oid);
    assert.ok(await r.waitFor((g) => g.length === 3));
    await sleep(300);
    assert.equal(r.got.length, 3, 'three attempts, then it stops');
    const failed = await e.dlv('listDeliveries', { soid, state: 'FAILED' });
    assert.equal(failed.length, 1);
    assert.equal(failed[0].attempts, 3);
    assert.equal((await e.dlv('getServiceHealth', { soid })).failed, 1);
    // the next event is not held back by the parked one
    r.respond = undefined;
    await e.checkin(p.oid);
    assert.ok(await r.waitFor((g) => g.length === 4));
    await e.dlv('redeliver', { id: failed[0].oid });
    assert.ok(await r.waitFor((g) => g.length === 5));
    assert.equal(r.got[4].id, failed[0].webhookId);
    await sleep(200);
    const d = await e.dlv('getDelivery', { id: failed[0].oid });
    assert.equal(d.state, 'DELIVERED');
    assert.equal(d.attemptList.length, 4);
    const exc = await e.a.err('DeliveryInterface', 'redeliver', { id: 987654321 });
    assert.match(exc.message, /No delivery/);
  });

  test('replay sends everything since a time again', async () => {
    const r = await e.receiver();
    const p = await e.project();
    const soid = await e.addService(p.oid, r.url);
    await e.checkin(p.oid);
    assert.ok(await r.waitFor((g) => g.length === 1));
    const since = Date.now();
    await sleep(20);
    await e.checkin(p.oid);
    await e.checkin(p.oid);
    assert.ok(await r.waitFor((g) => g.length === 3));
    await sleep(200);
    assert.equal(await e.dlv('replay', { soid, since }), 2);
    assert.ok(await r.waitFor((g) => g.length === 5));
    assert.deepEqual(r.got.slice(3).map((g) => g.id), r.got.slice(1, 3).map((g) => g.id));
  });

  test('a reload while a parallel service has a full window of requests in flight sends nothing twice', async () => {
    const r = await e.receiver();
    r.respond = () => 'hold';
    const p = await e.project();
    const soid = await e.addService(p.oid, r.url);
    await e.dlv('setDeliveryOptions', { soid, parallel: true, bimsie1Interface: false });
    const roid = await e.checkin(p.oid);
    r.release();
    assert.ok(await r.waitFor((g) => g.length === 1));
    for (let i = 0; i < 99; i++) await e.a.svc('triggerNewRevision', { roid, soid });
    // 64 in flight at once (delivery_max_in_flight_per_service)
    let inFlight = 0;
    for (let t0 = Date.now(); inFlight < 64 && Date.now() - t0 < 8000; await sleep(50)) {
      inFlight = (await e.dlv('getServiceHealth', { soid })).inFlight;
    }
    assert.equal(inFlight, 64, `in flight: ${inFlight}`);
    await e.dlv('setDeliveryOptions', { soid, parallel: true, bimsie1Interface: false }); // a reload
    await sleep(100);
    r.respond = undefined;
    r.release();
    assert.ok(await r.waitFor((g) => new Set(g.map((x) => x.id)).size === 100, 5000));
    await sleep(500);
    const ids = r.got.map((g) => g.id);
    assert.equal(ids.length, new Set(ids).size, `${ids.length - new Set(ids).size} sent twice`);
    assert.equal((await e.dlv('getServiceHealth', { soid })).delivered, 100);
  });

  test('deleteService stops delivery: pending ones are cancelled', async () => {
    const port = await refusedPort();
    const p = await e.project();
    const soid = await e.addService(p.oid, `http://127.0.0.1:${port}`);
    // held pending: nothing is sent to a disabled service
    await e.dlv('disableService', { soid, reason: 'maintenance' });
    assert.match((await e.dlv('getServiceHealth', { soid })).disabledReason, /maintenance/);
    await e.checkin(p.oid);
    await e.checkin(p.oid);
    assert.equal((await e.dlv('getServiceHealth', { soid })).pending, 2);
    await e.a.svc('deleteService', { oid: soid });
    const r = await e.receiver({ port });
    await sleep(1000);
    assert.equal(r.got.length, 0);
    const list = await e.dlv('listDeliveries', { soid });
    assert.deepEqual(list.map((d) => d.state), ['CANCELLED', 'CANCELLED']);
    assert.match((await e.a.err('DeliveryInterface', 'redeliver', { id: list[0].oid })).message, /deleted/);
    assert.match((await e.a.err('DeliveryInterface', 'enableService', { soid })).message, /deleted/);
  });
});

describe('deliveries: SIGKILL with deliveries pending', () => {
  let e;
  before(async () => {
    // a long backoff: only the restart's resume can bring the notification in time
    e = await setup(['--delivery-retry-schedule', '0,1h']);
  });
  after(async () => e && e.close());

  test('after kill -9 and a restart, pending deliveries go out at once', async () => {
    const port = await refusedPort();
    const p = await e.project();
    const soid = await e.addService(p.oid, `http://127.0.0.1:${port}`);
    const roids = [await e.checkin(p.oid), await e.checkin(p.oid)];
    await sleep(300);
    const before = await e.dlv('listDeliveries', { soid });
    assert.equal(before.length, 2);
    assert.ok(before.every((d) => d.state === 'PENDING'));
    await e.srv.kill9();
    const r = await e.receiver({ port });
    await e.srv.start();
    assert.ok(await r.waitFor((g) => g.length === 2, 5000), `after restart: ${r.got.length}`);
    assert.deepEqual(r.got.map((g) => g.json.request.parameters.roid), roids);
    assert.deepEqual(r.got.map((g) => g.id), before.map((d) => d.webhookId).reverse());
    // the apiUrl is the restarted server's
    assert.equal(r.got[0].json.request.parameters.apiUrl, e.srv.url);
  });
});

describe('deliveries: 200 check-ins to two services', () => {
  let e;
  before(async () => {
    e = await setup(['--delivery-retry-schedule', '0,100ms,200ms,400ms,800ms,1s,2s,5s',
      '--sqlite-synchronous', 'normal']);
  });
  after(async () => e && e.close());

  test('each service receives every roid; duplicates only after a failed attempt, with the same webhook-id', async () => {
    const steady = await e.receiver();
    const flaky = await e.receiver();
    // fails one request in five
    flaky.respond = (rec, n) => (n % 5 === 0 ? FAIL_500 : undefined);
    const p = await e.project();
    await e.addService(p.oid, steady.url);
    await e.addService(p.oid, flaky.url);
    const roids = [];
    for (let i = 0; i < 200; i++) roids.push(await e.checkin(p.oid, `c${i}`));
    for (const [name, r] of [['steady', steady], ['flaky', flaky]]) {
      assert.ok(await r.waitFor((g) => new Set(g.filter((x) => x.status === 200)
        .map((x) => x.json.request.parameters.roid)).size === 200, 60000), `${name} got every roid`);
      const byId = new Map();
      for (const g of r.got) {
        const roid = g.json.request.parameters.roid;
        const prev = byId.get(g.id);
        if (prev) {
          assert.equal(prev.roid, roid, `${name}: one webhook-id, one roid`);
          assert.ok(prev.failed, `${name}: a duplicate of ${g.id} without a failed attempt before it`);
        }
        byId.set(g.id, { roid, failed: (prev && prev.failed) || g.status !== 200 });
      }
      assert.equal(byId.size, 200, `${name}: one webhook-id per roid`);
      const firstOk = r.got.filter((x) => x.status === 200).map((x) => x.json.request.parameters.roid);
      assert.deepEqual(firstOk, roids, `${name}: in event order, each once after its success`);
    }
    assert.equal(steady.got.length, 200, 'the steady service got no duplicate');
  });
});
