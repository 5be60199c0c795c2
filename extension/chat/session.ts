// The chat transcript and its one answer in flight, kept in the extension host: the webview only
// draws what this sends it (a hidden view receives nothing, so it gets a snapshot when shown again).
// No VS Code imports: tested under Node against the real inference process.
import type { ChatMessage, ChatOptions, GenerationHandle, Sampling } from '../../engine/process/index.js';
import type { ToWebview, Turn } from './messages.js';

/** What the session needs of the inference client (InferenceClient has it). */
export interface ChatEngine {
  chat(opts: ChatOptions, onToken: (t: { text: string }) => void): GenerationHandle;
}

export interface TranscriptStore {
  load(): Turn[] | undefined;
  save(turns: Turn[]): void;
}

export interface ChatSessionOptions {
  /** The engine, once one is ready; a message sent without one ends with this error. */
  engine: () => Promise<ChatEngine>;
  store?: TranscriptStore;
  /** Tokens per answer at most; a function is read at each answer (a setting that may change). */
  maxTokens?: number | (() => number);
  sampling?: Partial<Sampling>;
  system?: string;
  /** A streaming answer is stored at most this often (a window closed mid-answer keeps its text so far). */
  saveEveryMs?: number;
}

/** The answer in flight: its handle once the engine took it; `stop` also ends a wait for the engine. */
interface Answering {
  handle?: GenerationHandle;
  turn: Turn;
  stopped: boolean;
  stop: Promise<void>;
  onStop: () => void;
}

/** What the final text of an answer adds to the text streamed (a partial stop string that was not one, kept back at the end). */
export function heldBack(streamed: string, final: string): string {
  return final.startsWith(streamed) ? final.slice(streamed.length) : '';
}

/** Most turns kept in the stored transcript. */
const MAX_STORED_TURNS = 200;

export class ChatSession {
  private turns: Turn[];
  private notices: string[] = [];
  /** Turns before this index are no longer sent to the model (they did not fit the context). */
  private contextStart = 0;
  private current?: Answering;
  private ids = 0;
  private savedAt = 0;
  private readonly listeners = new Set<(m: ToWebview) => void>();

