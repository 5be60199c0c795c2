// The inline completion provider: stable API only (provideInlineCompletionItems and nothing else on
// the object). It turns the editor's state into a request for the completer and its answers into
// items whose range starts at the line start, so typing through them and backspacing never flickers.
// With the suggest widget open, the item extends the selected entry over that entry's range.
import * as vscode from 'vscode';
import { enabledFor, type HearthConfig } from '../config.js';
import type { Completer, CompletionRequest } from './completer.js';
import { Windows, looksBinary, withSelected } from './window.js';

/** What was last offered where, for partial accepts and for cycling through alternatives. */
export interface Offered {
  uri: string;
  version: number;
  line: number;
  character: number;
  items: string[];
  index: number;
}

export class HearthProvider implements vscode.InlineCompletionItemProvider {
  /** Set by the trigger commands for the next call. */
  nextCall?: { manual: boolean; noCache: boolean };
  offered?: Offered;
  private readonly windows = new Windows();
  private readonly binary = new WeakMap<vscode.TextDocument, boolean>();
  /** Documents already said to be skipped (and why), so the log says it once. */
  private readonly skipped = new Map<string, string>();

  constructor(
    private readonly completer: Completer,
    private readonly config: () => HearthConfig,
    private readonly ready: () => boolean,
    private readonly log: (message: string) => void,
  ) {}

  /** The request for `position` in `document`, or undefined when Hearth does not complete there. */
  request(document: vscode.TextDocument, position: vscode.Position): CompletionRequest | undefined {
    if (!enabledFor(this.config(), document.languageId)) return undefined;
    const uri = document.uri.toString();
    let binary = this.binary.get(document);
    if (binary === undefined) {
      const end = document.positionAt(4096);
      binary = looksBinary(document.getText(new vscode.Range(new vscode.Position(0, 0), end)));
      this.binary.set(document, binary);
    }
    if (binary) return this.skip(uri, 'it looks like a binary file');
    const w = this.windows.take(uri, document, position.line, position.character);
    if (!w.ok) return this.skip(uri, w.reason);
    this.skipped.delete(uri);
    const editor = vscode.window.visibleTextEditors.find((e) => e.document === document);
    const tabSize = typeof editor?.options.tabSize === 'number' ? editor.options.tabSize : 4;
    const insertSpaces = typeof editor?.options.insertSpaces === 'boolean' ? editor.options.insertSpaces : true;
    const version = document.version;
    return {
      key: { doc: uri, anchor: w.window.anchor, prefix: w.window.prefix, suffix: w.window.suffix },
      window: w.window,
      fileName: document.isUntitled ? document.fileName : vscode.workspace.asRelativePath(document.uri, false),
      language: document.languageId,
      repoName: vscode.workspace.getWorkspaceFolder(document.uri)?.name,
      insertSpaces,
      tabSize,
      isCurrent: () => {
        const active = vscode.window.activeTextEditor;
        return document.version === version && active?.document === document && active.selection.active.isEqual(position);
      },
    };
  }

  private skip(uri: string, why: string): undefined {
    if (this.skipped.get(uri) !== why) {
      this.skipped.set(uri, why);
      if (this.skipped.size > 256) this.skipped.delete(this.skipped.keys().next().value!);
      this.log(`no completions in ${uri}: ${why}`);
    }
    return undefined;
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument, position: vscode.Position, context: vscode.InlineCompletionContext, token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionList | undefined> {
    const call = this.nextCall;
    this.nextCall = undefined;
    const req = this.request(document, position);
    // Asked only where Hearth completes: asking counts as use of the model (and wakes it after an idle unload).
    if (!req || !this.ready()) return undefined;
    // The suggest widget's selected entry: complete as if it were inserted, over its range.
    const sel = context.selectedCompletionInfo;
    let replace = new vscode.Range(new vscode.Position(position.line, 0), position);
    let head = req.window.linePrefix;
    if (sel) {
      if (sel.range.start.line !== position.line || sel.range.end.line !== position.line) return undefined;
      req.window = withSelected(req.window, document.lineAt(position.line).text, position.character, { start: sel.range.start.character, end: sel.range.end.character, text: sel.text });
      req.key = { ...req.key, prefix: req.window.prefix, suffix: req.window.suffix };
      replace = sel.range;
      head = sel.text;
    }
    const ctrl = new AbortController();
    const sub = token.onCancellationRequested(() => ctrl.abort());
    try {
      const manual = call?.manual || context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
      const items = await this.completer.provide(req, { manual, noCache: call?.noCache ?? false, signal: ctrl.signal });
      if (!items?.length || token.isCancellationRequested) return undefined;
      this.offered = { uri: req.key.doc, version: document.version, line: position.line, character: position.character, items, index: 0 };
      return new vscode.InlineCompletionList(items.map((t) => new vscode.InlineCompletionItem(head + t, replace)));
    } finally {
      sub.dispose();
    }
  }

  /** The suggestion on screen in `editor`, if it is one of ours. */
  current(editor: vscode.TextEditor): string | undefined {
    const o = this.offered;
    const p = editor.selection.active;
    if (!o || o.uri !== editor.document.uri.toString() || o.version !== editor.document.version || o.line !== p.line || o.character !== p.character) return undefined;
    return o.items[o.index];
  }

  /** Alt+] / Alt+[ move through the alternatives; the partial accepts follow. */
  cycle(step: 1 | -1): void {
    const o = this.offered;
    if (o && o.items.length) o.index = (o.index + step + o.items.length) % o.items.length;
  }
}
