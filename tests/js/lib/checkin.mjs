// checkin.mjs: helpers for check-in, download and extended-data tests.
//
// - installFormDataXhr(): xhr2 (the XMLHttpRequest client.mjs installs) cannot send a
//   FormData ("Unsupported send() data [object FormData]"). This wraps it so that send(FormData)
//   serializes the form with Node's own encoder (new Response(formData)) and sends the bytes
//   with the multipart Content-Type, exactly what a browser would put on the wire. It also
//   provides a FileReader stub, because bimserverapi's addExtendedData() constructs one
//   (and only uses it for a "File", a branch it never takes: typeof data is never "File").
// - multipart(parts): a raw multipart/form-data body in the given part order.
// - Wrappers around /json (admin-style `api(srv.url, token)`), progress polling, hashes.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import XHR from 'xhr2';

import { httpRequest, rpc } from './client.mjs';
import { SHARED_DIR } from './server.mjs';

export const IFC_DIR = path.join(SHARED_DIR, 'data', 'ifc');

/** Every *.ifc of the shared data, smallest first: [{name, path, size, schema}]. */
export function sharedIfcFiles()
{
  return fs.readdirSync(IFC_DIR).filter((f) => f.endsWith('.ifc')).map((name) => {
    const p = path.join(IFC_DIR, name);
    return { name, path: p, size: fs.statSync(p).size, schema: ifcSchemaOf(fs.readFileSync(p)) };
  }).sort((a, b) => a.size - b.size);
}

/** 'ifc2x3tc1' or 'ifc4' from FILE_SCHEMA in the header. */
export function ifcSchemaOf(buf)
{
  const head = buf.subarray(0, 8192).toString('latin1');
  const m = /FILE_SCHEMA\s*\(\s*\(\s*'([^']+)'/i.exec(head);
  if (!m) throw new Error('no FILE_SCHEMA in header');
  const s = m[1].toUpperCase();
  if (s.startsWith('IFC2X3')) return 'ifc2x3tc1';
  if (s === 'IFC4' || s.startsWith('IFC4X0') || s.startsWith('IFC4_')) return 'ifc4';
  if (s.startsWith('IFC4X3')) return 'ifc4x3';
  return s.toLowerCase();
}

export const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

let installed = false;
export function installFormDataXhr()
{
  if (installed) return;
  installed = true;
  class FormDataXHR extends XHR {
    send(data) {
      if (data instanceof FormData) {
        const res = new Response(data);
        const type = res.headers.get('content-type');
        res.arrayBuffer().then((ab) => {
          this.setRequestHeader('Content-Type', type);
          super.send(Buffer.from(ab));
        }, (err) => {
          this.dispatchEvent?.({ type: 'error', error: err });
        });
        return undefined;
      }
      return super.send(data);
    }
  }
  globalThis.XMLHttpRequest = FormDataXHR;
  if (typeof globalThis.FileReader === 'undefined') {
    globalThis.FileReader = class FileReader {
      readAsBinaryString() { throw new Error('FileReader stub: not implemented'); }
    };
  }
}

/**
 * A multipart/form-data body. parts: [{name, value}] for fields,
 * [{name, filename, data: Buffer, contentType}] for files, in this order.
 * Returns {body: Buffer, contentType}.
 */
