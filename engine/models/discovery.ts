// GGUF models already on disk, so a user of llama.cpp, LM Studio or Ollama need not download them
// again: the Hugging Face cache (where current llama.cpp -hf downloads land too), llama.cpp's older
// cache, LM Studio's models folders, Ollama's manifests (whose model layer is a plain GGUF blob) and
// any folders the user names. Each file's header is read with the project's GGUF reader for its
// name, architecture, quantization, FIM tokens and chat template, and whether Hearth can run it;
// a file whose header is truncated or hostile is listed as skipped with the reason. Paths are
// computed for the platform asked (Linux, macOS, Windows), and every walk is bounded.
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { FILE_TYPE_NAMES, typeName } from '../gguf/ggml.js';
import { GGUFError, readGGUF, type GGUF } from '../gguf/gguf.js';
import { loadConfig, validateTensors } from '../model/model.js';
import type { PlanShape } from '../model/memory-plan.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { HubCache, hubCacheDir, pathsFor, type PlatformEnv } from './hub-cache.js';

export type ModelSource = 'hub' | 'llama.cpp' | 'lm-studio' | 'ollama' | 'folder';

export interface ModelRoot { source: ModelSource; dir: string }

export interface FoundModel {
  /** The file to load. */
  path: string;
  source: ModelSource;
  /** What its source calls it: "repo/file" (Hub), "name:tag" (Ollama), "publisher/model/file" (LM Studio), else the file name. */
  label: string;
  /** For Hub cache files: the repository, commit and path, to match catalog entries. */
  hub?: { repo: string; commit: string; file: string };
  sizeBytes: number;
  /** general.name, when set. */
  name?: string;
  architecture: string;
  /** The file type (llama.cpp's name, e.g. "Q8_0", "Q4_K - Medium"), else the matrices' most common type. */
  quant: string;
  /** Fill-in-the-middle tokens present: it can complete code at the cursor. */
  fim: boolean;
  /** A chat template in the file (tokenizer.chat_template). */
  chatTemplate: boolean;
  /** The training context (<arch>.context_length). */
  contextLength?: number;
  /** Hearth can run it: supported architecture, tensors and tokenizer. */
  loadable: boolean;
  /** The dimensions the memory estimate needs (estimateFit), when loadable. */
  shape?: PlanShape & { nCtxTrain: number };
  /** Why not, when not loadable. */
  problem?: string;
}

export interface SkippedFile { path: string; source: ModelSource; reason: string }

export interface Discovery { models: FoundModel[]; skipped: SkippedFile[] }

/** What a file's header said: a model, or why it is not one (the reason a skipped file gets). */
export type Described = FoundModel | string;

/**
 * Headers already read, kept by a caller across runs (the extension keeps them in its global
 * state): reading one costs 100-300 ms. Keyed by the file's real path, size and mtime, so a file
 * that changed is read again.
 */
export interface DiscoveryMemo {
  get(realPath: string, sizeBytes: number, mtimeMs: number): Described | undefined;
  set(realPath: string, sizeBytes: number, mtimeMs: number, described: Described): void;
}

export interface DiscoveryOptions extends PlatformEnv {
  /** Folders to search besides the standard places (hearth.modelDirs), searched recursively. */
  extraDirs?: string[];
  /** Replaces the standard places and extraDirs (tests). */
  roots?: ModelRoot[];
  /** Most GGUF headers read (default 500). */
  maxFiles?: number;
  memo?: DiscoveryMemo;
}

/** Folder depth searched under a root (LM Studio: publisher/model/file; user folders: a few levels). */
const MAX_DEPTH = 6;
/** Directory entries visited in all, so a huge tree cannot stall discovery. */
const MAX_ENTRIES = 100_000;
const MAX_MANIFEST_BYTES = 1 << 20;
const OLLAMA_MODEL = 'application/vnd.ollama.image.model';

/** The standard places, for the platform asked. */
export function modelRoots(o: PlatformEnv & { extraDirs?: string[] } = {}): ModelRoot[] {
  const platform = o.platform ?? process.platform, env = o.env ?? process.env, home = o.home ?? homedir();
  const path = pathsFor(platform);
  const roots: ModelRoot[] = [{ source: 'hub', dir: hubCacheDir({ platform, env, home }) }];
  // llama.cpp's fs_get_cache_directory: LLAMA_CACHE, else the platform's cache folder.
  let llama: string;
  if (env.LLAMA_CACHE) llama = env.LLAMA_CACHE;
  else if (platform === 'win32') llama = path.join(env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'llama.cpp');
  else if (platform === 'darwin') llama = path.join(home, 'Library', 'Caches', 'llama.cpp');
  else llama = path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'llama.cpp');
  roots.push({ source: 'llama.cpp', dir: llama });
  roots.push({ source: 'lm-studio', dir: path.join(home, '.lmstudio', 'models') }, { source: 'lm-studio', dir: path.join(home, '.cache', 'lm-studio', 'models') });
  if (env.OLLAMA_MODELS) roots.push({ source: 'ollama', dir: env.OLLAMA_MODELS });
  else {
    roots.push({ source: 'ollama', dir: path.join(home, '.ollama', 'models') });
    // The Linux service (install.sh) runs as the ollama user with its home here.
    if (platform === 'linux') roots.push({ source: 'ollama', dir: '/usr/share/ollama/.ollama/models' });
  }
  for (const d of o.extraDirs ?? []) roots.push({ source: 'folder', dir: d });
  return roots;
}

