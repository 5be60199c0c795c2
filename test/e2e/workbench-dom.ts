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
