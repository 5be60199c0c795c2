// The Hugging Face cache on disk, laid out as huggingface_hub lays it out so that llama.cpp, the
// Python tools and Hearth share downloads:
//   <cache>/models--<owner>--<name>/blobs/<sha256 or git oid>      the content, named by its hash
//          .../blobs/<hash>.incomplete                               a download in progress
//          .../snapshots/<commit>/<path>                             a relative symlink to the blob (a copy where links fail)
//          .../refs/<revision>                                       the commit a branch or tag pointed to
// The cache is HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub (on every platform, as huggingface_hub computes it). A snapshot path is
// only ever created by an atomic rename of a finished link or copy, so it never shows a partial file.
import { closeSync, copyFileSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, posix, relative, win32 } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HubError } from './hub-error.js';

/** The platform whose paths are computed (tests compute all three on one machine). */
export interface PlatformEnv {
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

export function pathsFor(platform: NodeJS.Platform = process.platform): typeof posix {
  return platform === 'win32' ? win32 : posix;
}

function expandHome(p: string, home: string, path: typeof posix): string {
  return p === '~' || p.startsWith('~/') || p.startsWith('~\\') ? path.join(home, p.slice(1)) : p;
}

/** huggingface_hub's HF_HOME: $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function hfHome(p: PlatformEnv = {}): string {
  const env = p.env ?? process.env, home = p.home ?? homedir(), path = pathsFor(p.platform);
  if (env.HF_HOME) return expandHome(env.HF_HOME, home, path);
  const cache = env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME, home, path) : path.join(home, '.cache');
  return path.join(cache, 'huggingface');
}

/** The hub cache: HF_HUB_CACHE (or the older HUGGINGFACE_HUB_CACHE), else HF_HOME/hub. */
export function hubCacheDir(p: PlatformEnv = {}): string {
  const env = p.env ?? process.env, home = p.home ?? homedir(), path = pathsFor(p.platform);
  const explicit = env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  return explicit ? expandHome(explicit, home, path) : path.join(hfHome(p), 'hub');
}

const COMMIT = /^[0-9a-f]{40}$/;

/** A lock's owner: this process, told apart from an earlier process that had the same pid. */
const LOCK_OWNER = `${process.pid} ${randomBytes(8).toString('hex')}`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class HubCache {
  constructor(readonly root: string) {}

  /** "owner/name" -> "models--owner--name" (repository ids never contain "--"). */
  static folder(repo: string): string {
    return `models--${repo.replace('/', '--')}`;
  }

  /** "models--owner--name" -> "owner/name", or undefined for another folder. */
  static repoOf(folder: string): string | undefined {
    const m = /^models--(.+?)--(.+)$/.exec(folder);
    return m && !m[2].includes('--') ? `${m[1]}/${m[2]}` : undefined;
  }

  repoDir(repo: string): string {
    return join(this.root, HubCache.folder(repo));
  }

  blobPath(repo: string, blob: string): string {
    return join(this.repoDir(repo), 'blobs', blob);
  }

  /** Where a download of the blob grows until its hash is checked (huggingface_hub resumes the same file). */
  partialPath(repo: string, blob: string): string {
    return `${this.blobPath(repo, blob)}.incomplete`;
  }

  snapshotPath(repo: string, commit: string, file: string): string {
    return join(this.repoDir(repo), 'snapshots', commit, ...file.split('/'));
  }

  /** The commit the revision pointed to at the last download, if recorded. */
  readRef(repo: string, revision: string): string | undefined {
    if (COMMIT.test(revision)) return revision;
    try {
      const c = readFileSync(join(this.repoDir(repo), 'refs', ...revision.split('/')), 'utf8').trim();
      return COMMIT.test(c) ? c : undefined;
    } catch {
      return undefined;
    }
  }

  writeRef(repo: string, revision: string, commit: string): void {
    if (COMMIT.test(revision)) return;
    const path = join(this.repoDir(repo), 'refs', ...revision.split('/'));
    atomicWrite(path, (tmp) => {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, commit);
      } finally {
        closeSync(fd);
      }
    });
  }

  /** The snapshot path of a complete file, when the cache has it for this revision. */
  cached(repo: string, revision: string, file: string, size?: number): string | undefined {
    const commit = this.readRef(repo, revision);
    if (!commit) return undefined;
    const path = this.snapshotPath(repo, commit, file);
    try {
      const st = statSync(path);
      return st.isFile() && (size === undefined || st.size === size) ? path : undefined;
    } catch {
      return undefined;
    }
  }

  /** The blob, when it is complete in the cache (a blob is only ever created by renaming a verified download). */
  hasBlob(repo: string, blob: string, size: number): boolean {
    try {
      const st = statSync(this.blobPath(repo, blob));
      return st.isFile() && st.size === size;
    } catch {
      return false;
    }
  }

  /** Points snapshots/<commit>/<file> at the blob: a relative symlink, or a copy where links fail. */
  link(repo: string, commit: string, file: string, blob: string): string {
    const target = this.snapshotPath(repo, commit, file);
    const source = this.blobPath(repo, blob);
    try {
      if (lstatSync(target).isSymbolicLink() && statSync(target).isFile()) return target;
    } catch {
      // absent or dangling: (re)made below
    }
    atomicWrite(target, (tmp) => {
      try {
        symlinkSync(relative(dirname(target), source), tmp, 'file');
      } catch {
        // Windows without developer mode, some network file systems.
        copyFileSync(source, tmp);
      }
    });
    return target;
  }

  /**
   * Takes the cross-process lock on downloading a blob, or throws 'busy' when a live process holds
   * it. A lock left by a process that died is taken over.
   */
  lock(repo: string, blob: string): () => void {
    const dir = join(this.root, '.locks', HubCache.folder(repo));
    const path = join(dir, `${blob}.hearth.lock`);
    mkdirSync(dir, { recursive: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        try {
          writeSync(fd, LOCK_OWNER);
        } finally {
          closeSync(fd);
        }
        return () => {
          try {
            if (readFileSync(path, 'utf8') === LOCK_OWNER) rmSync(path, { force: true });
          } catch {
            // already gone
          }
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let owner = '';
      try {
        owner = readFileSync(path, 'utf8');
      } catch {
        continue; // released meanwhile
      }
      const pid = Number(owner.split(' ')[0]);
      const stale = !Number.isInteger(pid) || pid <= 0 || (pid === process.pid ? owner !== LOCK_OWNER : !alive(pid));
      if (!stale) throw new HubError('busy', `${repo}: another process (pid ${pid}) is downloading this file into ${this.root}; wait for it or end it`);
      rmSync(path, { force: true });
    }
    throw new HubError('busy', `${repo}: could not take the download lock ${path}`);
  }
}

/** Creates `path` through a temporary sibling and a rename, so it appears whole or not at all. */
function atomicWrite(path: string, make: (tmp: string) => void): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    make(tmp);
    renameSync(tmp, path);
  } finally {
    if (existsSync(tmp) || isLink(tmp)) rmSync(tmp, { force: true });
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
