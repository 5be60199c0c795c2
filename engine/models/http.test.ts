// The HTTP client: downloads through an HTTP proxy (absolute-URI requests for http, CONNECT tunnels
// for https with the server's certificate checked), the no-proxy list, redirect limits, timeouts,
// cancelling, and Retry-After.
import { test, after, afterEach, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bypassesProxy, readBody, retryAfterMs, send } from './http.js';
import { HubError } from './hub-error.js';
import { pullFile } from './download.js';
import { FakeHub } from '../../test/support/fake-hub.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-http-'));
const servers: (http.Server | https.Server | net.Server)[] = [];
/** Tunnelled sockets, which leave the proxy's HTTP server and are closed here. */
const tunnels = new Set<net.Socket | Duplex>();
// The servers a test starts are closed when it ends.
afterEach(async () => {
  for (const t of tunnels) t.destroy();
  tunnels.clear();
  for (const s of servers.splice(0)) {
    if ('closeAllConnections' in s) s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function listen<T extends http.Server | https.Server | net.Server>(s: T, host = '127.0.0.1'): Promise<T & { port: number }> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, host, r));
  return Object.assign(s, { port: (s.address() as AddressInfo).port });
}

interface Seen { method: string; url: string; proxyAuth?: string }

/** A forwarding proxy: absolute-URI requests for http, CONNECT tunnels; refuses CONNECT to port 1. */
async function proxy(): Promise<{ url: string; seen: Seen[]; tunnelled: () => number }> {
  const seen: Seen[] = [];
  let tunnelled = 0;
  const s = http.createServer((q, res) => {
    seen.push({ method: q.method!, url: q.url!, proxyAuth: q.headers['proxy-authorization'] });
    const target = new URL(q.url!);
    const headers = { ...q.headers };
    delete headers['proxy-authorization'];
    const up = http.request(target, { method: q.method, headers, agent: false }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    q.pipe(up);
  });
  s.on('connect', (q, client) => {
    seen.push({ method: 'CONNECT', url: q.url!, proxyAuth: q.headers['proxy-authorization'] });
    const [host, port] = q.url!.split(':');
    if (port === '1') return void client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    const up = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.on('data', (b: Buffer) => (tunnelled += b.length));
      up.pipe(client);
      client.pipe(up);
    });
    tunnels.add(up).add(client);
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  const p = await listen(s);
  return { url: `http://user:p%40ss@127.0.0.1:${p.port}`, seen, tunnelled: () => tunnelled };
}

const COMMIT = 'a'.repeat(40);
let hub: FakeHub;
beforeEach(async () => {
  hub = await FakeHub.start([{ repo: 'o/m', commit: COMMIT, files: [{ path: 'm.gguf', content: Buffer.alloc(300_000, 5) }] }]);
});
afterEach(() => hub.close());

test('a download through an HTTP proxy: absolute-URI requests to the Hub and the CDN, with the proxy credentials', async () => {
  const p = await proxy();
  const r = await pullFile('o/m', 'm.gguf', { endpoint: hub.url, cacheDir: join(dir, 'c1'), token: 'hf_t', env: {}, proxy: p.url });
  assert.equal(readFileSync(r.path).length, 300_000);
  assert.ok(p.seen.some((s) => s.url.startsWith(`${hub.url}/api/models/o/m/`)), 'API through the proxy');
  assert.ok(p.seen.some((s) => s.url.startsWith(`${hub.cdnUrl}/blobs/`)), 'CDN through the proxy');
  assert.ok(p.seen.every((s) => s.proxyAuth === `Basic ${Buffer.from('user:p@ss').toString('base64')}`));
  assert.ok(hub.requests.filter((q) => q.host === 'cdn').every((q) => q.authorization === undefined));
});

test('hosts on the no-proxy list are reached directly', async () => {
  const p = await proxy();
  await pullFile('o/m', 'm.gguf', { endpoint: hub.url, cacheDir: join(dir, 'c2'), token: null, env: {}, proxy: p.url, noProxy: ['127.0.0.2'] });
  assert.ok(p.seen.length > 0 && p.seen.every((s) => s.url.startsWith(hub.url)), JSON.stringify(p.seen));
  assert.equal(bypassesProxy(new URL('https://cdn-lfs.hf.co/x'), ['.hf.co']), true);
  assert.equal(bypassesProxy(new URL('https://hf.co/x'), ['.hf.co']), true);
  assert.equal(bypassesProxy(new URL('https://nothf.co/x'), ['hf.co']), false);
  assert.equal(bypassesProxy(new URL('https://a.hf.co/x'), ['hf.co']), true);
  assert.equal(bypassesProxy(new URL('http://localhost:8080/x'), ['localhost:9090']), false);
  assert.equal(bypassesProxy(new URL('http://localhost:8080/x'), ['localhost:8080']), true);
  assert.equal(bypassesProxy(new URL('http://[::1]/x'), ['::1']), true);
  assert.equal(bypassesProxy(new URL('http://any/x'), ['*']), true);
  await assert.rejects(send({ url: hub.url }, { proxy: 'socks5://127.0.0.1:1' }), (e: unknown) => e instanceof HubError && e.code === 'bad-argument');
});

// A certificate for 127.0.0.1 made for this run; without openssl this test says it skipped.
const certDir = mkdtempSync(join(tmpdir(), 'hearth-cert-'));
const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(certDir, 'key.pem'),
  '-out', join(certDir, 'cert.pem'), '-days', '1', '-subj', '/CN=hearth-test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' }).status === 0;
