// The Hugging Face Hub's API, as huggingface_hub and llama.cpp use it: the endpoint (HF_ENDPOINT, for
// mirrors), the token (HF_TOKEN, or the file `huggingface-cli login` writes), a revision's commit,
// the file list with sizes and SHA-256s (lfs.oid), and resolve URLs. Errors map the Hub's statuses
// and X-Error-Code to HubError codes.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { hfHome } from './hub-cache.js';
import { HubError, serverText, shownUrl } from './hub-error.js';
import { readBody, sendWithRetry, type HttpOptions, type HttpResponse } from './http.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubOptions extends HttpOptions {
  /** Default: HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Default: hubToken(env). null sends none. */
  token?: string | null;
  /** Where HF_* variables are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface HubFile {
  /** Path in the repository, '/'-separated. */
  path: string;
  size: number;
  /** The content's SHA-256 (lfs.oid) for LFS files; absent for small files kept in git. */
  sha256?: string;
  /** The git blob id (SHA-1 of "blob <size>\0" + content). */
  gitOid: string;
}

const COMMIT = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;
/** Largest API answer read (a file list of a very large repository is a few MiB). */
const MAX_JSON_BYTES = 32 << 20;
const MAX_PAGES = 100;

export function isCommit(revision: string): boolean {
  return COMMIT.test(revision);
}

function expandHome(p: string, home: string): string {
  return p === '~' || p.startsWith('~/') ? join(home, p.slice(1)) : p;
}

/** HF_ENDPOINT without its trailing slash, else the public Hub. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const e = (env.HF_ENDPOINT ?? '').trim();
  if (!e) return DEFAULT_ENDPOINT;
  let u: URL;
  try {
    u = new URL(e);
  } catch {
    throw new HubError('bad-argument', `HF_ENDPOINT "${serverText(e)}" is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new HubError('bad-argument', `HF_ENDPOINT ${shownUrl(u)} must be an http(s) URL`);
  return e.replace(/\/+$/, '');
}

/**
 * The token huggingface_hub would use: HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN), else the file
 * at HF_TOKEN_PATH, else $HF_HOME/token (default ~/.cache/huggingface/token).
 */
export function hubToken(env: NodeJS.ProcessEnv = process.env, home = homedir()): string | undefined {
  const direct = (env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN ?? '').trim();
  if (direct) return direct;
  const file = env.HF_TOKEN_PATH ? expandHome(env.HF_TOKEN_PATH, home) : join(hfHome({ env, home }), 'token');
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Throws 'bad-argument' unless `repo` is "owner/name". */
export function checkRepo(repo: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/.test(repo) || repo.includes('..') || repo.includes('--')) {
    throw new HubError('bad-argument', `"${serverText(repo)}" is not a Hub repository id (owner/name)`);
  }
}

/** Throws 'bad-argument' unless `path` is a relative '/'-separated path with no '.' or '..' parts. */
export function checkPath(path: string, what = 'file path'): void {
  const parts = path.split('/');
  if (!path || path.length > 1000 || path.includes('\\') || path.includes('\0') || /^[A-Za-z]:/.test(path) ||
    parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new HubError('bad-argument', `${what} "${serverText(path)}" must be a relative path inside the repository`);
  }
}

