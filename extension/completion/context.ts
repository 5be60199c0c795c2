// Extra context: chunks of other files the user worked in and of text they copied or cut, kept in
// a bounded ring and sent before the document (repo-level FIM). New chunks wait in a queue and join
// the ring only while the user is idle, one at a time: the ring is the start of every prompt, so it
// changes only when the completer can pre-load the new prompt before the next keystroke.

import type { TextLines } from './window.js';

export interface Chunk {
  name: string;
  text: string;
}

interface Held extends Chunk {
  lines: Set<string>;
}

export const RING = {
  chunks: 16,
  queued: 16,
  /** Lines taken around a point of interest. */
  chunkLines: 32,
  chunkChars: 4000,
  /** Chunks with fewer non-blank lines than this are not worth their tokens. */
  minLines: 3,
  /** Chunks this similar (Jaccard over their lines) replace each other. */
  similar: 0.9,
};

export class ContextRing {
  private ring: Held[] = [];
  private queue: Held[] = [];
  /** Bumped whenever the ring (what prompts carry) changes. */
  version = 0;

  constructor(private readonly o = RING) {}

  /** Queues `lines` from `name`; returns false when they are too small or already held. */
  offer(name: string, lines: readonly string[]): boolean {
    const kept: string[] = [];
    let chars = 0;
    for (const l of lines.slice(0, this.o.chunkLines)) {
      if (chars + l.length + 1 > this.o.chunkChars) break;
      chars += l.length + 1;
      kept.push(l);
    }
    while (kept.length && kept[kept.length - 1].trim() === '') kept.pop();
    if (kept.filter((l) => l.trim() !== '').length < this.o.minLines) return false;
    const text = kept.join('\n') + '\n';
    if ([...this.ring, ...this.queue].some((c) => c.text === text && c.name === name)) return false;
    const held: Held = { name, text, lines: new Set(kept) };
    const before = this.ring.length;
    this.ring = this.ring.filter((c) => jaccard(c.lines, held.lines) <= this.o.similar);
    if (this.ring.length !== before) this.version++;
    this.queue = this.queue.filter((c) => jaccard(c.lines, held.lines) <= this.o.similar);
    this.queue.push(held);
    if (this.queue.length > this.o.queued) this.queue.shift();
    return true;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Moves the oldest queued chunk into the ring; returns whether the ring changed. */
  commit(): boolean {
    const c = this.queue.shift();
    if (!c) return false;
    this.ring.push(c);
    if (this.ring.length > this.o.chunks) this.ring.shift();
    this.version++;
    return true;
  }

  /** The ring, oldest first, without chunks of the file being completed (its own text is already there). */
  chunks(exclude?: string): Chunk[] {
    return this.ring.filter((c) => c.name !== exclude).map(({ name, text }) => ({ name, text }));
  }
}

/** VS Code's own configuration files: settings, not code, even when they are files the user opened. */
const CONFIG_FILES = new Set(['settings.json', 'keybindings.json', 'tasks.json', 'launch.json', 'extensions.json', 'mcp.json', 'argv.json']);

/**
 * Whether a document may give chunks: a file or an untitled document open in an editor tab (what the
 * user edits), never VS Code's own documents (output and log channels, the SCM input, settings
 * editors, webviews, vscode-userdata: and other schemes), nor configuration files such as
 * settings.json, which VS Code writes by itself when a setting changes.
 */
export function isContextSource(doc: { scheme: string; path: string; inTab: boolean }): boolean {
  if (doc.scheme !== 'file' && doc.scheme !== 'untitled') return false;
  if (!doc.inTab) return false;
  const parts = doc.path.split(/[\\/]/);
  const base = parts[parts.length - 1].toLowerCase();
  return !CONFIG_FILES.has(base) && !base.endsWith('.code-workspace');
}

/** `n` lines centred on `line`, clipped to the document. */
export function linesAround(doc: TextLines, line: number, n = RING.chunkLines): string[] {
  const start = Math.max(0, Math.min(line - Math.floor(n / 2), doc.lineCount - n));
  const out: string[] = [];
  for (let i = start; i < Math.min(doc.lineCount, start + n); i++) out.push(doc.lineAt(i).text);
  return out;
}

function jaccard(a: Set<string>, b: Set<string>): number {
  let both = 0;
  for (const x of a) if (b.has(x)) both++;
  const union = a.size + b.size - both;
  return union === 0 ? 1 : both / union;
}