export function multipart(parts, boundary = '----bimhubtest' + crypto.randomBytes(8).toString('hex'))
{
  const chunks = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) {
      head += `; filename="${p.filename}"\r\nContent-Type: ${p.contentType || 'application/octet-stream'}`;
    }
    head += '\r\n\r\n';
    chunks.push(Buffer.from(head, 'utf8'));
    chunks.push(Buffer.isBuffer(p.data) ? p.data : Buffer.from(String(p.value ?? p.data ?? ''), 'utf8'));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}`, boundary };
}

/** POST a multipart body to /upload; resolves {status, headers, text, json}. */
export function postUpload(baseUrl, parts, { headers = {} } = {})
{
  const { body, contentType } = multipart(parts);
  return httpRequest(`${baseUrl}/upload`, {
    method: 'POST', headers: { 'Content-Type': contentType, ...headers }, body,
  });
}

/** The usual JS-order check-in fields + file. */
export function checkinParts({ token, deserializerOid, comment = 'test', poid, topicId, extra = [],
  fileName = 'model.ifc', data, fileField = 'file' })
{
  const parts = [];
  if (token !== undefined) parts.push({ name: 'token', value: token });
  if (deserializerOid !== undefined) parts.push({ name: 'deserializerOid', value: deserializerOid });
  if (comment !== undefined) parts.push({ name: 'comment', value: comment });
  if (poid !== undefined) parts.push({ name: 'poid', value: poid });
  if (topicId !== undefined) parts.push({ name: 'topicId', value: topicId });
  parts.push(...extra);
  parts.push({ name: fileField, filename: fileName, data });
  return parts;
}

/** JSON API bound to a server and token: api.call(iface, method, params) → result or throws;
 *  api.err(iface, method, params) → the exception object (throws if it succeeded). */
export function api(baseUrl, token)
{
  const o = {
    token,
    async raw(iface, method, params = {}) {
      return rpc(baseUrl, iface, method, params, token);
    },
    async call(iface, method, params = {}) {
      const r = await rpc(baseUrl, iface, method, params, token);
      if (!r.response || !('result' in r.response)) {
        const e = new Error(`${iface}.${method}(${JSON.stringify(params).slice(0, 300)}) failed: ${JSON.stringify(r)}`);
        e.exception = r.response && r.response.exception;
        throw e;
      }
      return r.response.result;
    },
    async err(iface, method, params = {}) {
      const r = await rpc(baseUrl, iface, method, params, token);
      if (!r.response || !r.response.exception) {
        throw new Error(`${iface}.${method} was expected to fail but answered ${JSON.stringify(r).slice(0, 500)}`);
      }
      return r.response.exception;
    },
    svc: (m, p) => o.call('ServiceInterface', m, p),
    svcErr: (m, p) => o.err('ServiceInterface', m, p),
    plugin: (m, p) => o.call('PluginInterface', m, p),
    progress: (topicId) => o.call('NotificationRegistryInterface', 'getProgress', { topicId }),
  };
  return o;
}

export async function loginToken(baseUrl, username, password)
{
  const r = await rpc(baseUrl, 'AuthInterface', 'login', { username, password });
  if (!r.response || typeof r.response.result !== 'string') {
    throw new Error(`login ${username}: ${JSON.stringify(r)}`);
  }
  return r.response.result;
}

/** Polls getProgress until state is FINISHED or AS_ERROR (or until done(state)). */
export async function waitProgress(a, topicId, { timeoutMs = 60000, done } = {})
{
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await a.progress(topicId);
    if (done ? done(last) : (last && (last.state === 'FINISHED' || last.state === 'AS_ERROR'))) return last;
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(`topic ${topicId} not done after ${timeoutMs} ms; last state ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The caller's deserializer / serializer configurations by name. */
export async function pluginOids(a)
{
  const des = await a.plugin('getAllDeserializers', { onlyEnabled: true });
  const ser = await a.plugin('getAllSerializers', { onlyEnabled: true });
  return {
    des: Object.fromEntries(des.map((d) => [d.name, d.oid])),
    ser: Object.fromEntries(ser.map((s) => [s.name, s.oid])),
  };
}

export const DESERIALIZER_FOR = {
  ifc2x3tc1: 'Ifc2x3tc1 (Streaming)', ifc4: 'Ifc4 (Streaming)', ifc4x3: 'Ifc4x3 (Streaming)',
};
export const ZIP_DESERIALIZER_FOR = {
  ifc2x3tc1: 'IfcZip 2x3tc1', ifc4: 'IfcZip 4', ifc4x3: 'IfcZip 4x3',
};

/** GET/POST a URL and return the raw bytes: {status, headers, body: Buffer}. */
export function fetchBytes(url, { method = 'GET', headers = {}, body } = {})
{
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Files in dir (recursively), relative paths; [] when dir does not exist. */
export function listFiles(dir)
{
  if (!fs.existsSync(dir)) return [];
  const out = [];
  const walk = (d, rel) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** Minimal zip writer (stored or deflated entries) for test inputs; entries: [{name, data}]. */
export async function makeZip(entries, { deflate = true } = {})
{
  const zlib = await import('node:zlib');
  const crcTable = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  const crc32 = (buf) => {
    let c = -1;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ -1) >>> 0;
  };
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const comp = deflate ? zlib.deflateRawSync(e.data) : e.data;
    const crc = crc32(e.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt16LE(0, 6);
    lh.writeUInt16LE(deflate ? 8 : 0, 8); lh.writeUInt32LE(0, 10); lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(comp.length, 18); lh.writeUInt32LE(e.data.length, 22);
    lh.writeUInt16LE(name.length, 26); lh.writeUInt16LE(0, 28);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(0, 8); ch.writeUInt16LE(deflate ? 8 : 0, 10); ch.writeUInt32LE(0, 12);
    ch.writeUInt32LE(crc, 16); ch.writeUInt32LE(comp.length, 20); ch.writeUInt32LE(e.data.length, 24);
    ch.writeUInt16LE(name.length, 28); ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, comp);
    centrals.push(ch, name);
    offset += 30 + name.length + comp.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10); end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Reads the entries of a zip (central directory; stored or deflated): [{name, data}]. */
export async function readZip(buf)
{
  const zlib = await import('node:zlib');
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('not a zip: no end of central directory');
  const n = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let i = 0; i < n; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central header');
    const method = buf.readUInt16LE(p + 10);
    const csize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const lho = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    const lNameLen = buf.readUInt16LE(lho + 26);
    const lExtraLen = buf.readUInt16LE(lho + 28);
    const start = lho + 30 + lNameLen + lExtraLen;
    const comp = buf.subarray(start, start + csize);
    out.push({ name, method, data: method === 8 ? zlib.inflateRawSync(comp) : Buffer.from(comp) });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
