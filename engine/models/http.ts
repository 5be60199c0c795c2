// The HTTP client of the Hub code: GET and HEAD with redirects followed (to the CDN host and back),
// the token sent to one origin only, an optional HTTP proxy (CONNECT tunnels for https, absolute-URI
// requests for http; VS Code passes its http.proxy), extra CA certificates, an idle timeout, an
// AbortSignal, and bounded retries: 429 after its Retry-After, 5xx and connection errors with backoff.
import http from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import tls from 'node:tls';
import { HubError, shownUrl } from './hub-error.js';

export interface HttpOptions {
  /** http://[user:password@]host:port of an HTTP proxy. */
  proxy?: string;
  /** Hosts reached without the proxy: "host", ".domain" or "domain" (and its subdomains), "host:port", "*". */
  noProxy?: string[];
  /** CA certificates (PEM) trusted besides Node's own, e.g. a corporate proxy's. */
  ca?: string | Buffer | (string | Buffer)[];
  signal?: AbortSignal;
  /** A connection silent this long fails (default 30 s). */
  timeoutMs?: number;
  /** Retries after a connection error or a 5xx (default 3). */
  retries?: number;
  /** Retries after a 429 (default 5). */
  rateLimitRetries?: number;
  /** A Retry-After longer than this fails at once as 'rate-limited' (default 60 s). */
  maxRetryAfterMs?: number;
  /** First backoff after an error, doubled each time (default 1 s). */
  retryDelayMs?: number;
}

export interface HttpRequest {
  url: string;
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** Authorization: Bearer token, sent only while the URL's origin is `origin` (never to a CDN after a redirect). */
  auth?: { origin: string; token: string };
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The URL that answered, after redirects. */
  url: string;
  body: http.IncomingMessage;
}

const MAX_REDIRECTS = 10;
const USER_AGENT = 'hearth/0.1 (+https://github.com/hearth)';

function abortError(url: string): HubError {
  return new HubError('aborted', `${shownUrl(url)}: cancelled`, { url: shownUrl(url) });
}

/** A socket or HTTP error as a HubError. */
function networkError(e: unknown, url: string, signal?: AbortSignal): HubError {
  if (e instanceof HubError) return e;
  if (signal?.aborted || (e as Error)?.name === 'AbortError') return abortError(url);
  const err = e as NodeJS.ErrnoException;
  return new HubError('network', `${shownUrl(url)}: ${err?.code ? `${err.code} ` : ''}${err?.message ?? String(e)}`, { url: shownUrl(url) });
}

function hostOnly(hostname: string): string {
  return hostname.replace(/^\[|\]$/g, '');
}

/** Whether `url` bypasses the proxy by the noProxy list. */
export function bypassesProxy(url: URL, noProxy: readonly string[] = []): boolean {
  const host = hostOnly(url.hostname).toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const raw of noProxy) {
    const e = raw.trim().toLowerCase();
    if (!e) continue;
    if (e === '*') return true;
    // "host", "host:port", "[v6]:port"; a bare IPv6 address has no port.
    const m = /^\[(.+)\](?::(\d+))?$/.exec(e) ?? (e.split(':').length === 2 ? /^(.+):(\d+)$/.exec(e) : null) ?? [e, e, undefined];
    const name = m[1].replace(/^\*?\./, '.');
    if (m[2] && m[2] !== port) continue;
    if (name.startsWith('.') ? host.endsWith(name) || host === name.slice(1) : host === name || host.endsWith(`.${name}`)) return true;
  }
  return false;
}

function proxyFor(url: URL, o: HttpOptions): URL | undefined {
  if (!o.proxy || bypassesProxy(url, o.noProxy)) return undefined;
  let p: URL;
  try {
    p = new URL(o.proxy);
  } catch {
    throw new HubError('bad-argument', `proxy "${shownUrl(o.proxy)}" is not a URL (expected http://host:port)`);
  }
  if (p.protocol !== 'http:') throw new HubError('bad-argument', `proxy ${shownUrl(p)}: only http:// proxies are supported`);
  return p;
}

function proxyAuth(p: URL): Record<string, string> {
  if (!p.username && !p.password) return {};
  const cred = `${decodeURIComponent(p.username)}:${decodeURIComponent(p.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(cred).toString('base64')}` };
}

function trusted(o: HttpOptions): (string | Buffer)[] | undefined {
  if (o.ca === undefined) return undefined;
  return [...tls.rootCertificates, ...(Array.isArray(o.ca) ? o.ca : [o.ca])];
}

