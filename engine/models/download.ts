// Downloads one file of a Hub repository into the shared Hugging Face cache (hub-cache.ts): the
// commit and the file's size and SHA-256 from the Hub's API, the bytes streamed from the resolve URL
// (redirected to the CDN, which never sees the token) into blobs/<hash>.incomplete, hashed as they
// arrive and renamed to blobs/<hash> only when the hash matches; then the snapshot path is linked.
// An interrupted download resumes with an HTTP Range request, in the same call (a cut connection)
// or a later one (after a crash, a cancel, a full disk): the partial file's bytes are hashed again
// first, so the final check covers every byte. Free disk space is checked before starting. A file
// already in the cache is never downloaded again; with the Hub unreachable (or HF_HUB_OFFLINE) a
// cached file is still found.
import { createHash, type Hash } from 'node:crypto';
import { mkdirSync, readlinkSync, renameSync, rmSync, statSync } from 'node:fs';
import { open, statfs, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { HubCache, hubCacheDir } from './hub-cache.js';
import { HubError, shownUrl } from './hub-error.js';
import { checkPath, checkRepo, checkRevision, hubAccess, isCommit, listFiles, repoCommit, resolveUrl, statusError, type HubFile, type HubOptions } from './hub.js';
import { sendWithRetry, sleep } from './http.js';

export interface DownloadProgress {
  repo: string;
  file: string;
  /** 'resuming': hashing the bytes a previous attempt left; 'downloading'; 'done'. */
  phase: 'resuming' | 'downloading' | 'done';
  /** Bytes of the file in place (hashed, when resuming). */
  receivedBytes: number;
  totalBytes: number;
  /** Download speed over the last few seconds (0 while resuming). */
  bytesPerSecond: number;
  /** Seconds left at that speed; undefined until there is a speed. */
  etaSeconds: number | undefined;
  /** Bytes a previous attempt had already downloaded. */
  resumedFromBytes: number;
}

export interface PullOptions extends HubOptions {
  /** Branch, tag or commit (default "main"). */
  revision?: string;
  /** The hub cache (default hubCacheDir(): HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** At most every 200 ms, and once at the end. */
  onProgress?: (p: DownloadProgress) => void;
  /** Use only the cache (default: HF_HUB_OFFLINE is set). */
  offline?: boolean;
}

export interface PullResult {
  /** The snapshot path: what to load. */
  path: string;
  repo: string;
  file: string;
  revision: string;
  commit: string;
  /** The content's SHA-256 (LFS files), when known. */
  sha256?: string;
  sizeBytes: number;
  /** Bytes fetched from the network by this call (0 when the cache had the file). */
  downloadedBytes: number;
  /** The cache already had the complete file. */
  cached: boolean;
}

const PROGRESS_MS = 200;
const SPEED_WINDOW_MS = 5000;
/** Requests one download may make, resumptions included (each also bounded by the retry options). */
const MAX_ATTEMPTS = 50;
const READ_CHUNK = 4 << 20;

/** Downloads of one blob in this process, shared by concurrent callers. */
const inflight = new Map<string, Promise<number>>();

function truthy(v: string | undefined): boolean {
  return !!v && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());
}

/** Throughput over a sliding window, for speed and ETA. */
class Meter {
  private samples: [number, number][] = [];
  add(t: number, bytes: number): void {
    const lastT = this.samples.length ? this.samples[this.samples.length - 1][0] : -Infinity;
    if (t - lastT < 100) return;
    this.samples.push([t, bytes]);
    while (this.samples.length > 2 && t - this.samples[0][0] > SPEED_WINDOW_MS) this.samples.shift();
  }
  rate(): number {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0], [t1, b1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }
}

/** The hash the Hub names the blob by: SHA-256 for LFS files, the git blob id otherwise. */
function hasher(f: HubFile): Hash {
  return f.sha256 ? createHash('sha256') : createHash('sha1').update(`blob ${f.size}\0`);
}

async function writeAll(fh: FileHandle, chunk: Buffer, path: string): Promise<void> {
  let off = 0;
  try {
    while (off < chunk.length) {
      const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
      if (bytesWritten <= 0) throw Object.assign(new Error('no bytes written'), { code: 'EIO' });
      off += bytesWritten;
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    const why = code === 'ENOSPC' ? 'the disk is full' : code === 'EFBIG' ? 'the file size limit was reached' : code === 'EDQUOT' ? 'the disk quota is exceeded' : (e as Error).message;
    throw new HubError('disk-write', `writing ${path}: ${why}${code ? ` (${code})` : ''}; the partial file is kept and the download resumes from it next time`, { partialPath: path });
  }
}

/** Hashes the first `n` bytes of the partial file (a previous attempt's), reporting progress. */
async function hashPrefix(fh: FileHandle, n: number, h: Hash, tick: (done: number) => void, signal?: AbortSignal): Promise<void> {
  const buf = Buffer.alloc(Math.min(READ_CHUNK, Math.max(1, n)));
  for (let pos = 0; pos < n;) {
    if (signal?.aborted) throw new HubError('aborted', 'resuming: cancelled');
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, n - pos), pos);
    if (bytesRead === 0) throw new HubError('disk-write', `reading the partial download: it ended at ${pos} of ${n} bytes`);
    h.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
    tick(pos);
  }
}

