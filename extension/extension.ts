// Activation: builds the engine host, the completer and its provider, the context sources, the
// status bar, the commands and the model pickers, and hands every one of them to VS Code to
// dispose. Settings apply as they change; the status bar, the log, the load notifications and the
// test hook log follow the engine and the editor.
import * as vscode from 'vscode';
import { homedir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { enabledFor, globallyEnabled, readConfig, type HearthConfig } from './config.js';
import { EngineHost, type Problem } from './engine-host.js';
import { LoadNotification } from './load-progress.js';
import { FIRST_RUN, Once } from './once.js';
import { Completer } from './completion/completer.js';
import { ContextRing } from './completion/context.js';
import { HearthProvider } from './completion/provider.js';
import { ContextSources } from './completion/sources.js';
import { registerCommands } from './commands.js';
import { pickModel, pickModelFile } from './models/picker.js';
import type { PickerRole } from './models/picker-items.js';
import { StatusBar } from './status.js';
import { TestLog } from './test-hooks.js';
import { ChatSession } from './chat/session.js';
import { CHAT_VIEW_ID, ChatView, registerChatCommands } from './chat/view.js';
import type { Turn } from './chat/messages.js';
import { HearthChatModels, LM_VENDOR } from './lm/provider.js';

let host: EngineHost | undefined;

const SELECTOR: vscode.DocumentFilter[] = [{ scheme: 'file' }, { scheme: 'untitled' }, { scheme: 'vscode-notebook-cell' }, { scheme: 'vscode-remote' }];

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Hearth', { log: true });
  const tests = new TestLog();
  const warned = new Set<string>();
  const read = (): HearthConfig => {
    const { config, problems } = readConfig((k) => vscode.workspace.getConfiguration('hearth').get(k));
    for (const p of problems) {
      if (warned.has(p)) continue;
      warned.add(p);
      log.warn(p);
      void vscode.window.showWarningMessage(`Hearth: ${p}`);
    }
    return config;
  };
  let config = read();

  const engine = new EngineHost({ serverPath: join(context.extensionPath, 'dist', 'server.js'), bundledDir: join(context.extensionPath, 'dist', 'node') });
  host = engine;
  const ring = new ContextRing();
  const completer = new Completer(() => config, () => engine.ready, ring);
  // A keystroke is use: it keeps the model loaded, and loads it again after an idle unload.
  const provider = new HearthProvider(completer, () => config, () => engine.forCompletion() !== undefined, (m) => log.info(m));
  const picker = (role: PickerRole) => pickModel(role, { config: () => config, engine, memento: context.globalState, log, expandPath });

  let generating = false;
  let last: { latencyMs: number; tokPerS: number } | undefined;
  const status = new StatusBar((v) => tests.write({ t: 'state', state: v.state }));
  const refresh = () => {
    const lang = vscode.window.activeTextEditor?.document.languageId;
    const r = engine.report, c = engine.chatState.kind === 'ready' ? engine.chatReport : undefined;
    status.update({
      engine: engine.state, enabled: globallyEnabled(config), language: lang, languageEnabled: lang ? enabledFor(config, lang) : false, generating,
      model: r && { name: r.name, fileType: r.fileType, file: r.model, device: r.device }, chatModel: c && { name: c.name, fileType: c.fileType }, last,
    });
  };

  // A model that is gone (crashed, unloaded, failed or replaced) leaves no suggestion on screen,
  // and none in the cache: VS Code keeps showing ghost text until the next edit or cursor move.
  const forgetModel = () => {
    completer.forget();
    const editor = vscode.window.activeTextEditor;
    if (editor && provider.current(editor) !== undefined) void vscode.commands.executeCommand('editor.action.inlineSuggest.hide');
    provider.offered = undefined;
  };
  const completionLoad = new LoadNotification(() => `Hearth: loading ${basename(config.modelPath)}`);
  const chatLoad = new LoadNotification(() => `Hearth: loading the chat model ${basename(config.chatModelPath)}`);
  engine.on('state', (s) => {
    refresh();
    completionLoad.update(s.kind === 'loading' ? s : undefined);
    if (s.kind !== 'ready') forgetModel();
  });
  engine.on('chatState', (s) => {
    refresh();
    chatLoad.update(s.kind === 'loading' ? s : undefined);
  });
  engine.on('log', (level, m) => log[level](m));
  engine.on('pid', (pid) => tests.write({ t: 'serverPid', pid }));
  // The first-run prompt and the no-GPU warning once per machine (the log has them every time).
  const once = new Once(context.globalState);
  engine.on('problem', (p) => {
    const key = p.kind === 'no-model' ? FIRST_RUN : p.kind === 'slow' ? `slow:${p.message}` : undefined;
    if (key === undefined || once.take(key)) tell(p, log, picker);
  });
  completer.on('generating', (on) => {
    generating = on;
    refresh();
  });
  completer.on('request', (r) => {
    tests.write({ t: 'request', id: r.id, prefixTokens: r.promptTokens, prefillTokens: r.prefillTokens, reusedTokens: r.reusedTokens, ms: r.ms, reason: r.reason, context: r.context });
    log.debug(`${r.background ? 'look-ahead' : 'completion'} ${r.id}: ${r.promptTokens} prompt tokens, ${r.prefillTokens} prefilled, ${r.reusedTokens} cached, ${r.ms.toFixed(0)} ms, ${r.reason}`);
    if (!r.background && r.tokPerS > 0) last = { latencyMs: last?.latencyMs ?? r.ms, tokPerS: r.tokPerS };
  });
  completer.on('shown', (s) => {
    tests.write({ t: 'shown', text: s.text, latencyMs: s.latencyMs, cached: s.cached });
    if (!s.cached) {
      last = { latencyMs: s.latencyMs, tokPerS: last?.tokPerS ?? 0 };
      refresh();
    }
  });
  completer.on('log', (m) => log.info(m));

  // Chat keeps its own KV slot in the same process, so completions stay warm while it answers.
  const TRANSCRIPT = 'hearth.chat.transcript';
  const chat = new ChatSession({
    engine: () => engine.whenChatReady(),
    maxTokens: () => config.chatMaxTokens,
    store: { load: () => context.workspaceState.get<Turn[]>(TRANSCRIPT), save: (t) => void context.workspaceState.update(TRANSCRIPT, t) },
  });
  const chatView = new ChatView(context.extensionUri, chat, (m) => log.warn(m));
  // The same model for VS Code's chat and other extensions (vscode.lm), on the same chat slot.
  const lmModels = new HearthChatModels(engine, () => config.chatMaxTokens, (m) => log.info(m));

  const settings = () => ({
    modelPath: expandPath(config.modelPath), chatModelPath: expandPath(config.chatModelPath), nodePath: expandPath(config.nodePath),
    contextSize: config.contextSize, idleUnloadMinutes: config.idleUnloadMinutes,
  });
  context.subscriptions.push(
    log,
    status,
    // Registered as an object with the one stable method: VS Code refuses providers with proposed members.
    vscode.languages.registerInlineCompletionItemProvider(SELECTOR, { provideInlineCompletionItems: (d, p, c, t) => provider.provideInlineCompletionItems(d, p, c, t) }),
    new ContextSources(ring, completer, provider, () => engine.ready !== undefined && globallyEnabled(config), (uri, name, why) => {
      tests.write({ t: 'context', uri, name, why });
      log.debug(`context: queued a chunk of ${uri} as ${name} (${why})`);
    }),
    ...registerCommands({ provider, config: () => config, log, pickModel: picker }),
    vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, chatView),
    chatView,
    ...registerChatCommands(chatView, chat),
    { dispose: () => chat.stop() },
    vscode.lm.registerLanguageModelChatProvider(LM_VENDOR, lmModels),
    lmModels,
    vscode.window.onDidChangeActiveTextEditor(refresh),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('hearth')) return;
      config = read();
      completer.cache.clear();
      refresh();
      lmModels.refresh();
      void engine.configure(settings());
    }),
    { dispose: () => void engine.dispose() },
  );
  refresh();
  void engine.configure(settings());
}

