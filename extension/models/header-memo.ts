// The GGUF headers discovery has read, kept in the extension's global state (a Memento) so the
// picker opens without parsing every file again (100-300 ms each): keyed by real path, size and
// mtime. Each save keeps only the files seen in that run, so deleted files are forgotten.
import type { Described, DiscoveryMemo } from '../../engine/process/index.js';

/** The part of vscode.Memento this needs. */
export interface MementoLike {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

interface Entry { size: number; mtimeMs: number; described: Described }

export const MEMO_KEY = 'hearth.models.headers.v1';

function isEntry(v: unknown): v is Entry {
  const e = v as Entry;
  return typeof e === 'object' && e !== null && typeof e.size === 'number' && typeof e.mtimeMs === 'number' &&
    (typeof e.described === 'string' || (typeof e.described === 'object' && e.described !== null && typeof (e.described as { path?: unknown }).path === 'string'));
}

export class HeaderMemo implements DiscoveryMemo {
  private readonly stored: Record<string, unknown>;
  private readonly seen: Record<string, Entry> = {};

  constructor(private readonly store: MementoLike) {
    const v = store.get<Record<string, unknown>>(MEMO_KEY);
    this.stored = typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
  }

  get(realPath: string, size: number, mtimeMs: number): Described | undefined {
    const e = this.seen[realPath] ?? this.stored[realPath];
    if (!isEntry(e) || e.size !== size || e.mtimeMs !== mtimeMs) return undefined;
    this.seen[realPath] = e;
    return e.described;
  }

  set(realPath: string, size: number, mtimeMs: number, described: Described): void {
    this.seen[realPath] = { size, mtimeMs, described };
  }

  /** Writes what this run saw (and only that). */
  save(): Thenable<void> {
    return this.store.update(MEMO_KEY, this.seen);
  }
}