/** Opens a CONNECT tunnel through the proxy to the target's host and port. */
function tunnel(proxy: URL, target: URL, o: HttpOptions): Promise<Socket> {
  const authority = `${target.hostname}:${target.port || '443'}`;
  return new Promise((resolve, reject) => {
    const r = http.request({
      host: hostOnly(proxy.hostname), port: proxy.port || 80, method: 'CONNECT', path: authority, agent: false,
      headers: { host: authority, 'user-agent': USER_AGENT, ...proxyAuth(proxy) }, signal: o.signal,
    });
    r.setTimeout(o.timeoutMs ?? 30_000, () => r.destroy(new Error(`proxy ${proxy.host} did not answer in ${o.timeoutMs ?? 30_000} ms`)));
    r.once('connect', (res, socket) => {
      r.setTimeout(0);
      if (res.statusCode === 200) return resolve(socket);
      socket.destroy();
      reject(new HubError('proxy', `proxy ${proxy.host} refused a tunnel to ${authority}: ${res.statusCode} ${res.statusMessage ?? ''}`.trim(), { status: res.statusCode }));
    });
    r.once('error', (e) => reject(e instanceof HubError ? e : o.signal?.aborted ? abortError(target.href) : new HubError('proxy', `proxy ${proxy.host}: ${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim())));
    r.end();
  });
}

/** One hop: no redirect handling. */
async function hop(url: URL, method: string, headers: Record<string, string>, o: HttpOptions): Promise<http.IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HubError('bad-response', `${shownUrl(url)}: only http and https URLs are fetched`);
  const proxy = proxyFor(url, o);
  const ca = trusted(o);
  let req: http.ClientRequest;
  if (!proxy) {
    const lib = url.protocol === 'https:' ? https : http;
    req = lib.request(url, { method, headers, agent: false, signal: o.signal, ...(ca ? { ca } : {}) });
  } else if (url.protocol === 'http:') {
    req = http.request({ host: hostOnly(proxy.hostname), port: proxy.port || 80, method, path: url.href, headers: { ...headers, host: url.host, ...proxyAuth(proxy) }, agent: false, signal: o.signal });
  } else {
    const socket = await tunnel(proxy, url, o);
    const host = hostOnly(url.hostname);
    const secure = tls.connect({ socket, host, servername: isIP(host) ? undefined : host, ...(ca ? { ca } : {}) });
    // No agent: with one, Node would open its own connection and ignore createConnection.
    req = https.request(url, { method, headers, signal: o.signal, createConnection: () => secure });
  }
  return new Promise((resolve, reject) => {
    req.setTimeout(o.timeoutMs ?? 30_000, () => req.destroy(new Error(`no data for ${o.timeoutMs ?? 30_000} ms`)));
    req.once('response', resolve);
    req.once('error', (e) => reject(networkError(e, url.href, o.signal)));
    req.end();
  });
}

/** One request, following redirects; Authorization goes only to req.auth.origin. */
export async function send(req: HttpRequest, o: HttpOptions = {}): Promise<HttpResponse> {
  if (o.signal?.aborted) throw abortError(req.url);
  let url = new URL(req.url);
  let method = req.method ?? 'GET';
  for (let i = 0; i <= MAX_REDIRECTS; i++) {
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...req.headers };
    if (req.auth && url.origin === req.auth.origin) headers.authorization = `Bearer ${req.auth.token}`;
    const res = await hop(url, method, headers, o);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (![301, 302, 303, 307, 308].includes(status) || !location) return { status, headers: res.headers, url: url.href, body: res };
    res.resume();
    try {
      url = new URL(location, url);
    } catch {
      throw new HubError('bad-response', `${shownUrl(url)}: redirect to an invalid location`, { status, url: shownUrl(url) });
    }
    if (status === 303) method = 'GET';
  }
  throw new HubError('http', `${shownUrl(req.url)}: more than ${MAX_REDIRECTS} redirects`, { url: shownUrl(req.url) });
}

/** Retry-After (seconds or an HTTP date) in milliseconds. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** Waits, rejecting as 'aborted' when the signal fires. */
export function sleep(ms: number, signal?: AbortSignal, what = 'wait'): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new HubError('aborted', `${what}: cancelled`));
    const onAbort = () => {
      clearTimeout(t);
      reject(new HubError('aborted', `${what}: cancelled`));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** send, retried (bounded) after 429, 5xx and connection errors; other answers are returned as they are. */
export async function sendWithRetry(req: HttpRequest, o: HttpOptions = {}): Promise<HttpResponse> {
  const retries = o.retries ?? 3, rateRetries = o.rateLimitRetries ?? 5, maxWait = o.maxRetryAfterMs ?? 60_000;
  const base = o.retryDelayMs ?? 1000;
  let errors = 0, limited = 0;
  for (;;) {
    let res: HttpResponse;
    try {
      res = await send(req, o);
    } catch (e) {
      if (!(e instanceof HubError) || e.code !== 'network' || errors >= retries) throw e;
      await sleep(base * 2 ** errors++, o.signal, shownUrl(req.url));
      continue;
    }
    const wait = retryAfterMs(res.headers['retry-after']);
    if (res.status === 429) {
      res.body.resume();
      if (wait !== undefined && wait > maxWait) {
        throw new HubError('rate-limited', `${shownUrl(res.url)}: 429 Too Many Requests; the server asks to wait ${Math.ceil(wait / 1000)} s, over the ${Math.ceil(maxWait / 1000)} s limit`, { status: 429, url: shownUrl(res.url), retryAfterMs: wait });
      }
      if (limited >= rateRetries) {
        throw new HubError('rate-limited', `${shownUrl(res.url)}: 429 Too Many Requests after ${rateRetries} retries`, { status: 429, url: shownUrl(res.url), retryAfterMs: wait });
      }
      await sleep(wait ?? base * 2 ** limited, o.signal, shownUrl(req.url));
      limited++;
      continue;
    }
    if (res.status >= 500 && errors < retries) {
      res.body.resume();
      await sleep(Math.min(wait ?? base * 2 ** errors, maxWait), o.signal, shownUrl(req.url));
      errors++;
      continue;
    }
    return res;
  }
}

/** A whole (small) body, refused past `limit` bytes. */
export async function readBody(res: HttpResponse, limit: number, signal?: AbortSignal): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > limit) {
        res.body.destroy();
        throw new HubError('bad-response', `${shownUrl(res.url)}: answer larger than ${limit} bytes`, { url: shownUrl(res.url) });
      }
      parts.push(chunk);
    }
  } catch (e) {
    throw networkError(e, res.url, signal);
  }
  return Buffer.concat(parts);
}