/** A file's header as a FoundModel, or the reason it cannot be one. */
function describe(path: string, source: ModelSource, label: string, sizeBytes: number): Described {
  let g: GGUF;
  try {
    g = readGGUF(path);
  } catch (e) {
    return reasonOf(e, path);
  }
  const meta = (k: string) => g.metadata.get(k);
  const str = (k: string) => (typeof meta(k) === 'string' ? (meta(k) as string) : undefined);
  const architecture = str('general.architecture') ?? '(none)';
  const ft = meta('general.file_type');
  let quant: string;
  if (typeof ft === 'number') quant = FILE_TYPE_NAMES[ft] ?? `file type ${ft}`;
  else {
    const counts = new Map<number, number>();
    for (const t of g.tensors) if (t.dims.length >= 2) counts.set(t.type, (counts.get(t.type) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1])[0];
    quant = top ? typeName(top[0]) : 'unknown';
  }
  const ctx = meta(`${architecture}.context_length`);
  const found: FoundModel = {
    path, source, label, sizeBytes, name: str('general.name') || undefined, architecture, quant,
    fim: false, chatTemplate: (str('tokenizer.chat_template') ?? '').length > 0,
    contextLength: typeof ctx === 'number' ? ctx : undefined, loadable: false,
  };
  const split = meta('split.count');
  if (typeof split === 'number' && split > 1) {
    found.problem = `split into ${split} files; Hearth loads single-file GGUFs (merge them with llama-gguf-split --merge)`;
    return found;
  }
  try {
    const tok = Tokenizer.fromGGUF(g);
    found.fim = tok.fim.pre !== undefined && tok.fim.suf !== undefined && tok.fim.mid !== undefined;
    const c = loadConfig(g);
    validateTensors(g, c);
    found.loadable = true;
    found.shape = { nVocab: c.nVocab, nEmbd: c.nEmbd, nLayer: c.nLayer, nHead: c.nHead, nHeadKv: c.nHeadKv, headDim: c.headDim, nFf: c.nFf, nCtxTrain: c.nCtxTrain };
  } catch (e) {
    found.problem = reasonOf(e, path);
  }
  return found;
}

/** An error's message without the path it starts with (the listing already names the file). */
function reasonOf(e: unknown, path: string): string {
  const m = e instanceof Error ? e.message : String(e);
  return e instanceof GGUFError && m.startsWith(`${path}: `) ? m.slice(path.length + 2) : m;
}

/** Walks a folder for *.gguf files (following links), depth- and entry-bounded. */
async function ggufFiles(dir: string, depth: number, budget: { entries: number }, out: string[], skipped: SkippedFile[], source: ModelSource): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') skipped.push({ path: dir, source, reason: `cannot read the folder: ${code ?? (e as Error).message}` });
    return;
  }
  for (const name of names) {
    if (--budget.entries < 0) return;
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    let st;
    try {
      st = await stat(p);
    } catch {
      if (name.toLowerCase().endsWith('.gguf')) skipped.push({ path: p, source, reason: 'a link to a missing file' });
      continue;
    }
    if (st.isDirectory()) {
      if (depth > 0) await ggufFiles(p, depth - 1, budget, out, skipped, source);
    } else if (st.isFile() && name.toLowerCase().endsWith('.gguf')) out.push(p);
  }
}

interface Candidate { path: string; label: string; hub?: FoundModel['hub'] }

async function hubCandidates(root: string, budget: { entries: number }, skipped: SkippedFile[]): Promise<Candidate[]> {
  const out: Candidate[] = [];
  let repos: string[];
  try {
    repos = (await readdir(root)).sort();
  } catch {
    return out;
  }
  for (const folder of repos) {
    const repo = HubCache.repoOf(folder);
    if (!repo) continue;
    const snaps = join(root, folder, 'snapshots');
    let commits: string[];
    try {
      commits = (await readdir(snaps)).filter((c) => /^[0-9a-f]{40}$/.test(c));
    } catch {
      continue;
    }
    for (const commit of commits.sort()) {
      const files: string[] = [];
      await ggufFiles(join(snaps, commit), MAX_DEPTH, budget, files, skipped, 'hub');
      for (const f of files) {
        const file = relative(join(snaps, commit), f).split(sep).join('/');
        out.push({ path: f, label: `${repo}/${file}`, hub: { repo, commit, file } });
      }
    }
  }
  return out;
}

