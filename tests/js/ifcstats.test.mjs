// bimhub-ifcstats (examples/ifcstats), the example service, end to end with the command line
// client: services registered with `bimhub service add`, every shared IFC file checked in with
// `bimhub checkin`, the report written back as extended data equal to an independent count of
// the same file, `bimhub watch --json` seeing newRevision then newExtendedData, and no report
// lost when the service is killed with SIGKILL (before a notification: the server retries; after
// acknowledging one: the SDK's spool replays it).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { api, ifcSchemaOf, loginToken, sharedIfcFiles } from './lib/checkin.mjs';
import { countStep, freePort, killAll, runCli, startIfcstats, startWatch, tempHome } from './lib/cli.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('bimhub-ifcstats with the bimhub command line', () => {
  let srv;
  let a; // admin API, for reading what the service wrote
  let env; // BIMHUB_URL / BIMHUB_TOKEN for the client
  const home = tempHome();
  const services = [];

  const cli = async (args, opts = {}) => {
    const r = await runCli(args, { home, env, ...opts });
    assert.doesNotMatch(r.stderr, /Sanitizer/, r.stderr);
    return r;
  };
  const ok = async (args) => {
    const r = await cli(args);
    assert.equal(r.code, 0, `bimhub ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  };

  /** A project, a running bimhub-ifcstats with its secret, registered with `service add`. */
  const project = async (name, schema, extra = {}) => {
    const poid = Number((await ok(['project', 'add', name, '--schema', schema])).lines.at(-1));
    const port = await freePort();
    const soid = Number((await ok(['service', 'add', '--project', name, '--url', `http://127.0.0.1:${port}`,
      '--name', 'ifcstats', '--identifier', 'bimhub-ifcstats', '--read-revision'])).lines.at(-1));
    const secret = (await ok(['service', 'secret', String(soid)])).lines.at(-1);
    assert.match(secret, /^whsec_/);
    const svc = await startIfcstats({ port, secret, ...extra });
    services.push(svc);
    return { poid, soid, svc, name };
  };

  /** The reports (extended data of the schema bimhub-ifcstats) of roid, parsed. */
  const reports = async (roid) => {
    const eds = await a.svc('getAllExtendedDataOfRevision', { roid });
    const out = [];
    for (const ed of eds) {
      const schema = await a.svc('getExtendedDataSchemaById', { oid: ed.schemaId });
      if (schema.name !== 'bimhub-ifcstats') continue;
      const file = await a.svc('getFile', { fileId: ed.fileId });
      out.push({ ed, json: JSON.parse(Buffer.from(file.data, 'base64').toString('utf8')) });
    }
    return out;
  };
  const waitReport = async (roid, ms = 90000) => {
    const end = Date.now() + ms;
    for (;;) {
      const r = await reports(roid);
      if (r.length) return r;
      if (Date.now() > end) throw new Error(`no report on revision ${roid} after ${ms} ms`);
      await sleep(100);
    }
  };

  const checkin = async (file, projectName) => {
    const r = await ok(['checkin', file, '--project', projectName, '--comment', path.basename(file)]);
    const roid = Number(r.lines.at(-1));
    assert.ok(roid > 0, r.stdout);
    return { roid, r };
  };

  before(async () => {
    srv = await startServer({ args: ['--delivery-retry-schedule', '0,300ms,500ms,1s,1s,1s,1s,1s,1s,1s'] });
    const token = await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD);
    a = api(srv.url, token);
    env = { BIMHUB_URL: srv.url, BIMHUB_TOKEN: token };
  });
  after(async () => {
    try {
      for (const s of services) {
        const res = await s.stop();
        assert.equal(res.code, 0, `bimhub-ifcstats exit ${JSON.stringify(res)}\n${s.stderr()}`);
      }
    } finally {
      await killAll();
      if (srv) await srv.stop();
    }
  });

  test('every shared IFC file: the report equals an independent count; watch sees newRevision then newExtendedData', async () => {
    const files = sharedIfcFiles();
    assert.ok(files.length >= 6, 'the shared IFC files are there');
    const bySchema = new Map();
    for (const f of files) {
      if (!bySchema.has(f.schema)) bySchema.set(f.schema, []);
      bySchema.get(f.schema).push(f);
    }
    // one project (and one service process, with that service's secret) per schema
    const groups = [];
    for (const [schema, list] of bySchema) {
      const p = await project(`stats-${schema}`, schema);
      const watch = await startWatch(['--project', p.name, '--json'], { home, env });
      assert.ok(await watch.waitFor((ls) => ls.some((l) => l.includes('"event":"connected"'))),
        `watch connected:\n${watch.lines.join('\n')}\n${watch.stderr}`);
      groups.push({ p, list, watch });
    }

    // the groups check in at the same time, each its files one after the other
    const done = await Promise.all(groups.map(async (g) => {
      const out = [];
      for (const f of g.list) out.push({ f, ...(await checkin(f.path, g.p.name)) });
      return out;
    }));

    for (const [gi, g] of groups.entries()) {
      for (const { f, roid, r } of done[gi]) {
        // stdout is not a terminal: plain progress lines, the roid last
        assert.match(r.stdout, /^checkin \S+ \(\d+ bytes\) to project \d+, topic \d+$/m);
        assert.match(r.stdout, /^progress via \/stream endpoint \d+$/m);
        assert.match(r.stdout, /^upload 100% (\d+)\/\1$/m);
        assert.match(r.stdout, /^server 100% FINISHED Checkin of /m);

        const [rep, ...more] = await waitReport(roid);
        assert.equal(more.length, 0, 'one report per revision');
        const got = rep.json;
        const buf = fs.readFileSync(f.path);
        const want = countStep(buf);
        const schemaId = /FILE_SCHEMA\s*\(\s*\(\s*'([^']+)'/i.exec(buf.subarray(0, 8192).toString('latin1'))[1];
        assert.equal(ifcSchemaOf(buf), f.schema);
        assert.equal(got.roid, roid);
        assert.equal(got.poid, g.p.poid);
        assert.equal(got.schema, schemaId, f.name);
        assert.equal(got.fileSize, buf.length, f.name);
        assert.equal(got.valid, true, f.name);
        assert.equal(got.entityTotal, want.total, `${f.name}: entity total`);
        assert.deepEqual(new Map(Object.entries(got.types)), want.types, `${f.name}: counts per type`);
        const n = (t) => want.types.get(t) || 0;
        assert.equal(got.storeys, n('IFCBUILDINGSTOREY'), f.name);
        assert.equal(got.spaces, n('IFCSPACE'), f.name);
        assert.equal(got.walls, n('IFCWALL') + n('IFCWALLSTANDARDCASE'), f.name);
        assert.equal(got.doors, n('IFCDOOR'), f.name);
        assert.equal(got.windows, n('IFCWINDOW'), f.name);
        assert.ok(got.header && Array.isArray(got.header.schemas), 'header');
        assert.equal(rep.ed.revisionId, roid);

        // watch: newRevision, then newExtendedData of that revision with the report's edid
        assert.ok(await g.watch.waitFor(() => g.watch.json().some((e) => e.event === 'newExtendedData' &&
          e.roid === roid)), `newExtendedData of ${roid} in:\n${g.watch.lines.join('\n')}`);
        const events = g.watch.json();
        const iRev = events.findIndex((e) => e.event === 'newRevision' && e.roid === roid);
        const iEd = events.findIndex((e) => e.event === 'newExtendedData' && e.roid === roid);
        assert.ok(iRev >= 0 && iRev < iEd, `newRevision before newExtendedData for ${roid}`);
        assert.equal(events[iRev].poid, g.p.poid);
        assert.equal(events[iEd].edid, rep.ed.oid);
        assert.ok(events.some((e) => e.event === 'progress' && e.state.state === 'FINISHED' &&
          e.state.roid === roid), 'the check-in progress was pushed to watch too');
      }
      // everything delivered, signed with the service's own secret
      const dl = JSON.parse((await ok(['deliveries', '--service', String(g.p.soid), '--json'])).stdout);
      assert.equal(dl.length, g.list.length);
      assert.ok(dl.every((d) => d.state === 'DELIVERED' && d.method === 'newRevision'), JSON.stringify(dl));
      const res = await g.watch.stop();
      assert.equal(res.code, 0, `watch exit ${JSON.stringify(res)}: ${g.watch.stderr}`);
    }
  });

  test('SIGKILL loses no report: the server retries a dead service, the spool replays what was acknowledged', async () => {
    const small = sharedIfcFiles().find((f) => f.name === 'Sample_entities.ifc');
    const p = await project('stats-crash', small.schema);
    const spoolFiles = () => fs.readdirSync(p.svc.spool).filter((f) => f.endsWith('.json'));
    const spooledRoids = () => spoolFiles().map((f) => {
      try {
        return /"roid":\s*(\d+)/.exec(fs.readFileSync(path.join(p.svc.spool, f), 'utf8'));
      } catch {
        return null; // handled and removed meanwhile
      }
    }).filter(Boolean).map((m) => Number(m[1]));
    const spoolEmpties = async () => {
      for (const until = Date.now() + 10000; spoolFiles().length;) {
        assert.ok(Date.now() < until, `the spool empties: ${spoolFiles()}`);
        await sleep(50);
      }
    };

    // 1. dead before the notification: the server keeps trying until it is back
    await p.svc.kill9();
    const { roid: r1 } = await checkin(small.path, p.name);
    const end = Date.now() + 20000;
    let d;
    for (;;) {
      d = JSON.parse((await ok(['deliveries', '--service', String(p.soid), '--json'])).stdout)[0];
      if (d && d.attempts >= 2) break;
      assert.ok(Date.now() < end, `the server retried: ${JSON.stringify(d)}`);
      await sleep(100);
    }
    assert.equal(d.state, 'PENDING');
    assert.ok(d.lastError, 'the failed attempt says why');
    assert.equal((await reports(r1)).length, 0);
    await p.svc.start();
    assert.equal((await waitReport(r1)).length, 1);
    await spoolEmpties(); // the notification is forgotten once handled

    // 2. dead after acknowledging (spooled, not handled yet): the next start replays it
    await p.svc.restart({ delayMs: 60000 });
    const { roid: r2 } = await checkin(small.path, p.name);
    for (const until = Date.now() + 20000; ;) {
      const last = JSON.parse((await ok(['deliveries', '--service', String(p.soid), '--json'])).stdout)[0];
      if (last.roid === r2 && last.state === 'DELIVERED' && spooledRoids().includes(r2)) break;
      assert.ok(Date.now() < until, `acknowledged and spooled: ${JSON.stringify(last)} ${spoolFiles()}`);
      await sleep(50);
    }
    await p.svc.kill9();
    assert.equal((await reports(r2)).length, 0, 'not handled before the kill');
    await p.svc.start();
    const [rep, ...more] = await waitReport(r2);
    assert.equal(more.length, 0);
    assert.equal(rep.json.roid, r2);
    assert.equal(rep.json.entityTotal, countStep(fs.readFileSync(small.path)).total);
    assert.match(p.svc.stderr(), /1 spooled notification\(s\) replayed/);
    await spoolEmpties();
    // each revision has exactly one report
    assert.equal((await reports(r1)).length, 1);
  });
});
