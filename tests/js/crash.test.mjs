// Crash safety of a check-in: SIGKILL in the middle of a large /upload, restart on the same
// data dir: no revision, tmp/ empty, no half blob, the project is free and a new check-in works.
// The ~200 MB body is generated with bench/gen_big_ifc.mjs into the system temp dir.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { writeBigIfc } from '../../bench/gen_big_ifc.mjs';
import {
  api, checkinParts, IFC_DIR, listFiles, loginToken, pluginOids, postUpload, sha256,
} from './lib/checkin.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const BIG_BYTES = 200e6;
const SEND_BEFORE_KILL = 40e6;

describe('SIGKILL during a 200 MB upload', () => {
  let srv;
  let bigPath;
  before(async () => {
    bigPath = path.join(os.tmpdir(), `bimhub-crash-${process.pid}-${crypto.randomBytes(4).toString('hex')}.ifc`);
    writeBigIfc(path.join(IFC_DIR, 'duplex.ifc'), BIG_BYTES, bigPath);
    srv = await startServer();
  });
  after(async () => {
    if (bigPath) fs.rmSync(bigPath, { force: true });
    if (srv) await srv.stop();
  });

  test('no revision, tmp/ empty, project free, next check-in succeeds', async () => {
    let a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    const des = (await pluginOids(a)).des['Ifc2x3tc1 (Streaming)'];
    const p = await a.svc('addProject', { projectName: 'crash', schema: 'ifc2x3tc1' });
    const size = fs.statSync(bigPath).size;
    assert.ok(size >= BIG_BYTES);

    const boundary = '----bimhubcrash' + crypto.randomBytes(6).toString('hex');
    const field = (n, v) => `--${boundary}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`;
    const head = Buffer.from(field('token', a.token) + field('deserializerOid', des) + field('comment', 'big') +
      field('poid', p.oid) + `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.ifc"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n');
    const foot = Buffer.from(`\r\n--${boundary}--\r\n`);
    const req = http.request(`${srv.url}/upload`, {
      method: 'POST',
      headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': head.length + size + foot.length },
    });
    const reqDone = new Promise((resolve) => {
      req.on('error', (e) => resolve({ error: e.code || e.message }));
      req.on('response', (res) => { res.resume(); resolve({ status: res.statusCode }); });
    });
    req.write(head);
    // slow writer: 256 KB pieces, waiting for drain and a little more
    const fd = fs.openSync(bigPath, 'r');
    const buf = Buffer.alloc(256 * 1024);
    let sent = 0;
    try {
      while (sent < SEND_BEFORE_KILL) {
        const n = fs.readSync(fd, buf, 0, buf.length, sent);
        if (!req.write(Buffer.from(buf.subarray(0, n)))) await new Promise((r) => req.once('drain', r));
        sent += n;
        await new Promise((r) => setTimeout(r, 2));
      }
    } finally {
      fs.closeSync(fd);
    }
    // the server is working on it: the project is locked by this upload
    const during = await a.svc('getProjectByPoid', { poid: p.oid });
    assert.notEqual(during.checkinInProgress, 0, 'upload in progress holds the project');
    await srv.kill9();
    req.destroy();
    const outcome = await reqDone;
    assert.ok(outcome.error, `the request must not have completed: ${JSON.stringify(outcome)}`);

    await srv.restart();
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    assert.deepEqual(await a.svc('getAllRevisionsOfProject', { poid: p.oid }), [], 'no revision');
    const proj = await a.svc('getProjectByPoid', { poid: p.oid });
    assert.equal(proj.lastRevisionId, -1);
    assert.equal(proj.checkinInProgress, 0, 'project free after restart');
    assert.deepEqual(listFiles(path.join(srv.dataDir, 'tmp')), [], 'tmp/ empty after restart');
    assert.deepEqual(listFiles(path.join(srv.dataDir, 'blobs')), [], 'no half-written blob');

    const small = fs.readFileSync(path.join(IFC_DIR, 'Sample_entities.ifc'));
    const r = await postUpload(srv.url, checkinParts({
      token: a.token, deserializerOid: des, poid: p.oid, data: small, comment: 'after crash',
      extra: [{ name: 'sync', value: 'true' }],
    }));
    assert.equal(r.json && r.json.state, 'FINISHED', r.text);
    const rev = await a.svc('getRevision', { roid: r.json.roid });
    assert.equal(rev.id, 1);
    assert.equal(rev.comment, 'after crash');
    assert.deepEqual(listFiles(path.join(srv.dataDir, 'blobs')).map((b) => path.basename(b)), [sha256(small)]);
  });

  test('a client that goes away while its upload waits for the worker frees the project in seconds', async () => {
    // The upload is suspended whenever the check-in worker is behind (backpressure); MHD does
    // not watch a suspended connection, so the server looks at the socket itself.
    const a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    const des = (await pluginOids(a)).des['Ifc2x3tc1 (Streaming)'];
    const p = await a.svc('addProject', { projectName: 'gone', schema: 'ifc2x3tc1' });
    const size = fs.statSync(bigPath).size;
    const boundary = '----bimhubgone' + crypto.randomBytes(6).toString('hex');
    const field = (n, v) => `--${boundary}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`;
    const head = Buffer.from(field('token', a.token) + field('deserializerOid', des) + field('comment', 'gone') +
      field('poid', p.oid) + `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.ifc"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n');
    const req = http.request(`${srv.url}/upload`, {
      method: 'POST',
      headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': head.length + size + 100 },
    });
    req.on('error', () => {});
    req.write(head);
    // as fast as the server takes it: its queue fills and the connection is suspended
    const fd = fs.openSync(bigPath, 'r');
    const buf = Buffer.alloc(1024 * 1024);
    let sent = 0;
    try {
      while (sent < 30e6) {
        const n = fs.readSync(fd, buf, 0, buf.length, sent);
        if (!req.write(Buffer.from(buf.subarray(0, n)))) await new Promise((r) => req.once('drain', r));
        sent += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    assert.notEqual((await a.svc('getProjectByPoid', { poid: p.oid })).checkinInProgress, 0);
    req.destroy();
    const t0 = Date.now();
    let free = false;
    while (!free && Date.now() - t0 < 8000) {
      await new Promise((r) => setTimeout(r, 200));
      free = (await a.svc('getProjectByPoid', { poid: p.oid })).checkinInProgress === 0;
    }
    assert.ok(free, 'the project is still held 8 s after the client went away (http_idle_timeout_s is 60)');
    assert.deepEqual(await a.svc('getAllRevisionsOfProject', { poid: p.oid }), [], 'no revision');
  });
});
