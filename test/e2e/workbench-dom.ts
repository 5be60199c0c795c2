// What the harness reads from VS Code's workbench DOM. Each function runs inside the page
// (page.evaluate serializes it), so it must not reference anything outside its own body. The
// declarations below type just the DOM they use: the project compiles without the DOM library,
// whose WebGPU types clash with Dawn's.
interface DomNode {
  readonly textContent: string | null;
  readonly style: { readonly top: string };
  querySelector(selector: string): DomNode | null;
  querySelectorAll(selector: string): ArrayLike<DomNode>;
  closest(selector: string): DomNode | null;
  getAttribute(name: string): string | null;
  cloneNode(deep: boolean): DomNode;
  remove(): void;
}
declare const document: { readonly activeElement: DomNode | null; querySelector(selector: string): DomNode | null; querySelectorAll(selector: string): ArrayLike<DomNode> };
declare function requestAnimationFrame(f: () => void): number;
declare class MutationObserver {
  constructor(f: () => void);
  observe(target: DomNode, options: { subtree: boolean; childList: boolean; attributes: boolean; characterData: boolean }): void;
  disconnect(): void;
}
declare const performance: { now(): number };
declare const window: {
  hearthGhostWatch?: GhostWatch & { on: boolean };
  hearthKeyWatch?: { keys: KeyLatency[]; observer: MutationObserver; onKey: (ev: { key: string }) => void };
  addEventListener(type: 'keydown', f: (ev: { key: string }) => void, capture: boolean): void;
  removeEventListener(type: 'keydown', f: (ev: { key: string }) => void, capture: boolean): void;
  hearthStatusWatch?: { seen: string[]; observer: MutationObserver };
};

/** One keystroke and the first ghost text drawn after it. */
export interface KeyLatency {
  key: string;
  /** performance.now() at keydown. */
  at: number;
  /** Milliseconds from keydown to the first DOM update that drew a new ghost text; null: none yet. */
  ghostMs: number | null;
  ghost: string | null;
  /** The ghost text on screen at keydown, which does not count as an answer to it. */
  before: string | null;
}

/** What the ghost text did, frame by frame, while watched. */
export interface GhostWatch {
  frames: number;
  /** Frames in which no ghost text was drawn. */
  blankFrames: number;
  /** Each ghost text seen (as ghostText reads it), once per change; null: none. */
  texts: (string | null)[];
}

/** VS Code's class for ghost text on the cursor line. */
export const GHOST_SELECTOR = '[class*="ghost-text-decoration"]';

/** The workbench has drawn its status bar and explorer. */
export function workbenchReady(): boolean {
  return !!document.querySelector('.monaco-workbench .part.statusbar') && !!document.querySelector('.explorer-folders-view, .explorer-viewlet');
}

/** The active tab is `name` and an editor holds the keyboard focus. */
export function editorFocused(name: string): boolean {
  const tab = document.querySelector('.editor-group-container.active .tab.active');
  const editor = document.activeElement?.closest('.monaco-editor');
  return !!tab && (tab.textContent ?? '').includes(name) && !!editor && !!editor.querySelector('.view-lines');
}

/** The active tab has no unsaved changes. */
export function activeTabSaved(): boolean {
  return !document.querySelector('.editor-group-container.active .tab.active.dirty');
}

/** Ghost text in the focused editor: the inline part, then each line of multi-line view zones; null when none. */
export function ghostText(selector: string): string | null {
  const editor = document.activeElement?.closest('.monaco-editor') ?? document.querySelector('.editor-group-container.active .monaco-editor');
  if (!editor) return null;
  const inline = Array.from(editor.querySelectorAll(selector));
  // Lines after the first render in view zones, as view lines of spans with the class `ghost-text`.
  const zones = Array.from(editor.querySelectorAll('.view-zones .view-line')).filter((l) => !!l.querySelector('.ghost-text'));
  if (!inline.length && !zones.length) return null;
  const text = (e: DomNode) => (e.textContent ?? '').replace(/\u00a0/g, ' ');
  return [inline.map(text).join(''), ...zones.map(text)].join('\n');
}