async function checkFreeSpace(dir: string, needed: number, what: string): Promise<void> {
  const s = await statfs(dir);
  const free = Number(s.bavail) * Number(s.bsize);
  if (free < needed) {
    const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    throw new HubError('disk-space', `${what}: needs ${MiB(needed)} of free disk space in ${dir}, ${MiB(free)} is free`, { neededBytes: needed, freeBytes: free });
  }
}

/** Content-Range "bytes a-b/total" of a 206. */
function contentRange(v: string | undefined): { start: number; end: number; total: number | undefined } | undefined {
  const m = v ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim()) : null;
  return m ? { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) } : undefined;
}

interface BlobJob { cache: HubCache; repo: string; file: string; commit: string; entry: HubFile; o: PullOptions }

/** Streams the blob into its .incomplete file, resuming, and renames it into place once verified. Returns the bytes fetched. */
async function downloadBlob({ cache, repo, file, commit, entry, o }: BlobJob): Promise<number> {
  const blob = entry.sha256 ?? entry.gitOid;
  const what = `${repo}/${file}`;
  const part = cache.partialPath(repo, blob);
  const size = entry.size;
  mkdirSync(dirname(part), { recursive: true });
  const release = cache.lock(repo, blob);
  let fh: FileHandle | undefined;
  try {
    let have = 0;
    try {
      have = statSync(part).size;
    } catch {
      // no partial file
    }
    // Checked before anything is written, so a refusal leaves nothing behind.
    await checkFreeSpace(dirname(part), size - (have > size ? 0 : have), what);
    fh = await open(part, 'a+');
    if (have > size) {
      await fh.truncate(0);
      have = 0;
    }
    const resumedFrom = have;
    let h = hasher(entry);
    const meter = new Meter();
    let last = 0;
    const report = (phase: DownloadProgress['phase'], received: number, force = false) => {
      if (!o.onProgress) return;
      const now = performance.now();
      if (phase === 'downloading') meter.add(now, received);
      if (!force && now - last < PROGRESS_MS) return;
      last = now;
      const rate = phase === 'downloading' ? meter.rate() : 0;
      o.onProgress({ repo, file, phase, receivedBytes: received, totalBytes: size, bytesPerSecond: rate, etaSeconds: rate > 0 ? (size - received) / rate : undefined, resumedFromBytes: resumedFrom });
    };
    if (have > 0) {
      report('resuming', 0, true);
      await hashPrefix(fh, have, h, (n) => report('resuming', n, n === resumedFrom), o.signal);
    }

    const { endpoint, auth } = hubAccess(o);
    const url = resolveUrl(endpoint, repo, commit, file);
    const retries = o.retries ?? 3;
    let fetched = 0, cuts = 0;
    for (let attempt = 0; have < size; attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new HubError('network', `${what}: still incomplete after ${MAX_ATTEMPTS} requests (${have} of ${size} bytes)`, { url: shownUrl(url) });
      const res = await sendWithRetry({ url, headers: have > 0 ? { range: `bytes=${have}-` } : {}, auth }, o);
      if (res.status === 206) {
        const r = contentRange(res.headers['content-range']);
        if (!r || r.start !== have || (r.total !== undefined && r.total !== size)) {
          res.body.resume();
          // The server answered another range (or another file size): start again from the first byte.
          await fh.truncate(0);
          have = 0;
          h = hasher(entry);
          if (!r || r.total === undefined || r.total === size) continue;
          throw new HubError('checksum', `${what}: the server has ${r.total} bytes, the Hub's file list says ${size}`, { url: shownUrl(res.url) });
        }
      } else if (res.status === 200) {
        if (have > 0) {
          // Range not honoured: the whole file follows.
          await fh.truncate(0);
          have = 0;
          h = hasher(entry);
        }
      } else if (res.status === 416) {
        res.body.resume();
        await fh.truncate(0);
        have = 0;
        h = hasher(entry);
        continue;
      } else {
        res.body.resume();
        throw statusError(res, what, auth !== undefined);
      }
      report('downloading', have, true);
      const body = (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await body.next();
        } catch {
          // The connection broke mid-body (or was cancelled): handled below, from the bytes we have.
          break;
        }
        if (next.done) break;
        const chunk = next.value;
        if (have + chunk.length > size) {
          res.body.destroy();
          await fh.close();
          fh = undefined;
          rmSync(part, { force: true });
          throw new HubError('checksum', `${what}: the server sent more than the ${size} bytes the Hub lists; the download was discarded`, { url: shownUrl(res.url) });
        }
        h.update(chunk);
        await writeAll(fh, chunk, part);
        have += chunk.length;
        fetched += chunk.length;
        cuts = 0;
        report('downloading', have);
      }
      if (have < size) {
        if (o.signal?.aborted) throw new HubError('aborted', `${what}: cancelled at ${have} of ${size} bytes; the partial file is kept and the download resumes from it`, { partialPath: part });
        if (cuts >= retries) throw new HubError('network', `${what}: the connection broke at ${have} of ${size} bytes, ${retries + 1} times in a row; run again to resume`, { url: shownUrl(url), partialPath: part });
        await sleep((o.retryDelayMs ?? 1000) * 2 ** cuts++, o.signal, what);
      }
    }
    const got = h.digest('hex');
    const want = entry.sha256 ?? entry.gitOid;
    if (got !== want) {
      await fh.close();
      fh = undefined;
      rmSync(part, { force: true });
      throw new HubError('checksum', `${what}: the downloaded file's ${entry.sha256 ? 'SHA-256' : 'git blob id'} is ${got}, the Hub lists ${want}; the download was discarded`, { url: shownUrl(url) });
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    renameSync(part, cache.blobPath(repo, blob));
    report('done', size, true);
    return fetched;
  } finally {
    await fh?.close().catch(() => undefined);
    release();
  }
}

