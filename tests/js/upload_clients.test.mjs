// POST /upload as BIMserver's real clients send it, byte for byte, over a raw socket:
// - the Java client (BimServerClientLib Channel.checkinSync/checkinAsync with httpmime 4.5.7,
//   BROWSER_COMPATIBLE mode): "multipart/form-data; boundary=X; charset=UTF-8" (charset AFTER
//   the boundary), chunked (2048-byte chunks), zlib-deflated data (DeflaterInputStream), the
//   fields topicId, token, deserializerOid, merge, poid, comment, sync, compression, then the
//   file part "data"; checkinSync initiates the check-in first and sends its topicId;
// - the PHP library (opensourceBIM/phpClientLib checkin(), PHP curl with an array): token,
//   poid, comment, merge (false: empty), deserializerOid, the file, then sync=true AFTER the
//   file. BIMserver's UploadServlet starts the check-in at the file with the fields seen so
//   far, so the check-in is asynchronous and the answer is {"topicId":N};
// - the Content-Type parameters in other orders and spellings.
// And every kind of failed upload leaves the project free at once, its topic in error with
// the reason: a bad field, a bad file, a client gone mid-upload, a malformed body, an
// initiated check-in whose upload fails before it starts.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import {
  api, fetchBytes, loginToken, pluginOids, sha256, sharedIfcFiles, waitProgress,
} from './lib/checkin.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const files = sharedIfcFiles();
const byName = Object.fromEntries(files.map((f) => [f.name, f]));
const SMALL = fs.readFileSync(byName['Sample_entities.ifc'].path);
const MEDIUM = fs.readFileSync(byName['tested_sample_project.ifc'].path);
const NOT_IFC = Buffer.from('%PDF-1.4\nthis is not STEP\n'.repeat(200));
const CRLF = Buffer.from('\r\n');

// httpmime's MultipartEntityBuilder.generateBoundary(): 30 to 40 of these characters.
const MIME_CHARS = '-_1234567890abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const javaBoundary = () => Array.from({ length: 30 + crypto.randomInt(11) },
  () => MIME_CHARS[crypto.randomInt(MIME_CHARS.length)]).join('');
// libcurl's boundary as PHP 5's curl wrote it: 28 dashes and 12 hex digits.
const curlBoundary = () => '-'.repeat(28) + crypto.randomBytes(6).toString('hex');

/** A text part as httpmime's BROWSER_COMPATIBLE mode and libcurl write it (no Content-Type). */
const textPart = (boundary, name, value) => Buffer.concat([
  Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`),
  Buffer.from(String(value), 'latin1'), CRLF]);
const filePart = (boundary, name, filename, data) => Buffer.concat([
  Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\n` +
    'Content-Type: application/octet-stream\r\n\r\n'), data, CRLF]);
const closing = (boundary) => Buffer.from(`--${boundary}--\r\n`);

/** Channel.checkinSync/checkinAsync's body: its fields in its order, then "data". */
function javaBody(boundary, { topicId, token, deserializerOid, poid, comment, sync, fileName, data }) {
  const fields = [['topicId', topicId], ['token', token], ['deserializerOid', deserializerOid],
    ['merge', false], ['poid', poid], ['comment', comment], ['sync', sync], ['compression', 'deflate']];
  return Buffer.concat([...fields.map(([n, v]) => textPart(boundary, n, v)),
    filePart(boundary, 'data', fileName, zlib.deflateSync(data)), closing(boundary)]);
}

/** Apache HttpClient's chunked framing: ChunkedOutputStream's 2048-byte buffer. */
function chunked(body, size = 2048) {
  const out = [];
  for (let i = 0; i < body.length; i += size) {
    const piece = body.subarray(i, i + size);
    out.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, CRLF);
  }
  out.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(out);
}

function javaHead(port, boundary, { expect = false } = {}) {
  return 'POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n' +
    `Content-Type: multipart/form-data; boundary=${boundary}; charset=UTF-8\r\n` +
    `Host: 127.0.0.1:${port}\r\nConnection: Keep-Alive\r\n` +
    'User-Agent: Apache-HttpClient/4.5.7 (Java/1.8.0_202)\r\nAccept-Encoding: gzip,deflate\r\n' +
    (expect ? 'Expect: 100-continue\r\n' : '') + '\r\n';
}

/**
 * Sends head, then body (after "100 Continue" when the head asks for it), on a raw socket.
 * Resolves {status, headers, text, json}. With cutAfter, sends only that many body bytes,
 * closes the socket and resolves {cut: true}.
 */