/** The rendered lines of the focused editor in order, ghost text removed (only the lines in view). */
export function visibleText(selector: string): string {
  const editor = document.activeElement?.closest('.monaco-editor') ?? document.querySelector('.editor-group-container.active .monaco-editor');
  if (!editor) throw new Error('no editor is open');
  const lines = Array.from(editor.querySelectorAll('.view-lines .view-line'));
  lines.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
  return lines.map((l) => {
    const c = l.cloneNode(true);
    for (const g of Array.from(c.querySelectorAll(selector))) g.remove();
    return (c.textContent ?? '').replace(/\u00a0/g, ' ');
  }).join('\n');
}

/** The aria-label of the Hearth status bar item (`Hearth: <state>`), or null. */
export function hearthStatus(): string | null {
  return document.querySelector('.part.statusbar')?.querySelector('[aria-label^="Hearth"]')?.getAttribute('aria-label') ?? null;
}

/** Messages of the notification toasts and of the notification center. */
export function notificationMessages(): string[] {
  return Array.from(document.querySelectorAll('.notifications-toasts .notification-list-item-message, .notifications-center .notification-list-item-message')).map((e) => e.textContent ?? '');
}

/** Samples the ghost text at every animation frame (what the user sees) until stopGhostWatch. */
export function startGhostWatch(selector: string): void {
  const w = { on: true, frames: 0, blankFrames: 0, texts: [] as (string | null)[] };
  window.hearthGhostWatch = w;
  const frame = () => {
    if (!w.on) return;
    // As ghostText() reads it (a function run in the page cannot call another).
    const editor = document.activeElement?.closest('.monaco-editor') ?? document.querySelector('.editor-group-container.active .monaco-editor');
    const inline = editor ? Array.from(editor.querySelectorAll(selector)) : [];
    const zones = editor ? Array.from(editor.querySelectorAll('.view-zones .view-line')).filter((l) => !!l.querySelector('.ghost-text')) : [];
    const read = (e: DomNode) => (e.textContent ?? '').replace(/\u00a0/g, ' ');
    const text = inline.length || zones.length ? [inline.map(read).join(''), ...zones.map(read)].join('\n') : null;
    w.frames++;
    if (text === null) w.blankFrames++;
    if (w.texts.length === 0 || w.texts[w.texts.length - 1] !== text) w.texts.push(text);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

export function stopGhostWatch(): GhostWatch {
  const w = window.hearthGhostWatch;
  if (!w) throw new Error('startGhostWatch was not called');
  w.on = false;
  return { frames: w.frames, blankFrames: w.blankFrames, texts: w.texts };
}

/** Records every Hearth status bar label from now on (a restart may show for less than a poll). */
export function startStatusWatch(): void {
  window.hearthStatusWatch?.observer.disconnect();
  const bar = document.querySelector('.part.statusbar');
  if (!bar) throw new Error('no status bar');
  const seen: string[] = [];
  const look = () => {
    const label = bar.querySelector('[aria-label^="Hearth"]')?.getAttribute('aria-label') ?? '(no Hearth item)';
    if (seen[seen.length - 1] !== label) seen.push(label);
  };
  const observer = new MutationObserver(look);
  observer.observe(bar, { subtree: true, childList: true, attributes: true, characterData: true });
  look();
  window.hearthStatusWatch = { seen, observer };
}

/** The labels recorded since startStatusWatch, in order. */
export function statusSeen(): string[] {
  return window.hearthStatusWatch?.seen.slice() ?? [];
}

/**
 * Times each keystroke to the first DOM update of the editor that draws a ghost text other than the
 * one shown at keydown (a type-through that shortens it counts: that is what the user sees).
 */
export function startKeyWatch(selector: string): void {
  const read = (): string | null => {
    const editor = document.activeElement?.closest('.monaco-editor') ?? document.querySelector('.editor-group-container.active .monaco-editor');
    const inline = editor ? Array.from(editor.querySelectorAll(selector)) : [];
    const zones = editor ? Array.from(editor.querySelectorAll('.view-zones .view-line')).filter((l) => !!l.querySelector('.ghost-text')) : [];
    const t = (e: DomNode) => (e.textContent ?? '').replace(/\u00a0/g, ' ');
    return inline.length || zones.length ? [inline.map(t).join(''), ...zones.map(t)].join('\n') : null;
  };
  const keys: KeyLatency[] = [];
  const onKey = (ev: { key: string }) => { keys.push({ key: ev.key, at: performance.now(), ghostMs: null, ghost: null, before: read() }); };
  const observer = new MutationObserver(() => {
    const k = keys[keys.length - 1];
    if (!k || k.ghostMs !== null) return;
    const g = read();
    if (g !== null && g !== k.before) { k.ghostMs = performance.now() - k.at; k.ghost = g; }
  });
  const root = document.querySelector('.part.editor');
  if (!root) throw new Error('no editor part');
  observer.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
  window.addEventListener('keydown', onKey, true);
  window.hearthKeyWatch = { keys, observer, onKey };
}

/** The keystrokes timed since startKeyWatch (it keeps timing until stopKeyWatch). */
export function keyLatencies(): KeyLatency[] {
  return window.hearthKeyWatch?.keys.slice() ?? [];
}

export function stopKeyWatch(): KeyLatency[] {
  const w = window.hearthKeyWatch;
  if (!w) throw new Error('startKeyWatch was not called');
  w.observer.disconnect();
  window.removeEventListener('keydown', w.onKey, true);
  window.hearthKeyWatch = undefined;
  return w.keys;
}

/** One rendered row of the open quick pick (the list is virtual: only rows in view are in the DOM). */
export interface QuickPickRow {
  /** Position in the whole list (data-index). */
  index: number;
  /** Label, description and detail, as VS Code joins them for screen readers. */
  aria: string;
  /** The row has the keyboard focus. */
  focused: boolean;
}

/** The rows of the open quick pick now in the DOM, in list order. */
export function quickPickRows(): QuickPickRow[] {
  return Array.from(document.querySelectorAll('.quick-input-widget .quick-input-list .monaco-list-row'))
    .map((r) => ({ index: Number(r.getAttribute('data-index')), aria: r.getAttribute('aria-label') ?? '', focused: (r.getAttribute('class') ?? '').split(' ').includes('focused') }))
    .sort((a, b) => a.index - b.index);
}

/** Records the text of every quick pick row drawn from now on (the list may change within a poll). */
export function startQuickPickWatch(): void {
  const w = window as unknown as { hearthPickWatch?: { seen: string[]; observer: MutationObserver } };
  w.hearthPickWatch?.observer.disconnect();
  const root = document.querySelector('.monaco-workbench');
  if (!root) throw new Error('no workbench');
  const seen: string[] = [];
  const look = () => {
    for (const r of Array.from(document.querySelectorAll('.quick-input-widget .quick-input-list .monaco-list-row'))) {
      const a = r.getAttribute('aria-label') ?? '';
      if (!seen.includes(a)) seen.push(a);
    }
  };
  const observer = new MutationObserver(look);
  observer.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
  w.hearthPickWatch = { seen, observer };
}

/** The quick pick rows seen since startQuickPickWatch, first sight first; stops watching. */
export function stopQuickPickWatch(): string[] {
  const w = window as unknown as { hearthPickWatch?: { seen: string[]; observer: MutationObserver } };
  if (!w.hearthPickWatch) throw new Error('startQuickPickWatch was not called');
  w.hearthPickWatch.observer.disconnect();
  const seen = w.hearthPickWatch.seen;
  w.hearthPickWatch = undefined;
  return seen;
}
