// A loopback server that behaves like the Hugging Face Hub for the download tests: the revision and
// tree APIs (paged, with lfs.oid and sizes), resolve URLs that answer 302 to a CDN on a second
// loopback address (127.0.0.2), and a CDN with Range / 206 / 416. Every request is recorded (host,
// path, Range, whether Authorization came), and faults can be scheduled: a body cut off after N
// bytes, 429 with Retry-After, a Range ignored, wrong bytes, a hook run before a body is sent.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeFile {
  path: string;
  content: Buffer;
  /** Stored in git rather than LFS: no lfs entry, named by its git blob id (default false). */
  git?: boolean;
  /** What the CDN serves instead of `content` (a wrong checksum). */
  served?: Buffer;
}

export interface FakeRepo {
  repo: string;
  commit: string;
  /** Branch name that points to the commit (default "main"). */
  branch?: string;
  files: FakeFile[];
  /** Answers 401 (GatedRepo) without this token, 403 with another one. */
  token?: string;
}

export interface Recorded {
  host: 'hub' | 'cdn';
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

export interface Fault {
  /** Which requests: 'api' (revision and tree), 'resolve', 'cdn'. */
  on: 'api' | 'resolve' | 'cdn';
  /** How many of them it affects (default 1). */
  times?: number;
  /** 429 with this Retry-After header. */
  retryAfter?: string;
  /** Another status (e.g. 500). */
  status?: number;
  /** Close the connection after this many body bytes. */
  cutAfter?: number;
  /** Answer 200 with the whole file, ignoring Range. */
  ignoreRange?: boolean;
  /** Send the body in 64 KiB pieces this many ms apart (progress, speed and ETA; cancelling mid-way). */
  pieceDelayMs?: number;
  /** Runs before the answer is written (e.g. to fill a disk). */
  before?: () => void | Promise<void>;
}

export const gitOid = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export class FakeHub {
  readonly requests: Recorded[] = [];
  private faults: (Fault & { left: number })[] = [];
  /** Tree API page size. */
  pageSize = 1000;

  private constructor(private readonly hub: http.Server, private readonly cdn: http.Server, readonly repos: FakeRepo[]) {}

  get url(): string {
    return `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
  }

  get cdnUrl(): string {
    return `http://127.0.0.2:${(this.cdn.address() as AddressInfo).port}`;
  }

  static async start(repos: FakeRepo[]): Promise<FakeHub> {
    const f: FakeHub = new FakeHub(http.createServer((q, s) => void f.onHub(q, s)), http.createServer((q, s) => void f.onCdn(q, s)), repos);
    await new Promise<void>((r) => f.hub.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => f.cdn.listen(0, '127.0.0.2', r));
    return f;
  }

  async close(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }

  /** Forgets the requests and any faults not yet used. */
  reset(): void {
    this.requests.length = 0;
    this.faults = [];
    this.pageSize = 1000;
  }

  fault(f: Fault): void {
    this.faults.push({ ...f, left: f.times ?? 1 });
  }

  count(host: 'hub' | 'cdn', pathIncludes = ''): number {
    return this.requests.filter((r) => r.host === host && r.path.includes(pathIncludes)).length;
  }

  private take(on: Fault['on']): Fault | undefined {
    const f = this.faults.find((x) => x.on === on && x.left > 0);
    if (f) f.left--;
    return f;
  }

  private record(host: Recorded['host'], q: http.IncomingMessage): void {
    this.requests.push({ host, method: q.method ?? '', path: q.url ?? '', range: q.headers.range, authorization: q.headers.authorization });
  }

  /** Applies a status fault; true when it answered. */
  private async faulted(f: Fault | undefined, s: http.ServerResponse): Promise<boolean> {
    await f?.before?.();
    if (f?.retryAfter !== undefined) {
      s.writeHead(429, { 'retry-after': f.retryAfter }).end('slow down');
      return true;
    }
    if (f?.status) {
      s.writeHead(f.status).end('fault');
      return true;
    }
    return false;
  }

  private repo(owner: string, name: string): FakeRepo | undefined {
    return this.repos.find((r) => r.repo === `${owner}/${name}`);
  }

  /** 401/403 like the Hub for a gated repository; true when it answered. */
  private denied(r: FakeRepo, q: http.IncomingMessage, s: http.ServerResponse): boolean {
    if (!r.token) return false;
    const auth = q.headers.authorization;
    if (auth === `Bearer ${r.token}`) return false;
    s.writeHead(auth ? 403 : 401, { 'x-error-code': 'GatedRepo', 'x-error-message': `Access to model ${r.repo} is restricted.` }).end();
    return true;
  }

  private async onHub(q: http.IncomingMessage, s: http.ServerResponse): Promise<void> {
    this.record('hub', q);
    const u = new URL(q.url ?? '/', this.url);
    const parts = u.pathname.split('/').map(decodeURIComponent);
    const notFound = (code: string): void => void s.writeHead(404, { 'x-error-code': code, 'x-error-message': `${code}\t\u00ff ${'x'.repeat(300)}` }).end();
    if (parts[1] === 'api' && parts[2] === 'models') {
      if (await this.faulted(this.take('api'), s)) return;
      const r = this.repo(parts[3], parts[4]);
      if (!r) return void s.writeHead(401, { 'x-error-code': 'RepoNotFound' }).end();
      if (this.denied(r, q, s)) return;
      const rev = parts.slice(6).join('/');
      if (rev !== r.commit && rev !== (r.branch ?? 'main')) return notFound('RevisionNotFound');
      if (parts[5] === 'revision') return void s.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: r.repo, sha: r.commit }));
      if (parts[5] === 'tree') {
        const entries = r.files.map((f) => ({
          type: 'file', path: f.path, size: f.content.length, oid: gitOid(f.content),
          ...(f.git ? {} : { lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: 134 } }),
        }));
        const all = [{ type: 'directory', path: 'sub', oid: '0'.repeat(40), size: 0 }, ...entries];
        const start = Number(u.searchParams.get('cursor') ?? 0);
        const page = all.slice(start, start + this.pageSize);
        const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
        if (start + this.pageSize < all.length) headers.link = `<${this.url}${u.pathname}?recursive=true&cursor=${start + this.pageSize}>; rel="next"`;
        return void s.writeHead(200, headers).end(JSON.stringify(page));
      }
      return notFound('EntryNotFound');
    }
    const ri = parts.indexOf('resolve');
    if (ri === 3) {
      if (await this.faulted(this.take('resolve'), s)) return;
      const r = this.repo(parts[1], parts[2]);
      if (!r) return void s.writeHead(401, { 'x-error-code': 'RepoNotFound' }).end();
      if (this.denied(r, q, s)) return;
      const path = parts.slice(5).join('/');
      const f = r.files.find((x) => x.path === path);
      if (!f || (parts[4] !== r.commit && parts[4] !== (r.branch ?? 'main'))) return notFound('EntryNotFound');
      const blob = f.git ? gitOid(f.content) : sha256(f.content);
      return void s.writeHead(302, { location: `${this.cdnUrl}/blobs/${blob}?X-Amz-Signature=secret` }).end();
    }
    s.writeHead(404).end();
  }

  private async onCdn(q: http.IncomingMessage, s: http.ServerResponse): Promise<void> {
    this.record('cdn', q);
    const fault = this.take('cdn');
    if (await this.faulted(fault, s)) return;
    const blob = new URL(q.url ?? '/', this.cdnUrl).pathname.split('/')[2];
    const f = this.repos.flatMap((r) => r.files).find((x) => (x.git ? gitOid(x.content) : sha256(x.content)) === blob);
    if (!f) return void s.writeHead(404).end();
    const body = f.served ?? f.content;
    let start = 0, status = 200;
    const headers: http.OutgoingHttpHeaders = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    const m = /^bytes=(\d+)-$/.exec(q.headers.range ?? '');
    if (m && !fault?.ignoreRange) {
      start = Number(m[1]);
      if (start >= body.length) return void s.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      status = 206;
      headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    }
    headers['content-length'] = body.length - start;
    s.writeHead(status, headers);
    const rest = body.subarray(start);
    if (fault?.cutAfter !== undefined) {
      s.write(rest.subarray(0, fault.cutAfter), () => s.destroy());
      return;
    }
    if (fault?.pieceDelayMs !== undefined) {
      for (let at = 0; at < rest.length && !s.destroyed; at += 64 << 10) {
        s.write(rest.subarray(at, at + (64 << 10)));
        await new Promise((r) => setTimeout(r, fault.pieceDelayMs));
      }
    }
    s.end(fault?.pieceDelayMs !== undefined ? undefined : rest);
  }
}