function rawRequest(port, head, body, { cutAfter } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const expect = /\r\nExpect: 100-continue\r\n/i.test(head);
    let buf = Buffer.alloc(0);
    let sentBody = false;
    const sendBody = () => {
      if (sentBody) return;
      sentBody = true;
      if (cutAfter !== undefined) {
        sock.write(body.subarray(0, cutAfter), () => setTimeout(() => { sock.destroy(); resolve({ cut: true }); }, 50));
        return;
      }
      sock.write(body);
    };
    sock.on('error', reject);
    sock.on('connect', () => {
      sock.write(head);
      if (!expect) sendBody();
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(lines[0].split(' ')[1]);
        if (status === 100) {
          buf = buf.subarray(end + 4);
          sendBody();
          continue;
        }
        const headers = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
        }
        const len = Number(headers['content-length']);
        if (buf.length < end + 4 + len) return;
        const text = buf.subarray(end + 4, end + 4 + len).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        sock.destroy();
        resolve({ status, headers, text, json });
        return;
      }
    });
  });
}

describe('/upload from the Java client and the PHP library, as they send it', () => {
  let srv;
  let a;
  let oids;
  let des;
  let n = 0;
  let port;
  const newProject = async () => (await a.svc('addProject', { projectName: `clients-${++n}`, schema: 'ifc2x3tc1' })).oid;

  before(async () => {
    srv = await startServer();
    port = Number(new URL(srv.url).port);
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    oids = await pluginOids(a);
    des = oids.des['Ifc2x3tc1 (Streaming)'];
  });
  after(async () => { if (srv) await srv.stop(); });

  /** The revision holds the file: one revision, its download byte-identical. */
  const checkRevision = async (poid, roid, file) => {
    const revs = await a.svc('getAllRevisionsOfProject', { poid });
    assert.equal(revs.length, 1);
    assert.equal(revs[0].oid, roid);
    const dl = await a.svc('download', { roids: [roid], query: '{}', serializerOid: oids.ser['Ifc (Streaming)'], sync: true });
    const got = await fetchBytes(`${srv.url}/download?token=${a.token}&topicId=${dl}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.length, file.length);
    assert.equal(sha256(got.body), sha256(file), 'the download is the file, byte for byte');
  };

  /** Free now: no check-in holds it, and a new one can be initiated at once. */
  const assertFree = async (poid) => {
    const p = await a.svc('getProjectByPoid', { poid });
    assert.equal(p.checkinInProgress, 0, 'no check-in holds the project');
    const t = await a.svc('initiateCheckin', { poid, deserializerOid: des });
    await a.svc('cleanupLongAction', { topicId: t });
    assert.deepEqual(await a.svc('getAllRevisionsOfProject', { poid }), [], 'no revision');
  };

  /** The topic ended in error, its reason matching re. */
  const assertTopicError = async (topicId, re) => {
    const st = await a.progress(topicId);
    assert.equal(st.state, 'AS_ERROR', JSON.stringify(st));
    assert.match(st.errors.join(' '), re);
  };

  test('Java checkinSync: charset after the boundary, chunked, deflated, initiated topic → FINISHED', async () => {
    const poid = await newProject();
    const topicId = await a.svc('initiateCheckin', { poid, deserializerOid: des });
    const b = javaBoundary();
    const body = javaBody(b, { topicId, token: a.token, deserializerOid: des, poid, comment: 'from java',
      sync: true, fileName: 'tested_sample_project.ifc', data: MEDIUM });
    const r = await rawRequest(port, javaHead(port, b), chunked(body));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json && r.json.state, 'FINISHED', r.text);
    assert.ok(r.json.roid > 0, r.text);
    assert.equal((await a.svc('getRevision', { roid: r.json.roid })).comment, 'from java');
    await checkRevision(poid, r.json.roid, MEDIUM);
  });

  test('Java checkinAsync with Expect: 100-continue → {"topicId":N}, then FINISHED', async () => {
    const poid = await newProject();
    const topicId = await a.svc('initiateCheckin', { poid, deserializerOid: des });
    const b = javaBoundary();
    const body = javaBody(b, { topicId, token: a.token, deserializerOid: des, poid, comment: 'async',
      sync: false, fileName: 'm.ifc', data: MEDIUM });
    const r = await rawRequest(port, javaHead(port, b, { expect: true }), chunked(body));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json && r.json.topicId, topicId, r.text);
    const st = await waitProgress(a, topicId);
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    await checkRevision(poid, st.roid, MEDIUM);
  });

  test('PHP library order (sync after the file): asynchronous, as BIMserver → {"topicId":N}', async () => {
    const poid = await newProject();
    const b = curlBoundary();
    const body = Buffer.concat([textPart(b, 'token', a.token), textPart(b, 'poid', poid),
      textPart(b, 'comment', 'from php'), textPart(b, 'merge', ''), textPart(b, 'deserializerOid', des),
      filePart(b, 'file', 'roof.ifc', SMALL), textPart(b, 'sync', 'true'), closing(b)]);
    const head = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: */*\r\n` +
      `Content-Length: ${body.length}\r\nExpect: 100-continue\r\n` +
      `Content-Type: multipart/form-data; boundary=${b}\r\n\r\n`;
    const r = await rawRequest(port, head, body);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json && !r.json.exception, r.text);
    assert.equal(typeof r.json.topicId, 'number', `sync after the file is not acted on: ${r.text}`);
    assert.equal(r.json.state, undefined);
    const st = await waitProgress(a, r.json.topicId);
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    assert.equal((await a.svc('getRevision', { roid: st.roid })).comment, 'from php');
    await checkRevision(poid, st.roid, SMALL);
  });

  for (const type of [
    (b) => `multipart/form-data; charset=UTF-8; boundary="${b}"`,
    (b) => `Multipart/Form-Data;Boundary=${b};charset=utf-8`,
    (b) => `multipart/form-data; boundary="${b}"; charset=UTF-8`,
  ]) {
    test(`Content-Type ${type('B')}: the fields are read`, async () => {
      const poid = await newProject();
      const b = javaBoundary();
      const body = Buffer.concat([textPart(b, 'token', a.token), textPart(b, 'poid', poid),
        textPart(b, 'deserializerOid', des), textPart(b, 'sync', 'true'),
        filePart(b, 'file', 'm.ifc', SMALL), closing(b)]);
      const head = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n` +
        `Content-Type: ${type(b)}\r\n\r\n`;
      const r = await rawRequest(port, head, body);
      assert.equal(r.json && r.json.state, 'FINISHED', r.text);
      await checkRevision(poid, r.json.roid, SMALL);
    });
  }

  describe('a failed upload frees the project at once', () => {
    test('bad field (deserializerOid not a number) with an initiated topic', async () => {
      const poid = await newProject();
      const topicId = await a.svc('initiateCheckin', { poid, deserializerOid: des });
      const b = javaBoundary();
      const body = javaBody(b, { topicId, token: a.token, deserializerOid: 'abc', poid, comment: 'x',
        sync: true, fileName: 'm.ifc', data: SMALL });
      const r = await rawRequest(port, javaHead(port, b), chunked(body));
      assert.ok(r.json && r.json.exception, r.text);
      assert.match(r.json.exception.message, /deserializerOid/);
      await assertFree(poid);
      await assertTopicError(topicId, /deserializerOid/);
    });

    test('bad file, sync: the reply and the topic say why', async () => {
      const poid = await newProject();
      const topicId = await a.svc('initiateCheckin', { poid, deserializerOid: des });
      const b = javaBoundary();
      const body = javaBody(b, { topicId, token: a.token, deserializerOid: des, poid, comment: 'x',
        sync: true, fileName: 'm.ifc', data: NOT_IFC });
      const r = await rawRequest(port, javaHead(port, b), chunked(body));
      assert.equal(r.json && r.json.state, 'AS_ERROR', r.text);
      assert.ok(r.json.errors.length > 0, r.text);
      await assertFree(poid);
    });

    test('bad file, async: the topic says why once the reply came', async () => {
      const poid = await newProject();
      const topicId = await a.svc('initiateCheckin', { poid, deserializerOid: des });
      const b = javaBoundary();
      const body = javaBody(b, { topicId, token: a.token, deserializerOid: des, poid, comment: 'x',
        sync: false, fileName: 'm.ifc', data: NOT_IFC });
      const r = await rawRequest(port, javaHead(port, b), chunked(body));
      assert.equal(r.json && r.json.topicId, topicId, r.text);
      const st = await waitProgress(a, topicId, { timeoutMs: 5000 });
      assert.equal(st.state, 'AS_ERROR');
      await assertFree(poid);
    });

    test('malformed body after the file began: 400 with the reason, topic in error', async () => {
      const poid = await newProject();
      const topicId = await a.svc('initiateCheckin', { poid, deserializerOid: des });
      const b = javaBoundary();
      const body = javaBody(b, { topicId, token: a.token, deserializerOid: des, poid, comment: 'x',
        sync: true, fileName: 'm.ifc', data: MEDIUM });
      // the delimiter after the file is followed by text: not a multipart body
      const broken = Buffer.concat([body.subarray(0, body.length - closing(b).length),
        Buffer.from(`--${b}garbage\r\n`)]);
      const r = await rawRequest(port, javaHead(port, b), chunked(broken));
      assert.equal(r.status, 400, r.text);
      assert.match(r.json.exception.message, /malformed multipart/);
      await assertFree(poid);
      await assertTopicError(topicId, /malformed multipart/);
    });

    test('body ends before its closing boundary: 400, topic in error', async () => {
      const poid = await newProject();
      const topicId = await a.svc('initiateCheckin', { poid, deserializerOid: des });
      const b = javaBoundary();
      const body = javaBody(b, { topicId, token: a.token, deserializerOid: des, poid, comment: 'x',
        sync: false, fileName: 'm.ifc', data: MEDIUM });
      const r = await rawRequest(port, javaHead(port, b), chunked(body.subarray(0, body.length - 40)));
      assert.equal(r.status, 400, r.text);
      assert.match(r.json.exception.message, /ends early/);
      await assertFree(poid);
      await assertTopicError(topicId, /ends early/);
    });

    test('client gone in the middle of the file', async () => {
      const poid = await newProject();
      const topicId = await a.svc('initiateCheckin', { poid, deserializerOid: des });
      const b = javaBoundary();
      const body = chunked(javaBody(b, { topicId, token: a.token, deserializerOid: des, poid, comment: 'x',
        sync: true, fileName: 'm.ifc', data: MEDIUM }));
      const r = await rawRequest(port, javaHead(port, b), body, { cutAfter: Math.floor(body.length / 2) });
      assert.ok(r.cut);
      // the server learns of the close when it reads the socket: allow it a moment
      const st = await waitProgress(a, topicId, { timeoutMs: 3000 });
      assert.equal(st.state, 'AS_ERROR');
      assert.match(st.errors.join(' '), /interrupted/);
      await assertFree(poid);
    });

    test('initiated topic, upload fails before the file (malformed part headers)', async () => {
      const poid = await newProject();
      const topicId = await a.svc('initiateCheckin', { poid, deserializerOid: des });
      const b = javaBoundary();
      const body = Buffer.concat([textPart(b, 'topicId', topicId), textPart(b, 'token', a.token),
        Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="poid\r\n\r\n1\r\n--${b}--\r\n`)]);
      const r = await rawRequest(port, javaHead(port, b), chunked(body));
      assert.equal(r.status, 400, r.text);
      await assertFree(poid);
      await assertTopicError(topicId, /malformed multipart/);
    });

    test('initiated topic, client gone before the file', async () => {
      const poid = await newProject();
      const topicId = await a.svc('initiateCheckin', { poid, deserializerOid: des });
      const b = javaBoundary();
      const body = chunked(Buffer.concat([textPart(b, 'topicId', topicId), textPart(b, 'token', a.token),
        textPart(b, 'poid', poid)]));
      await rawRequest(port, javaHead(port, b), body, { cutAfter: body.length - 5 });
      const st = await waitProgress(a, topicId, { timeoutMs: 3000 });
      assert.equal(st.state, 'AS_ERROR');
      await assertFree(poid);
    });

    test('initiated topic, no file in the upload ("No file")', async () => {
      const poid = await newProject();
      const topicId = await a.svc('initiateCheckin', { poid, deserializerOid: des });
      const b = javaBoundary();
      const body = Buffer.concat([textPart(b, 'topicId', topicId), textPart(b, 'token', a.token),
        textPart(b, 'poid', poid), closing(b)]);
      const r = await rawRequest(port, javaHead(port, b), chunked(body));
      assert.ok(r.json && r.json.exception, r.text);
      await assertFree(poid);
      await assertTopicError(topicId, /No file/);
    });

    test('another user cannot end someone else\'s initiated check-in by a failed upload', async () => {
      const poid = await newProject();
      const topicId = await a.svc('initiateCheckin', { poid, deserializerOid: des });
      const email = `other-${crypto.randomBytes(3).toString('hex')}@bimhub.test`;
      const uoid = (await a.svc('addUserWithPassword', { username: email, password: 'other-secret-1', name: 'O',
        type: 'USER', selfRegistration: false, resetUrl: '' })).oid;
      await a.svc('addUserToProject', { uoid, poid });
      const other = await loginToken(srv.url, email, 'other-secret-1');
      const b = javaBoundary();
      const body = javaBody(b, { topicId, token: other, deserializerOid: 'abc', poid, comment: 'x',
        sync: true, fileName: 'm.ifc', data: SMALL });
      const r = await rawRequest(port, javaHead(port, b), chunked(body));
      assert.ok(r.json && r.json.exception, r.text);
      const p = await a.svc('getProjectByPoid', { poid });
      assert.equal(p.checkinInProgress, topicId, 'the owner\'s initiated check-in still holds the project');
      await a.svc('cleanupLongAction', { topicId });
    });
  });
});