async function ollamaCandidates(root: string, budget: { entries: number }, skipped: SkippedFile[]): Promise<Candidate[]> {
  const out: Candidate[] = [];
  // manifests/<host>/<namespace>/<name>/<tag>
  const walk = async (dir: string, parts: string[]): Promise<void> => {
    let names: string[];
    try {
      // Ollama's own registry first: a blob pulled under two names is listed under the name users type.
      names = (await readdir(dir)).sort((a, b) => Number(b === 'registry.ollama.ai') - Number(a === 'registry.ollama.ai') || (a < b ? -1 : a > b ? 1 : 0));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (parts.length === 0 && code !== 'ENOENT' && code !== 'ENOTDIR') skipped.push({ path: dir, source: 'ollama', reason: `cannot read the folder: ${code}` });
      return;
    }
    for (const name of names) {
      if (--budget.entries < 0) return;
      const p = join(dir, name);
      if (parts.length < 3) {
        await walk(p, [...parts, name]);
        continue;
      }
      const [host, ns, model] = parts;
      const label = `${host === 'registry.ollama.ai' ? (ns === 'library' ? '' : `${ns}/`) : `${host}/${ns}/`}${model}:${name}`;
      try {
        const st = await stat(p);
        if (!st.isFile()) continue;
        if (st.size > MAX_MANIFEST_BYTES) throw new Error(`manifest of ${st.size} bytes is too large`);
        let m: { layers?: { mediaType?: unknown; digest?: unknown }[] };
        try {
          m = JSON.parse(await readFile(p, 'utf8'));
        } catch {
          throw new Error('the manifest is not JSON');
        }
        const layer = Array.isArray(m?.layers) ? m.layers.find((l) => l?.mediaType === OLLAMA_MODEL) : undefined;
        if (!layer) throw new Error('the manifest has no model layer');
        const d = typeof layer.digest === 'string' ? /^sha256:([0-9a-f]{64})$/.exec(layer.digest) : null;
        if (!d) throw new Error('the model layer has no sha256 digest');
        out.push({ path: join(root, 'blobs', `sha256-${d[1]}`), label });
      } catch (e) {
        skipped.push({ path: p, source: 'ollama', reason: `${label}: ${(e as Error).message}` });
      }
    }
  };
  await walk(join(root, 'manifests'), []);
  return out;
}

async function plainCandidates(root: ModelRoot, budget: { entries: number }, skipped: SkippedFile[]): Promise<Candidate[]> {
  const files: string[] = [];
  await ggufFiles(root.dir, root.source === 'llama.cpp' ? 0 : MAX_DEPTH, budget, files, skipped, root.source);
  return files.map((f) => ({ path: f, label: relative(root.dir, f).split(sep).join('/') }));
}

/** Finds and describes the GGUF models on disk; files found twice (links, shared caches) are listed once. */
export async function discoverModels(o: DiscoveryOptions = {}): Promise<Discovery> {
  const roots = o.roots ?? modelRoots(o);
  const budget = { entries: MAX_ENTRIES };
  let files = o.maxFiles ?? 500;
  const models: FoundModel[] = [];
  const skipped: SkippedFile[] = [];
  const seen = new Set<string>();
  for (const root of roots) {
    const candidates = root.source === 'hub' ? await hubCandidates(root.dir, budget, skipped)
      : root.source === 'ollama' ? await ollamaCandidates(root.dir, budget, skipped)
        : await plainCandidates(root, budget, skipped);
    for (const c of candidates) {
      const split = /-(\d{5})-of-(\d{5})\.gguf$/i.exec(c.path);
      if (split && Number(split[1]) > 1) continue; // later parts: the first part stands for the model
      let real: string, size: number, mtimeMs: number;
      try {
        real = await realpath(c.path);
        ({ size, mtimeMs } = await stat(real));
      } catch (e) {
        skipped.push({ path: c.path, source: root.source, reason: `${c.label}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file is missing' : (e as Error).message}` });
        continue;
      }
      if (seen.has(real)) continue;
      seen.add(real);
      if (--files < 0) {
        skipped.push({ path: c.path, source: root.source, reason: `not read: more than ${o.maxFiles ?? 500} GGUF files` });
        continue;
      }
      let d = o.memo?.get(real, size, mtimeMs);
      if (d === undefined) {
        d = describe(c.path, root.source, c.label, size);
        o.memo?.set(real, size, mtimeMs, d);
        // Headers are parsed synchronously: let other work run between files.
        await new Promise((r) => setImmediate(r));
      } else if (typeof d !== 'string') {
        // The same bytes, perhaps found under another name this time.
        const found: FoundModel = { ...d, path: c.path, source: root.source, label: c.label };
        delete found.hub;
        d = found;
      }
      if (typeof d === 'string') skipped.push({ path: c.path, source: root.source, reason: d });
      else models.push(c.hub ? { ...d, hub: c.hub } : d);
    }
  }
  return { models, skipped };
}