/** Throws 'bad-argument' for a revision that cannot name a branch, tag or commit. */
export function checkRevision(revision: string): void {
  try {
    checkPath(revision, 'revision');
  } catch {
    throw new HubError('bad-argument', `revision "${serverText(revision)}" is not a branch, tag or commit`);
  }
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** {endpoint}/{repo}/resolve/{revision}/{path}: answers with the file, usually by a redirect to a CDN. */
export function resolveUrl(endpoint: string, repo: string, revision: string, path: string): string {
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`;
}

/** The endpoint and token the options and environment give. */
export function hubAccess(o: HubOptions): { endpoint: string; token: string | undefined; auth?: { origin: string; token: string } } {
  const env = o.env ?? process.env;
  const endpoint = o.endpoint ? o.endpoint.replace(/\/+$/, '') : hubEndpoint(env);
  const token = o.token === null ? undefined : (o.token ?? hubToken(env));
  return { endpoint, token, auth: token ? { origin: new URL(endpoint).origin, token } : undefined };
}

/** The HubError for a non-2xx answer about `what` (a repository, revision or file). */
export function statusError(res: HttpResponse, what: string, tokenSent: boolean): HubError {
  const code = serverText(res.headers['x-error-code']);
  const said = serverText(res.headers['x-error-message']);
  const detail = { status: res.status, url: shownUrl(res.url) };
  const server = said ? ` (the Hub says: ${said})` : '';
  if (code === 'RepoNotFound' || code === 'RevisionNotFound' || code === 'EntryNotFound' || res.status === 404) {
    const privateHint = res.status === 401 && !tokenSent ? '; if it is private, set HF_TOKEN' : '';
    return new HubError('not-found', `${what}: not found at ${shownUrl(res.url)} (${res.status})${privateHint}${server}`, detail);
  }
  const gated = code === 'GatedRepo' ? ' (a gated repository: accept its terms on the model\'s page, with the account the token belongs to)' : '';
  if (res.status === 401) {
    return new HubError('unauthorized', `${what}: ${tokenSent ? 'the token (HF_TOKEN) was refused' : 'needs a token: set HF_TOKEN to a Hugging Face access token'} (401)${gated}${server}`, detail);
  }
  if (res.status === 403) {
    return new HubError('forbidden', `${what}: access denied (403)${gated || ': the token has no access to this repository'}${server}`, detail);
  }
  return new HubError('http', `${what}: ${res.status} from ${shownUrl(res.url)}${server}`, detail);
}

async function getJson(url: string, what: string, o: HubOptions): Promise<{ json: unknown; res: HttpResponse }> {
  const { auth } = hubAccess(o);
  const res = await sendWithRetry({ url, headers: { accept: 'application/json' }, auth }, o);
  if (res.status < 200 || res.status >= 300) {
    res.body.resume();
    throw statusError(res, what, auth !== undefined);
  }
  const body = await readBody(res, MAX_JSON_BYTES, o.signal);
  try {
    return { json: JSON.parse(body.toString('utf8')), res };
  } catch {
    throw new HubError('bad-response', `${what}: ${shownUrl(res.url)} did not answer with JSON`, { url: shownUrl(res.url) });
  }
}

/** The commit a branch or tag points to (a commit is returned as it is, without a request). */
export async function repoCommit(repo: string, revision: string, o: HubOptions = {}): Promise<string> {
  checkRepo(repo);
  checkRevision(revision);
  if (isCommit(revision)) return revision;
  const { endpoint } = hubAccess(o);
  const { json, res } = await getJson(`${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`, `${repo}@${revision}`, o);
  const sha = (json as { sha?: unknown })?.sha;
  if (typeof sha !== 'string' || !COMMIT.test(sha)) throw new HubError('bad-response', `${repo}@${revision}: ${shownUrl(res.url)} gave no commit id`, { url: shownUrl(res.url) });
  return sha;
}

function parseEntry(e: unknown, where: string): HubFile | undefined {
  const x = e as { type?: unknown; path?: unknown; size?: unknown; oid?: unknown; lfs?: { oid?: unknown; size?: unknown } };
  if (!x || typeof x !== 'object' || x.type !== 'file') return undefined;
  const bad = (why: string): never => {
    throw new HubError('bad-response', `${where}: a file entry ${why}`);
  };
  if (typeof x.path !== 'string') bad('has no path');
  const path = x.path as string;
  checkPath(path);
  if (typeof x.oid !== 'string' || !/^[0-9a-f]{40}$/.test(x.oid)) bad(`"${serverText(path)}" has no git oid`);
  let size = x.size;
  let sha256: string | undefined;
  if (x.lfs !== undefined && x.lfs !== null) {
    if (typeof x.lfs.oid !== 'string' || !SHA256.test(x.lfs.oid)) bad(`"${serverText(path)}" has an lfs entry without a SHA-256`);
    sha256 = x.lfs.oid as string;
    size = x.lfs.size ?? size;
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) bad(`"${serverText(path)}" has no size`);
  return { path, size: size as number, sha256, gitOid: x.oid as string };
}

function nextPage(link: string | string[] | undefined, endpoint: string): string | undefined {
  const v = Array.isArray(link) ? link.join(',') : link;
  const m = v ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(v) : null;
  if (!m) return undefined;
  const next = new URL(m[1], endpoint);
  // Pages are fetched with the token: only from the Hub itself.
  if (next.origin !== new URL(endpoint).origin) throw new HubError('bad-response', `file list: next page on another host (${shownUrl(next)})`);
  return next.href;
}

/** Every file of the repository at a revision, with sizes and SHA-256s (the tree API, paged). */
export async function listFiles(repo: string, revision = 'main', o: HubOptions = {}): Promise<HubFile[]> {
  checkRepo(repo);
  checkRevision(revision);
  const { endpoint } = hubAccess(o);
  const where = `${repo}@${revision}`;
  const files: HubFile[] = [];
  let url: string | undefined = `${endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true`;
  for (let page = 0; url; page++) {
    if (page >= MAX_PAGES) throw new HubError('bad-response', `${where}: file list longer than ${MAX_PAGES} pages`);
    const { json, res }: { json: unknown; res: HttpResponse } = await getJson(url, where, o);
    if (!Array.isArray(json)) throw new HubError('bad-response', `${where}: ${shownUrl(res.url)} did not give a file list`);
    for (const e of json) {
      const f = parseEntry(e, where);
      if (f) files.push(f);
    }
    url = nextPage(res.headers.link, endpoint);
  }
  return files;
}
