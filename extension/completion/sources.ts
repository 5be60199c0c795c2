// Where extra-context chunks come from, and when they join the prompt. Chunks: the lines around the
// cursor of an editor the user leaves, around the last edit of a file they save, and text they copy
// or cut; only of files and untitled documents the user edits in a tab (isContextSource: never the
// output channel, nor settings.json, which VS Code rewrites and saves by itself). Copy and cut keep
// their own keys: when a selection goes away (or is deleted) the clipboard is read once and compared
// with it, so only a selection that was really copied becomes a chunk.
// While the user is idle, one queued chunk joins the ring and the prompt at the cursor is pre-loaded
// into the server's cache, so the next keystroke costs a token or two.
import * as vscode from 'vscode';
import type { Completer } from './completer.js';
import { ContextRing, isContextSource, linesAround, RING } from './context.js';
import type { HearthProvider } from './provider.js';

/** No completion request for this long: the user is idle. */
export const IDLE_MS = 2500;
const TICK_MS = 1000;
/** Selections larger than this are not compared with the clipboard. */
const MAX_SELECTION_CHARS = 16_000;

interface Selected {
  doc: vscode.TextDocument;
  range: vscode.Range;
  text: string;
}

export class ContextSources implements vscode.Disposable {
  private readonly subs: vscode.Disposable[] = [];
  private readonly lastEdit = new Map<string, number>();
  private selected?: Selected;
  private leaving?: vscode.TextEditor;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ring: ContextRing,
    private readonly completer: Completer,
    private readonly provider: HearthProvider,
    private readonly active: () => boolean,
    /** A chunk was queued for the ring: the document it came from, its name in prompts, and why. */
    private readonly onQueued: (uri: string, name: string, why: string) => void = () => {},
  ) {
    this.leaving = vscode.window.activeTextEditor;
    for (const e of vscode.window.visibleTextEditors) if (e !== this.leaving) this.offerAround(e.document, e.selection.active.line, 'visible');
    this.subs.push(
      vscode.window.onDidChangeActiveTextEditor((e) => {
        const prev = this.leaving;
        if (prev && prev.document !== e?.document && !prev.document.isClosed) this.offerAround(prev.document, prev.selection.active.line, 'left');
        this.leaving = e;
      }),
      vscode.workspace.onDidSaveTextDocument((d) => {
        const line = this.lastEdit.get(d.uri.toString());
        if (line !== undefined) this.offerAround(d, line, 'saved');
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        const c = e.contentChanges[0];
        if (!c) return;
        this.lastEdit.set(e.document.uri.toString(), c.range.start.line);
        if (this.lastEdit.size > 256) this.lastEdit.delete(this.lastEdit.keys().next().value!);
        // A deletion of exactly the selection may be a cut.
        const s = this.selected;
        if (s && s.doc === e.document && e.contentChanges.length === 1 && c.text === '' && c.range.isEqual(s.range)) {
          this.selected = undefined;
          void this.ifCopied(s);
        }
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        const prev = this.selected;
        const sel = e.selections[0];
        if (prev && (prev.doc !== e.textEditor.document || !sel.isEqual(prev.range))) {
          this.selected = undefined;
          void this.ifCopied(prev);
        }
        const doc = e.textEditor.document;
        if (sel && !sel.isEmpty && e.selections.length === 1 && doc.offsetAt(sel.end) - doc.offsetAt(sel.start) <= MAX_SELECTION_CHARS) {
          this.selected = { doc, range: sel, text: doc.getText(sel) };
        }
      }),
    );
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  private name(doc: vscode.TextDocument): string {
    return doc.isUntitled ? doc.fileName : vscode.workspace.asRelativePath(doc.uri, false);
  }

  private usable(doc: vscode.TextDocument): boolean {
    const uri = doc.uri.toString();
    const inTab = vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.input instanceof vscode.TabInputText && t.input.uri.toString() === uri));
    return doc.lineCount > 0 && isContextSource({ scheme: doc.uri.scheme, path: doc.uri.path, inTab });
  }

  private offerAround(doc: vscode.TextDocument, line: number, why: string): void {
    if (!this.usable(doc) || doc.lineAt(Math.min(line, doc.lineCount - 1)).text.length > 8000) return;
    if (this.ring.offer(this.name(doc), linesAround(doc, line, RING.chunkLines))) this.onQueued(doc.uri.toString(), this.name(doc), why);
  }

  private async ifCopied(s: Selected): Promise<void> {
    // In a browser (code-server, vscode.dev) each clipboard read asks for the page's permission and
    // VS Code shows an error when it is refused: a selection moving would raise one every time.
    if (!this.usable(s.doc) || vscode.env.uiKind === vscode.UIKind.Web) return;
    let clip: string;
    try {
      clip = await vscode.env.clipboard.readText();
    } catch {
      return;
    }
    if (clip === s.text && this.ring.offer(this.name(s.doc), s.text.split(/\r?\n/))) this.onQueued(s.doc.uri.toString(), this.name(s.doc), 'copied');
  }

  private tick(): void {
    if (!this.active() || Date.now() - this.completer.lastActivity < IDLE_MS) return;
    this.ring.commit();
    const e = vscode.window.activeTextEditor;
    if (!e) return;
    const req = this.provider.request(e.document, e.selection.active);
    if (req) this.completer.preload(req);
  }

  dispose(): void {
    clearInterval(this.timer);
    for (const s of this.subs) s.dispose();
  }
}