  constructor(private readonly o: ChatSessionOptions) {
    // An answer that was streaming when the window closed was cut off: say so, keep its text.
    this.turns = (o.store?.load() ?? []).map((t) => (t.status === 'streaming' ? { ...t, status: 'interrupted', note: 'the window closed while it streamed' } : t));
    this.ids = this.turns.length;
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  get transcript(): readonly Turn[] {
    return this.turns;
  }

  onMessage(listener: (m: ToWebview) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  snapshot(): ToWebview {
    return { type: 'snapshot', turns: this.turns.map((t) => ({ ...t })), busy: this.busy, notices: [...this.notices] };
  }

  private emit(m: ToWebview): void {
    for (const l of this.listeners) l(m);
  }

  /** A line above the composer (what was cut, what was dropped); the last three are kept. */
  notice(text: string): void {
    this.notices = [...this.notices.slice(-2), text];
    this.emit({ type: 'notice', text });
  }

  private newTurn(role: Turn['role'], text: string, label?: string): Turn {
    const t: Turn = { id: `t${++this.ids}`, role, text, status: role === 'user' ? 'done' : 'streaming' };
    if (label) t.label = label;
    this.turns.push(t);
    this.emit({ type: 'turn', turn: { ...t } });
    return t;
  }

  /** Sends a user message and streams the answer; resolves when the answer ends. Refused while one streams. */
  async send(text: string, label?: string): Promise<void> {
    if (this.current) {
      this.notice('An answer is still streaming: stop it first (Escape).');
      return;
    }
    this.newTurn('user', text, label);
    const answer = this.newTurn('assistant', '');
    // Stored at once: a window reloaded or closed mid-answer keeps the question and the answer so far.
    this.save();
    let onStop = () => {};
    const stop = new Promise<void>((r) => { onStop = r; });
    const current: Answering = { turn: answer, stopped: false, stop, onStop };
    this.current = current;
    try {
      await this.answer(current);
    } finally {
      this.current = undefined;
      this.save();
    }
  }

  private async answer(c: Answering): Promise<void> {
    let engine: ChatEngine | undefined;
    try {
      // A model still loading can take minutes: Stop ends the wait too.
      engine = await Promise.race([this.o.engine(), c.stop.then(() => undefined)]);
    } catch (e) {
      return this.end(c.turn, 'error', (e as Error).message);
    }
    if (!engine) return this.end(c.turn, 'stopped');
    for (;;) {
      if (c.stopped) return this.end(c.turn, 'stopped');
      const handle = engine.chat({ messages: this.messages(c.turn), maxTokens: (typeof this.o.maxTokens === 'function' ? this.o.maxTokens() : this.o.maxTokens) ?? 1024, sampling: this.o.sampling }, (t) => {
        if (!t.text) return;
        c.turn.text += t.text;
        if (performance.now() - this.savedAt >= (this.o.saveEveryMs ?? 1000)) this.save();
        this.emit({ type: 'delta', id: c.turn.id, text: t.text });
      });
      c.handle = handle;
      const r = await handle.result;
      if (r.type === 'done') {
        const rest = heldBack(c.turn.text, r.text);
        if (rest) {
          c.turn.text = r.text;
          this.emit({ type: 'delta', id: c.turn.id, text: rest });
        }
        return this.end(c.turn, r.reason === 'cancelled' ? 'stopped' : 'done', r.reason === 'length' ? 'The answer reached the token limit.' : undefined);
      }
      if (r.code === 'context-overflow' && c.turn.text === '' && this.dropOldest(c.turn)) continue;
      if (r.code === 'context-overflow') {
        return this.end(c.turn, 'error', `${r.message}. Start a new chat or send a shorter message.`);
      }
      if (r.code === 'process-exited' || r.code === 'device-lost') return this.end(c.turn, 'interrupted', r.message);
      return this.end(c.turn, 'error', r.message);
    }
  }

  /** Stops sending the oldest exchange; false when only the current question is left. */
  private dropOldest(current: Turn): boolean {
    const idx = this.turns.indexOf(current) - 1; // the question being answered
    let next = this.contextStart;
    while (next < idx && this.turns[next].role !== 'user') next++;
    next++;
    while (next < idx && this.turns[next].role !== 'user') next++;
    if (next >= idx) return false;
    const dropped = next - this.contextStart;
    this.contextStart = next;
    this.notice(`The conversation no longer fits the model's context: the ${dropped} oldest message${dropped === 1 ? ' is' : 's are'} no longer sent to the model.`);
    return true;
  }

  /** The conversation up to `answer`, from contextStart: user turns and the answers they got. */
  private messages(answer: Turn): ChatMessage[] {
    const out: ChatMessage[] = this.o.system ? [{ role: 'system', content: this.o.system }] : [];
    for (const t of this.turns.slice(this.contextStart)) {
      if (t === answer) break;
      if (t.role === 'assistant' && (t.status === 'error' || t.text === '')) continue;
      out.push({ role: t.role, content: t.text });
    }
    return out;
  }

  private end(turn: Turn, status: Exclude<Turn['status'], 'streaming'>, note?: string): void {
    turn.status = status;
    if (note) turn.note = note;
    this.emit({ type: 'end', id: turn.id, status, ...(note ? { note } : {}) });
  }

  /** Stops the answer in flight at the next token; its text so far stays. */
  stop(): void {
    const c = this.current;
    if (!c) return;
    c.stopped = true;
    c.onStop();
    c.handle?.cancel();
  }

  newChat(): void {
    this.stop();
    this.turns = [];
    this.notices = [];
    this.contextStart = 0;
    this.save();
    this.emit(this.snapshot());
  }

  private save(): void {
    this.savedAt = performance.now();
    this.o.store?.save(this.turns.slice(-MAX_STORED_TURNS));
  }
}