function notInRepo(repo: string, revision: string, file: string, files: HubFile[]): HubError {
  const ggufs = files.filter((f) => f.path.endsWith('.gguf')).map((f) => f.path);
  const shown = ggufs.slice(0, 10).join(', ') + (ggufs.length > 10 ? `, ... (${ggufs.length} in all)` : '');
  return new HubError('not-found', `${repo}@${revision}: no file "${file}"${ggufs.length ? `; its GGUF files: ${shown}` : ' and no GGUF files'}`);
}

/** The content hash a snapshot link points at (its blob's name), when it is a link. */
function linkedSha256(path: string): string | undefined {
  try {
    const b = basename(readlinkSync(path));
    return /^[0-9a-f]{64}$/.test(b) ? b : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes `file` of `repo` at `revision` available in the Hub cache and returns its snapshot path,
 * downloading it only when the cache does not have it. Throws HubError.
 */
export async function pullFile(repo: string, file: string, o: PullOptions = {}): Promise<PullResult> {
  checkRepo(repo);
  checkPath(file);
  const revision = o.revision ?? 'main';
  checkRevision(revision);
  const cache = new HubCache(o.cacheDir ?? hubCacheDir({ env: o.env }));
  const fromCache = (): PullResult | undefined => {
    const path = cache.cached(repo, revision, file);
    if (!path) return undefined;
    const commit = cache.readRef(repo, revision)!;
    const size = statSync(path).size;
    o.onProgress?.({ repo, file, phase: 'done', receivedBytes: size, totalBytes: size, bytesPerSecond: 0, etaSeconds: undefined, resumedFromBytes: size });
    return { path, repo, file, revision, commit, sha256: linkedSha256(path), sizeBytes: size, downloadedBytes: 0, cached: true };
  };
  if (o.offline ?? truthy((o.env ?? process.env).HF_HUB_OFFLINE)) {
    const hit = fromCache();
    if (hit) return hit;
    throw new HubError('offline', `${repo}/${file}@${revision} is not in the cache ${cache.root}, and HF_HUB_OFFLINE is set`);
  }
  // A commit's files never change: no request needed when the cache has it.
  if (isCommit(revision)) {
    const hit = fromCache();
    if (hit) return hit;
  }
  let commit: string, entry: HubFile;
  try {
    commit = await repoCommit(repo, revision, o);
    const files = await listFiles(repo, commit, o);
    const found = files.find((f) => f.path === file);
    if (!found) throw notInRepo(repo, revision, file, files);
    entry = found;
  } catch (e) {
    // The Hub is unreachable: a file downloaded before is still used.
    if (e instanceof HubError && e.code === 'network') {
      const hit = fromCache();
      if (hit) return hit;
    }
    throw e;
  }
  cache.writeRef(repo, revision, commit);
  const blob = entry.sha256 ?? entry.gitOid;
  let downloaded = 0;
  let cached = cache.hasBlob(repo, blob, entry.size);
  if (!cached) {
    const key = cache.blobPath(repo, blob);
    let job = inflight.get(key);
    if (job) {
      await job;
      cached = true;
    } else {
      job = downloadBlob({ cache, repo, file, commit, entry, o });
      inflight.set(key, job);
      try {
        downloaded = await job;
      } finally {
        inflight.delete(key);
      }
    }
  } else {
    o.onProgress?.({ repo, file, phase: 'done', receivedBytes: entry.size, totalBytes: entry.size, bytesPerSecond: 0, etaSeconds: undefined, resumedFromBytes: entry.size });
  }
  const path = cache.link(repo, commit, file, blob);
  return { path, repo, file, revision, commit, sha256: entry.sha256, sizeBytes: entry.size, downloadedBytes: downloaded, cached };
}