after(() => rmSync(certDir, { recursive: true, force: true }));

test('https through a CONNECT tunnel, with the server certificate checked', { skip: made ? false : 'openssl is not installed' }, async () => {
  const cert = readFileSync(join(certDir, 'cert.pem'));
  const seenPaths: string[] = [];
  const tlsServer = await listen(https.createServer({ key: readFileSync(join(certDir, 'key.pem')), cert }, (q, res) => {
    seenPaths.push(`${q.url} ${q.headers.authorization ?? ''}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  }));
  const p = await proxy();
  const url = `https://127.0.0.1:${tlsServer.port}/api/x`;
  const res = await send({ url, auth: { origin: new URL(url).origin, token: 'hf_t' } }, { proxy: p.url, ca: cert });
  assert.equal(res.status, 200);
  assert.equal((await readBody(res, 1000)).toString(), '{"ok":true}');
  assert.deepEqual(p.seen.map((s) => `${s.method} ${s.url}`), [`CONNECT 127.0.0.1:${tlsServer.port}`], 'the proxy sees only the tunnel');
  assert.deepEqual(seenPaths, ['/api/x Bearer hf_t']);
  assert.ok(p.tunnelled() > 0, 'the answer came through the tunnel');
  // Node's own roots do not know this certificate: refused, through the proxy or not.
  await assert.rejects(send({ url }, { proxy: p.url }), (e: unknown) => e instanceof HubError && e.code === 'network' && /certificate/i.test(e.message));
  await assert.rejects(send({ url }, {}), (e: unknown) => e instanceof HubError && e.code === 'network');
  await assert.rejects(send({ url: 'https://127.0.0.1:1/' }, { proxy: p.url }), (e: unknown) => e instanceof HubError && e.code === 'proxy' && /refused a tunnel to 127\.0\.0\.1:1: 403/.test(e.message));
});

test('redirects: followed with the token only on its origin, at most 10, http(s) only', async () => {
  const seen: string[] = [];
  const other = await listen(http.createServer((q, res) => {
    seen.push(`other ${q.url} ${q.headers.authorization ?? '-'}`);
    res.writeHead(200).end('x');
  }), '127.0.0.2');
  const s = await listen(http.createServer((q, res) => {
    seen.push(`main ${q.url} ${q.headers.authorization ?? '-'}`);
    if (q.url === '/loop') return void res.writeHead(302, { location: '/loop' }).end();
    if (q.url === '/file') return void res.writeHead(302, { location: 'file:///etc/passwd' }).end();
    if (q.url === '/rel') return void res.writeHead(307, { location: '/away' }).end();
    if (q.url === '/away') return void res.writeHead(302, { location: `http://127.0.0.2:${other.port}/cdn` }).end();
    res.writeHead(404).end();
  }));
  const base = `http://127.0.0.1:${s.port}`;
  const auth = { origin: base, token: 'tok' };
  const r = await send({ url: `${base}/rel`, auth });
  assert.equal(r.status, 200);
  assert.equal(r.url, `http://127.0.0.2:${other.port}/cdn`);
  r.body.resume();
  assert.deepEqual(seen, ['main /rel Bearer tok', 'main /away Bearer tok', 'other /cdn -']);
  await assert.rejects(send({ url: `${base}/loop` }), (e: unknown) => e instanceof HubError && e.code === 'http' && /more than 10 redirects/.test(e.message));
  await assert.rejects(send({ url: `${base}/file` }), (e: unknown) => e instanceof HubError && e.code === 'bad-response' && /only http and https/.test(e.message));
});

test('a silent server times out; a cancelled request rejects as aborted', async () => {
  const s = await listen(http.createServer(() => undefined));
  const url = `http://127.0.0.1:${s.port}/`;
  await assert.rejects(send({ url }, { timeoutMs: 150 }), (e: unknown) => e instanceof HubError && e.code === 'network' && /no data for 150 ms/.test(e.message));
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(send({ url }, { signal: ac.signal }), (e: unknown) => e instanceof HubError && e.code === 'aborted');
  await assert.rejects(send({ url }, { signal: AbortSignal.abort() }), (e: unknown) => e instanceof HubError && e.code === 'aborted');
});

test('Retry-After: seconds or an HTTP date', () => {
  assert.equal(retryAfterMs('7'), 7000);
  assert.equal(retryAfterMs(undefined), undefined);
  assert.equal(retryAfterMs('soon'), undefined);
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(retryAfterMs('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000);
  assert.equal(retryAfterMs('Tue, 31 Dec 2024 00:00:00 GMT', now), 0);
});
