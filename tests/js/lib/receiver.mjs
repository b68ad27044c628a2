// receiver.mjs: a remote service that receives notifications (spec §8.4), for delivery tests.
// A Node HTTP server on 127.0.0.1 that records every POST and answers what the test says.
//
//   const r = await startReceiver();            // or startReceiver({ port }) for a fixed port
//   r.url                                        // 'http://127.0.0.1:<port>' (the SService url)
//   r.got                                        // [{id, timestamp, signature, json, body, headers,
//                                                //   at, status}] in arrival order
//   r.respond = (rec, n) => ({ status, body, headers }) | 'hang' | 'hold' | undefined (undefined: 200 and
//                                                //   {"response":{"result":{}}}); n counts from 1
//   r.release()                                  // answers the 'hold' ones now: 200 and an empty result
//   r.notifs('newRevision')                      // the parsed requests of that method
//   await r.waitFor((got) => got.length >= 3, 5000)   // true when it held in time
//   await r.close();  await r.listen();          // stop and start again on the same port
import http from 'node:http';

export const OK_BODY = JSON.stringify({ response: { result: {} } });

export async function startReceiver({ port = 0 } = {})
{
  const r = {
    url: null,
    port: null,
    got: [],
    held: [],
    respond: undefined,
    server: null,
    sockets: new Set(),
    clear() { this.got.length = 0; },
    release() {
      for (const { rec, res } of this.held.splice(0)) {
        rec.status = 200;
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(OK_BODY) });
        res.end(OK_BODY);
      }
    },
    notifs(method) {
      return this.got.filter((g) => g.json?.request && (!method || g.json.request.method === method))
        .map((g) => g.json.request);
    },
    async waitFor(pred, ms = 10000) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (pred(this.got)) return true;
        await new Promise((res) => setTimeout(res, 25));
      }
      return pred(this.got);
    },
  };

  const handle = (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json;
      try { json = JSON.parse(body); } catch { json = undefined; }
      const rec = {
        id: req.headers['webhook-id'], timestamp: req.headers['webhook-timestamp'],
        signature: req.headers['webhook-signature'], path: req.url, json, body,
        headers: { ...req.headers }, at: Date.now(), status: 200,
      };
      r.got.push(rec);
      const a = r.respond ? r.respond(rec, r.got.length) : undefined;
      if (a === 'hang') { rec.status = 0; return; }
      if (a === 'hold') { rec.status = 0; r.held.push({ rec, res }); return; }
      const status = a?.status ?? 200;
      const out = a?.body ?? OK_BODY;
      rec.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out),
        ...(a?.headers || {}) });
      res.end(out);
    });
  };

  r.listen = async () => {
    r.server = http.createServer(handle);
    r.server.keepAliveTimeout = 30000;
    r.server.on('connection', (s) => {
      r.sockets.add(s);
      s.on('close', () => r.sockets.delete(s));
    });
    await new Promise((resolve, reject) => {
      r.server.once('error', reject);
      r.server.listen(r.port ?? port, '127.0.0.1', resolve);
    });
    r.port = r.server.address().port;
    r.url = `http://127.0.0.1:${r.port}`;
    return r;
  };
  r.close = () => new Promise((resolve) => {
    for (const s of r.sockets) s.destroy();
    r.server.close(() => resolve());
  });
  return r.listen();
}
