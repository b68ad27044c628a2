// frames.mjs: frame-level tracing on top of rawws.mjs, and raw HTTP for handshake tests.
//
//   const ws = await tracedConnect(srv.url);          // a RawWs that also logs every frame
//   const pong = await ws.waitFrame((f) => f.opcode === OP.PONG);   // {fin, rsv, opcode, masked, payload}
//   ws.sendClose(1000);                                 // our close; the server's answer is not echoed
//   const c = await ws.waitClose();                     // {code, reason, rawReason, ...}
//   await ws.waitEnd();                                 // the server closed TCP
//
//   const r = await rawHttp(port, 'GET /stream HTTP/1.1\r\n...\r\n\r\n');
//   r.status, r.statusLine, r.headers (array of [name, value] in wire order), r.body
import net from 'node:net';

import { OP, RawWs } from './rawws.mjs';

/** Wraps a connected RawWs so that every frame the server sends is logged in ws.frames. */
export function trace(ws)
{
  ws.frames = [];
  ws.frameWaiters = [];
  ws.sentClose = false;
  ws.endWaiters = [];
  const orig = ws._frame.bind(ws);
  ws._frame = (f) => {
    const frame = { ...f, at: process.hrtime.bigint() };
    ws.frames.push(frame);
    for (const w of ws.frameWaiters.slice()) {
      if (w.pred(frame)) {
        ws.frameWaiters.splice(ws.frameWaiters.indexOf(w), 1);
        w.resolve(frame);
      }
    }
    if (f.opcode === OP.CLOSE && ws.sentClose && !ws.closeFrame) {
      // The server answers our close: record it, do not echo it back.
      const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
      ws.closeFrame = { code, reason: f.payload.subarray(2).toString('utf8'),
        rawReason: f.payload.subarray(2), maskedByServer: f.masked };
      for (const w of ws.closeWaiters.splice(0)) w(ws._closeInfo());
      return;
    }
    orig(f);
    if (f.opcode === OP.CLOSE && ws.closeFrame && !ws.closeFrame.rawReason) {
      ws.closeFrame.rawReason = f.payload.subarray(2);
    }
  };
  const onEnd = () => {
    for (const w of ws.endWaiters.splice(0)) w();
  };
  ws.sock.on('end', onEnd);
  ws.sock.on('close', onEnd);

  /** The first logged frame (past or future) for which pred(frame) is true. */
  ws.waitFrame = (pred, { timeoutMs = 10000 } = {}) => {
    const seen = ws.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: null };
      const timer = setTimeout(() => {
        ws.frameWaiters.splice(ws.frameWaiters.indexOf(w), 1);
        reject(new Error(`no matching frame within ${timeoutMs} ms; got ${describeFrames(ws.frames)}`));
      }, timeoutMs);
      w.resolve = (f) => { clearTimeout(timer); resolve(f); };
      ws.frameWaiters.push(w);
    });
  };
  /** Resolves once the TCP connection has ended (the server closed it). */
  ws.waitEnd = ({ timeoutMs = 10000 } = {}) => {
    if (ws.ended) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`TCP still open after ${timeoutMs} ms`)),
        timeoutMs);
      ws.endWaiters.push(() => { clearTimeout(timer); resolve(true); });
    });
  };
  /** Sends a close frame with this code (null: no payload) and optional reason bytes. */
  ws.sendClose = (code, reason = Buffer.alloc(0)) => {
    let p = Buffer.alloc(0);
    if (code !== null && code !== undefined) {
      p = Buffer.alloc(2);
      p.writeUInt16BE(code);
      p = Buffer.concat([p, Buffer.isBuffer(reason) ? reason : Buffer.from(reason, 'utf8')]);
    }
    ws.sentClose = true;
    ws.sendFrame(OP.CLOSE, p);
  };
  /** Writes raw bytes, for frames sendFrame cannot build. */
  ws.sendRaw = (bytes) => ws.sock.write(Buffer.from(bytes));
  return ws;
}

export async function tracedConnect(baseUrl, path = '/stream', opts = {})
{
  return trace(await RawWs.connect(baseUrl, path, opts));
}

export function describeFrames(frames)
{
  return '[' + frames.map((f) => {
    let p = f.payload.subarray(0, 60).toString('utf8');
    if (f.opcode === OP.CLOSE && f.payload.length >= 2) p = `code ${f.payload.readUInt16BE(0)}`;
    return `op=${f.opcode}${f.fin ? '' : ' fin=0'} ${JSON.stringify(p)}`;
  }).join(', ') + ']';
}

/**
 * Sends raw request bytes on a fresh TCP connection and parses the response head. Reads until
 * the head is complete plus Content-Length bytes of body, or until the server closes, or
 * timeoutMs. Returns {status, statusLine, headers: [[name, value]...], body, raw}.
 */
export function rawHttp(port, request, { host = '127.0.0.1', timeoutMs = 10000 } = {})
{
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) { reject(err); return; }
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        reject(new Error(`no complete response head: ${JSON.stringify(buf.toString('latin1'))}`));
        return;
      }
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const m = /^HTTP\/\d\.\d (\d{3})/.exec(lines[0]);
      const headers = [];
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers.push([l.slice(0, i).trim(), l.slice(i + 1).trim()]);
      }
      resolve({ status: m ? Number(m[1]) : null, statusLine: lines[0], headers,
        body: buf.subarray(end + 4).toString('utf8'), raw: buf.toString('latin1') });
    };
    const timer = setTimeout(() => finish(), timeoutMs);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      if (/^HTTP\/\d\.\d 101/.test(head)) { finish(); return; }
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (cl && buf.length >= end + 4 + Number(cl[1])) finish();
    });
    sock.on('end', () => finish());
    sock.on('close', () => finish());
    sock.on('error', (e) => (buf.length ? finish() : finish(e)));
    sock.on('connect', () => sock.write(request));
  });
}

/** Headers named `name` (case-insensitive) from a rawHttp result. */
export function headerValues(res, name)
{
  return res.headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}
