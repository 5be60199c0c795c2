// Hearth's chat model in VS Code's language model API (stable since 1.104): listed in the model
// picker and to other extensions through vscode.lm.selectChatModels({ vendor: 'hearth' }). Answers
// stream through the engine host's inference process, on the chat slot the chat view uses.
import * as vscode from 'vscode';
import type { EngineHost } from '../engine-host.js';
import type { GenerationHandle, LoadReport } from '../../engine/process/index.js';
import { heldBack } from '../chat/session.js';
import { TokenCounter, UnsupportedInput, messageText, modelInfo, toChatMessages } from './messages.js';

export const LM_VENDOR = 'hearth';

export class HearthChatModels implements vscode.LanguageModelChatProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeLanguageModelChatInformation = this.changed.event;
  private readonly counter: TokenCounter;
  private listed = '';
  private readonly onEngine = () => this.refresh();

  constructor(private readonly engine: EngineHost, private readonly chatMaxTokens: () => number, private readonly log: (m: string) => void) {
    this.counter = new TokenCounter(async (texts) => (await engine.whenChatReady()).count(texts));
    for (const e of ['state', 'chatState', 'loaded'] as const) engine.on(e, this.onEngine);
  }

  /** Tells VS Code when the model that serves chat (or its limits) changed. */
  refresh(): void {
    const r = this.report();
    const key = r ? JSON.stringify(modelInfo(r, this.chatMaxTokens())) : '';
    if (key === this.listed) return;
    this.listed = key;
    this.changed.fire();
  }

  /** The model that answers chat: the chat model when one is set, else the completion model; none while loading or failed. */
  private report(): LoadReport | undefined {
    const usable = (k: string) => k === 'ready' || k === 'unloaded' || k === 'restarting';
    if (this.engine.chatState.kind === 'none') return usable(this.engine.state.kind) ? this.engine.report : undefined;
    return usable(this.engine.chatState.kind) ? this.engine.chatReport : undefined;
  }

  provideLanguageModelChatInformation(): vscode.LanguageModelChatInformation[] {
    const r = this.report();
    return r ? [modelInfo(r, this.chatMaxTokens())] : [];
  }

  async provideLanguageModelChatResponse(
    model: vscode.LanguageModelChatInformation, messages: readonly vscode.LanguageModelChatRequestMessage[],
    options: vscode.ProvideLanguageModelChatResponseOptions, progress: vscode.Progress<vscode.LanguageModelResponsePart>, token: vscode.CancellationToken,
  ): Promise<void> {
    const chatMessages = toChatMessages(messages);
    if (options.toolMode === vscode.LanguageModelChatToolMode.Required && options.tools?.length) {
      throw new UnsupportedInput(`the request requires a tool call (${options.tools.map((t) => t.name).join(', ').slice(0, 200)}): Hearth's local model cannot call tools`);
    }
    const r = this.report();
    const info = r && modelInfo(r, this.chatMaxTokens());
    if (!info || info.id !== model.id) throw new Error(`Hearth: the model ${model.id} is not loaded${info ? ` (chat uses ${info.id} now)` : ''}`);
    const asked = options.modelOptions?.maxTokens;
    const maxTokens = Number.isInteger(asked) && asked > 0 ? Math.min(asked, info.maxOutputTokens) : info.maxOutputTokens;
    const temperature = options.modelOptions?.temperature;
    const sampling = typeof temperature === 'number' && temperature >= 0 && temperature <= 2 ? { temperature } : undefined;
    // A model still loading can take minutes: cancelling ends the wait too, and later the answer at its next token.
    let handle: GenerationHandle | undefined;
    let onCancel = () => {};
    const cancelled = new Promise<undefined>((res) => { onCancel = () => res(undefined); });
    const sub = token.onCancellationRequested(() => { onCancel(); handle?.cancel(); });
    try {
      const client = await Promise.race([this.engine.whenChatReady(), cancelled]);
      if (!client || token.isCancellationRequested) return;
      let streamed = '';
      // Past a cancel the caller reads nothing more: tokens still on their way from the process are dropped here.
      handle = client.chat({ messages: chatMessages, maxTokens, ...(sampling ? { sampling } : {}) }, (t) => {
        if (!t.text || token.isCancellationRequested) return;
        streamed += t.text;
        progress.report(new vscode.LanguageModelTextPart(t.text));
      });
      const done = await handle.result;
      if (done.type === 'error') throw new Error(`Hearth: ${done.message}`);
      const rest = token.isCancellationRequested ? '' : heldBack(streamed, done.text);
      if (rest) progress.report(new vscode.LanguageModelTextPart(rest));
      this.log(`language model request: ${chatMessages.length} messages, ${done.timings.promptTokens} prompt tokens, ${done.timings.decodeTokens} generated, ${done.reason}`);
    } finally {
      sub.dispose();
    }
  }

  async provideTokenCount(model: vscode.LanguageModelChatInformation, text: string | vscode.LanguageModelChatRequestMessage): Promise<number> {
    return this.counter.tokens(model.id, typeof text === 'string' ? text : messageText(text));
  }

  dispose(): void {
    for (const e of ['state', 'chatState', 'loaded'] as const) this.engine.off(e, this.onEngine);
    this.changed.dispose();
  }
}
