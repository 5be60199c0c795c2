// The chat side panel: a webview view in Hearth's own activity-bar container. The transcript lives in
// the ChatSession (extension host); the view is redrawn from a snapshot whenever it becomes visible,
// since a hidden webview receives no messages.
import * as vscode from 'vscode';
import { chatHtml, makeNonce } from './html.js';
import { MessageError, parseToHost, type ToHost } from './messages.js';
import type { ChatSession } from './session.js';
import { askAboutFile, explainSelection, type Question } from './explain.js';

export const CHAT_VIEW_ID = 'hearth.chat';

export class ChatView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view?: vscode.WebviewView;
  /** Focus sits in the webview while its buttons are clicked: insert into the editor used last. */
  private lastEditor?: vscode.TextEditor;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly extensionUri: vscode.Uri, private readonly session: ChatSession, private readonly log: (line: string) => void) {
    this.lastEditor = vscode.window.activeTextEditor;
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor((e) => { if (e) this.lastEditor = e; }),
      session.onMessage((m) => { if (this.view?.visible) void this.view.webview.postMessage(m); }),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    view.webview.options = { enableScripts: true, localResourceRoots: [media, dist] };
    view.webview.html = chatHtml({
      cspSource: view.webview.cspSource,
      nonce: makeNonce(),
      scriptUri: view.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'chat.js')).toString(),
      styleUri: view.webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.css')).toString(),
    });
    this.disposables.push(
      view.webview.onDidReceiveMessage((m: unknown) => this.receive(m)),
      view.onDidChangeVisibility(() => { if (view.visible) void view.webview.postMessage(this.session.snapshot()); }),
      view.onDidDispose(() => { if (this.view === view) this.view = undefined; }),
    );
  }

  private receive(raw: unknown): void {
    let m: ToHost;
    try {
      m = parseToHost(raw);
    } catch (e) {
      if (e instanceof MessageError) return this.log(`chat view: ${e.message}`);
      throw e;
    }
    switch (m.type) {
      case 'ready': void this.view?.webview.postMessage(this.session.snapshot()); break;
      case 'send': void this.session.send(m.text); break;
      case 'stop': this.session.stop(); break;
      case 'copy': void vscode.env.clipboard.writeText(m.code).then(() => vscode.window.setStatusBarMessage('Hearth: code copied', 2000)); break;
      case 'insert': void this.insert(m.code); break;
      case 'open': void vscode.workspace.openTextDocument({ content: m.code, language: m.language || 'plaintext' }).then((d) => vscode.window.showTextDocument(d, { preview: false })); break;
    }
  }

  private async insert(code: string): Promise<void> {
    const editor = this.lastEditor;
    if (!editor || editor.document.isClosed) {
      void vscode.window.showInformationMessage('Hearth: open an editor to insert the code into.');
      return;
    }
    await vscode.window.showTextDocument(editor.document, editor.viewColumn);
    await editor.edit((b) => { for (const s of editor.selections) b.replace(s, code); });
  }

  /** Shows the panel (opening it if hidden) and asks the question there. */
  async ask(q: Question): Promise<void> {
    await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
    if (q.notice) this.session.notice(q.notice);
    await this.session.send(q.text, q.label);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

/** The chat's commands: Explain Selection, Ask Hearth about this file, New chat, Stop. */
export function registerChatCommands(view: ChatView, session: ChatSession): vscode.Disposable[] {
  const ask = (q: Question | { error: string }) => ('error' in q ? void vscode.window.showInformationMessage(`Hearth: ${q.error}`) : view.ask(q));
  const context = (editor: vscode.TextEditor) => ({
    fileName: vscode.workspace.asRelativePath(editor.document.uri),
    languageId: editor.document.languageId,
    lines: editor.document.getText().split(/\r?\n/),
  });
  return [
    vscode.commands.registerTextEditorCommand('hearth.explainSelection', (editor) => {
      const s = editor.selection;
      // A selection ending at column 0 of a line does not take that line.
      const endLine = s.end.character === 0 && s.end.line > s.start.line ? s.end.line - 1 : s.end.line;
      return ask(explainSelection({ ...context(editor), startLine: s.start.line, endLine: s.isEmpty ? s.start.line : endLine }));
    }),
    vscode.commands.registerTextEditorCommand('hearth.askAboutFile', async (editor) => {
      const question = await vscode.window.showInputBox({ prompt: `Ask Hearth about ${vscode.workspace.asRelativePath(editor.document.uri)}`, placeHolder: 'What does this file do?' });
      if (question === undefined) return;
      return ask(askAboutFile({ ...context(editor), cursorLine: editor.selection.active.line }, question));
    }),
    vscode.commands.registerCommand('hearth.newChat', () => session.newChat()),
    vscode.commands.registerCommand('hearth.stopChat', () => session.stop()),
  ];
}
