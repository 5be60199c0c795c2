// What VS Code's language model API hands a provider, mapped to what the inference process takes:
// messages to {role, content} (text parts only; anything else is refused, naming it), the model's
// information from its load report, and token counts batched into one request per tick and kept.
// No VS Code imports: parts are told apart by their shape, as the API's classes define them.
import { LIMITS, type ChatMessage, type LoadReport } from '../../engine/process/index.js';

/** LanguageModelChatRequestMessage as far as mapping needs it. */
export interface LmMessage {
  readonly role: number;
  readonly content: ReadonlyArray<unknown>;
  readonly name?: string | undefined;
}

/** vscode.LanguageModelChatMessageRole, plus System (3), which VS Code's own chat sends. */
const ROLES: Record<number, ChatMessage['role']> = { 1: 'user', 2: 'assistant', 3: 'system' };

/** A request Hearth's model cannot take; the message says what and where. */
export class UnsupportedInput extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedInput';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null;

/** The text of a LanguageModelTextPart, or undefined for any other part. */
function textOf(part: unknown): string | undefined {
  return isObj(part) && typeof part.value === 'string' && !('callId' in part) ? part.value : undefined;
}

/** What a part that is not text is, for the error that refuses it. */
function kindOf(part: unknown): string {
  if (!isObj(part)) return `a ${typeof part}`;
  if ('callId' in part && 'name' in part) return `a tool call (${String(part.name).slice(0, 60)})`;
  if ('callId' in part) return 'a tool result';
  if ('mimeType' in part) return /^image\//.test(String(part.mimeType)) ? `an image (${String(part.mimeType).slice(0, 40)})` : `a data part (${String(part.mimeType).slice(0, 40)})`;
  return 'a part that is not text';
}

/** The request's messages as chat messages; throws UnsupportedInput on a role or part the local model cannot take. */
export function toChatMessages(messages: readonly LmMessage[]): ChatMessage[] {
  if (messages.length === 0) throw new UnsupportedInput('the request has no messages');
  return messages.map((m, i) => {
    const role = ROLES[m.role];
    if (!role) throw new UnsupportedInput(`message ${i + 1} has role ${m.role}: Hearth's local model takes user, assistant and system messages`);
    let content = '';
    for (const part of m.content) {
      const text = textOf(part);
      if (text === undefined) {
        throw new UnsupportedInput(`message ${i + 1} (${role}) holds ${kindOf(part)}: Hearth's local model takes text only (no tool calls, tool results or images)`);
      }
      content += text;
    }
    return { role, content };
  });
}

/** The text a message sends (its text parts); other parts count as nothing, since a request with them is refused. */
export function messageText(m: LmMessage): string {
  return m.content.map((p) => textOf(p) ?? '').join('');
}

/** LanguageModelChatInformation, without VS Code's types. */
export interface LmModelInfo {
  id: string;
  name: string;
  family: string;
  version: string;
  detail: string;
  tooltip: string;
  maxInputTokens: number;
  maxOutputTokens: number;
  capabilities: { imageInput: boolean; toolCalling: boolean };
}

/**
 * The model as VS Code lists it. An answer gets at most `chatMaxTokens` (hearth.chat.maxTokens), and
 * never more than half the context; the prompt may use the rest of the context.
 */
export function modelInfo(r: LoadReport, chatMaxTokens: number): LmModelInfo {
  const maxOutputTokens = Math.max(1, Math.min(chatMaxTokens, Math.floor(r.nCtx / 2)));
  const file = r.model.split(/[\\/]/).pop() ?? r.model;
  return {
    id: file.replace(/\.gguf$/i, ''),
    name: r.name || file,
    family: r.arch,
    version: r.fileType,
    detail: `local, ${r.fileType}`,
    tooltip: `${file} on ${r.device}, ${r.nCtx} tokens of context (Hearth)`,
    maxInputTokens: r.nCtx - maxOutputTokens,
    maxOutputTokens,
    capabilities: { imageInput: false, toolCalling: false },
  };
}

/** Most counts kept per model. */
const KEPT = 2000;

/**
 * Token counts through the inference process: the calls of one tick go as one request, and counts
 * are kept per model (VS Code asks for the same messages' counts again and again).
 */
export class TokenCounter {
  private kept = new Map<string, number>();
  private model = '';
  private queue: { text: string; resolve: (n: number) => void; reject: (e: Error) => void }[] = [];

  constructor(private readonly count: (texts: string[]) => Promise<number[]>) {}

  /** The token count of `text` with the tokenizer of `model` (a key: counts of another model are dropped). */
  tokens(model: string, text: string): Promise<number> {
    if (model !== this.model) {
      this.model = model;
      this.kept.clear();
    }
    const known = this.kept.get(text);
    if (known !== undefined) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush(model));
      this.queue.push({ text, resolve, reject });
    });
  }

  private async flush(model: string): Promise<void> {
    const batch = this.queue.splice(0);
    const texts = [...new Set(batch.map((b) => b.text))];
    try {
      const counts: number[] = [];
      for (let i = 0; i < texts.length; i += LIMITS.countTexts) counts.push(...await this.count(texts.slice(i, i + LIMITS.countTexts)));
      const byText = new Map(texts.map((t, i) => [t, counts[i]]));
      if (model === this.model) {
        for (const [t, n] of byText) {
          if (this.kept.size >= KEPT) this.kept.delete(this.kept.keys().next().value!);
          this.kept.set(t, n);
        }
      }
      for (const b of batch) b.resolve(byText.get(b.text)!);
    } catch (e) {
      for (const b of batch) b.reject(e as Error);
    }
  }
}
