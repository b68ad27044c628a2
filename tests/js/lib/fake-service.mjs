// fake-service.mjs: a remote service provider (spec §4.8, §8) for tests. A Node HTTP server
// on 127.0.0.1, port 0, answering BIMserver's RemoteServiceInterface at POST /json:
//   getService(serviceIdentifier)          -> SServiceDescriptor, or null ({}) when unknown
//   getPublicProfiles(serviceIdentifier)   -> [SProfileDescriptor]
//   getPrivateProfiles(serviceIdentifier, token) -> []
//   newRevision / newExtendedDataOnRevision / newExtendedDataOnProject -> void ({})
// Every request is recorded (fake.requests: {method, path, headers, body, json}) whatever the
// mode. fake.mode makes it misbehave:
//   'ok' (default), 'status500', 'nonjson', 'notype' (objects without __type),
//   'exception' ({"response":{"exception":{...}}}), 'hang' (never answers),
//   'redirect' (302 to /redirected/json, which would answer normally).
//
//   const fake = await startFakeService();
//   fake.url  -> 'http://127.0.0.1:<port>'    fake.requests, fake.clear(), fake.mode = 'hang'
//   fake.rpcs() -> the parsed /json request envelopes;  await fake.close();
import http from 'node:http';

export const SERVICE_ID = 'clash';

/** What getService('clash') answers. `url` is deliberately not the fake's own address. */
export function descriptorOf(identifier = SERVICE_ID)
{
  return {
    __type: 'SServiceDescriptor',
    authorizeUrl: 'http://provider.invalid/authorize',
    companyUrl: 'http://provider.invalid/',
    description: 'Finds clashes between building elements',
    identifier,
    name: 'Clash detector',
    newProfileUrl: 'http://provider.invalid/newprofile',
    notificationProtocol: 'JSON',
    providerName: 'ACME',
    readExtendedData: null,
    readRevision: true,
    registerUrl: 'http://provider.invalid/register',
    token: null,
    tokenUrl: 'http://provider.invalid/token',
    trigger: 'NEW_REVISION',
    url: 'http://provider.invalid/not-the-base-url',
    writeExtendedData: 'http://acme.example/clash-report',
    writeRevision: false,
  };
}

export function publicProfilesOf()
{
  return [
    { __type: 'SProfileDescriptor', description: 'The default settings', identifier: 'default',
      name: 'Default', publicProfile: true },
    { __type: 'SProfileDescriptor', description: 'Hard clashes only', identifier: 'strict',
      name: 'Strict', publicProfile: true },
  ];
}

function stripType(v)
{
  if (Array.isArray(v)) return v.map(stripType);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([k]) => k !== '__type')
      .map(([k, x]) => [k, stripType(x)]));
  }
  return v;
}

export async function startFakeService({ identifiers = [SERVICE_ID] } = {})
{
  const fake = {
    url: null,
    port: null,
    mode: 'ok',
    requests: [],
    sockets: new Set(),
    clear() { this.requests.length = 0; },
    /** The parsed JSON bodies of the POSTs to /json (any path ending in /json). */
    rpcs() { return this.requests.filter((r) => r.json !== undefined).map((r) => r.json); },
    /** Waits until pred(requests) is true or ms pass; returns whether it became true. */
    async waitFor(pred, ms = 5000) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (pred(this.requests)) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return pred(this.requests);
    },
  };

  const answer = (res, status, body, type = 'application/json') => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  const result = (res, value) => answer(res, 200, JSON.stringify({ response: { result: value } }));

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json;
      try { json = JSON.parse(body); } catch { json = undefined; }
      const path = new URL(req.url, 'http://x').pathname;
      fake.requests.push({ method: req.method, path, headers: { ...req.headers }, body, json });

      const mode = path.startsWith('/redirected') ? 'ok' : fake.mode;
      switch (mode) {
      case 'hang':
        return; // never answers; the socket is destroyed by close()
      case 'status500':
        return answer(res, 500, 'Internal Server Error', 'text/plain');
      case 'nonjson':
        return answer(res, 200, '<html><body>Hello, this is not JSON</body></html>', 'text/html');
      case 'exception':
        return answer(res, 200, JSON.stringify({ response: { exception: {
          __type: 'UserException', message: 'The fake provider refuses this call' } } }));
      case 'redirect':
        res.writeHead(302, { Location: '/redirected/json', 'Content-Length': 0 });
        return res.end();
      default:
        break;
      }
      if (req.method !== 'POST' || !path.endsWith('/json') || !json || !json.request) {
        return answer(res, 404, 'not found', 'text/plain');
      }
      const { method, parameters = {} } = json.request;
      const known = identifiers.includes(parameters.serviceIdentifier);
      let value;
      switch (method) {
      case 'getService': value = known ? descriptorOf(parameters.serviceIdentifier) : {}; break;
      case 'getPublicProfiles': value = known ? publicProfilesOf() : []; break;
      case 'getPrivateProfiles': value = []; break;
      case 'newRevision':
      case 'newExtendedDataOnRevision':
      case 'newExtendedDataOnProject': value = {}; break;
      default:
        return answer(res, 200, JSON.stringify({ response: { exception: {
          __type: 'UserException', message: `Method ${method} not found` } } }));
      }
      if (mode === 'notype') value = stripType(value);
      return result(res, value);
    });
  });
  server.on('connection', (s) => {
    fake.sockets.add(s);
    s.on('close', () => fake.sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  fake.port = server.address().port;
  fake.url = `http://127.0.0.1:${fake.port}`;
  fake.close = () => new Promise((resolve) => {
    for (const s of fake.sockets) s.destroy();
    server.close(() => resolve());
  });
  return fake;
}

/** A 127.0.0.1 port on which nothing listens (bound, then closed). */
export async function refusedPort()
{
  const s = http.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}
