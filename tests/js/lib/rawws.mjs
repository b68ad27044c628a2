// rawws.mjs: a tiny RFC 6455 client over net.Socket, for frames a well-behaved WebSocket
// library refuses to send (invalid UTF-8 text, oversized messages, odd opcodes).
//
//   const ws = await RawWs.connect('http://127.0.0.1:PORT', '/stream');
//   const welcome = await ws.nextMessage();          // {opcode, data: Buffer, text}
//   ws.sendFrame(0x1, Buffer.from([0xc3, 0x28]));    // invalid UTF-8 in a text frame
//   const { code } = await ws.waitClose();           // close code sent by the server
import crypto from 'node:crypto';
import net from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

export class RawWs {
  constructor(sock, rest)
  {
    this.sock = sock;
    this.buf = rest;
    this.messages = [];
    this.waiters = [];
    this.frag = null; // {opcode, parts} while a fragmented message arrives
    this.closeFrame = null; // {code, reason} of the server's close frame
    this.ended = false;
    this.closeWaiters = [];
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this._parse();
    });
    const onEnd = () => {
      if (this.ended) return;
      this.ended = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error('connection ended'));
      for (const w of this.closeWaiters.splice(0)) w(this._closeInfo());
    };
    sock.on('end', onEnd);
    sock.on('close', onEnd);
    sock.on('error', () => {});
    this._parse();
  }

  /** Connects and completes the opening handshake (checks 101 and Sec-WebSocket-Accept). */
  static connect(baseUrl, path = '/stream', { timeoutMs = 10000 } = {})
  {
    const u = new URL(baseUrl);
    const key = crypto.randomBytes(16).toString('base64');
    const expectAccept = crypto.createHash('sha1').update(key + GUID).digest('base64');
    return new Promise((resolve, reject) => {
      const sock = net.connect(Number(u.port), u.hostname);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error('websocket handshake timed out'));
      }, timeoutMs);
      let head = Buffer.alloc(0);
      const onData = (d) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        sock.off('data', onData);
        clearTimeout(timer);
        const text = head.subarray(0, end).toString('latin1');
        const lines = text.split('\r\n');
        const status = /^HTTP\/1\.1 (\d+)/.exec(lines[0]);
        const headers = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        if (!status || status[1] !== '101') {
          sock.destroy();
          reject(new Error(`websocket upgrade refused: ${lines[0]}`));
          return;
        }
        if (headers['sec-websocket-accept'] !== expectAccept) {
          sock.destroy();
          reject(new Error(`bad Sec-WebSocket-Accept: ${headers['sec-websocket-accept']}`));
          return;
        }
        const ws = new RawWs(sock, head.subarray(end + 4));
        ws.headers = headers;
        resolve(ws);
      };
      sock.on('data', onData);
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      sock.once('connect', () => {
        sock.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
    });
  }

  _parse()
  {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      let mask = null;
      if (masked) {
        if (b.length < off + 4) return;
        mask = b.subarray(off, off + 4);
        off += 4;
      }
      if (b.length < off + len) return;
      let payload = Buffer.from(b.subarray(off, off + len));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      this.buf = b.subarray(off + len);
      this._frame({ fin, opcode, masked, payload });
    }
  }

  _frame(f)
  {
    if (f.opcode === OP.CLOSE) {
      const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
      const reason = f.payload.length > 2 ? f.payload.subarray(2).toString('utf8') : '';
      if (!this.closeFrame) {
        this.closeFrame = { code, reason, maskedByServer: f.masked };
        // echo the close as RFC 6455 asks, then let the server close TCP
        try { this.sendFrame(OP.CLOSE, f.payload.subarray(0, 2)); } catch { /* gone */ }
      }
      for (const w of this.closeWaiters.splice(0)) w(this._closeInfo());
      return;
    }
    if (f.opcode === OP.PING) {
      try { this.sendFrame(OP.PONG, f.payload); } catch { /* gone */ }
      return;
    }
    if (f.opcode === OP.PONG) return;
    if (f.opcode === OP.CONT && this.frag) {
      this.frag.parts.push(f.payload);
      if (!f.fin) return;
      f = { opcode: this.frag.opcode, payload: Buffer.concat(this.frag.parts), masked: f.masked };
      this.frag = null;
    } else if (!f.fin) {
      this.frag = { opcode: f.opcode, parts: [f.payload] };
      return;
    }
    const msg = {
      opcode: f.opcode,
      data: f.payload,
      text: f.opcode === OP.TEXT ? f.payload.toString('utf8') : null,
      maskedByServer: f.masked,
    };
    const w = this.waiters.shift();
    if (w) w.resolve(msg);
    else this.messages.push(msg);
  }

  _closeInfo()
  {
    return { code: this.closeFrame ? this.closeFrame.code : null,
      reason: this.closeFrame ? this.closeFrame.reason : null,
      closeFrame: this.closeFrame !== null, ended: this.ended };
  }

  /** Next text or binary message: {opcode, data, text}. */
  nextMessage({ timeoutMs = 10000 } = {})
  {
    if (this.messages.length) return Promise.resolve(this.messages.shift());
    if (this.ended || this.closeFrame) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const w = { resolve, reject };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      w.resolve = (m) => { clearTimeout(timer); resolve(m); };
      w.reject = (e) => { clearTimeout(timer); reject(e); };
      this.waiters.push(w);
    });
  }

  /** Resolves {code, reason, closeFrame, ended} once the server sent a close frame or the
   *  TCP connection ended; rejects after timeoutMs. */
  waitClose({ timeoutMs = 10000 } = {})
  {
    if (this.closeFrame || this.ended) return Promise.resolve(this._closeInfo());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not close within ${timeoutMs} ms`)),
        timeoutMs);
      this.closeWaiters.push((info) => { clearTimeout(timer); resolve(info); });
    });
  }

  /** Sends one frame, masked as a client must (mask: false to break that rule on purpose). */
  sendFrame(opcode, payload, { fin = true, mask = true, rsv = 0 } = {})
  {
    const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload ?? '');
    const len = data.length;
    const head = [(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)];
    const m = mask ? 0x80 : 0;
    let ext;
    if (len < 126) {
      head.push(m | len);
      ext = Buffer.alloc(0);
    } else if (len < 65536) {
      head.push(m | 126);
      ext = Buffer.alloc(2);
      ext.writeUInt16BE(len);
    } else {
      head.push(m | 127);
      ext = Buffer.alloc(8);
      ext.writeBigUInt64BE(BigInt(len));
    }
    let body = data;
    let key = Buffer.alloc(0);
    if (mask) {
      key = crypto.randomBytes(4);
      body = Buffer.from(data);
      for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
    }
    this.sock.write(Buffer.concat([Buffer.from(head), ext, key, body]));
  }

  sendText(s) { this.sendFrame(OP.TEXT, Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8')); }
  sendBinary(b) { this.sendFrame(OP.BINARY, Buffer.from(b)); }
  sendJson(o) { this.sendText(JSON.stringify(o)); }

  close(code = 1000)
  {
    if (!this.ended) {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(code);
      try { this.sendFrame(OP.CLOSE, p); } catch { /* gone */ }
    }
    return this.destroy();
  }

  destroy()
  {
    this.sock.destroy();
    this.ended = true;
  }
}