/** `~/x` from the home folder, a relative path from the first workspace folder. */
function expandPath(p: string): string {
  if (!p) return p;
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) return join(homedir(), p.slice(1));
  const folder = vscode.workspace.workspaceFolders?.[0];
  return isAbsolute(p) || !folder ? p : join(folder.uri.fsPath, p);
}

/** One notification for a problem, with what the user can do about it; with no model set, the first-run prompt. */
function tell(p: Problem, log: vscode.LogOutputChannel, picker: (role: PickerRole) => Promise<void>): void {
  const pick = 'Pick a Model…';
  const pickChat = 'Pick a Chat Model…';
  const file = 'Choose a File…';
  const settings = 'Open Settings';
  const show = 'Show Log';
  const actions = p.kind === 'no-model' ? [pick, file] : p.kind === 'model' ? [pick, show] : p.kind === 'chat-model' ? [pickChat, show] : p.kind === 'runtime' ? [settings, show] : [show];
  const say = p.kind === 'no-model' ? vscode.window.showInformationMessage : p.kind === 'slow' ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
  const text = p.kind === 'no-model' ? 'Hearth completes code with a local model: pick one to download, one already on this computer, or a GGUF file.' : `Hearth: ${p.message}`;
  void say(text, ...actions).then((a) => {
    if (a === pick) void picker('completion');
    else if (a === pickChat) void picker('chat');
    else if (a === file) void pickModelFile('completion');
    else if (a === settings) void vscode.commands.executeCommand('workbench.action.openSettings', 'hearth');
    else if (a === show) log.show(true);
  });
}

export async function deactivate(): Promise<void> {
  await host?.dispose();
  host = undefined;
}
