// The messages between the chat webview (media/chat/) and the extension host (extension/chat/view.ts),
// defined once. Each side validates what it receives: the webview renders untrusted model output, and
// the host must not act on a malformed message.

export type TurnStatus = 'streaming' | 'done' | 'stopped' | 'interrupted' | 'error';

export interface Turn {
  id: string;
  role: 'user' | 'assistant';
  text: string;
  status: TurnStatus;
  /** What the turn was about when it came from a command (e.g. "Explain selection: a.py:3-9"). */
  label?: string;
  /** Why an assistant turn ended early (error text, or the interruption). */
  note?: string;
}

export type ToWebview =
  /** The whole transcript: sent whenever the view (re)appears, since a hidden view misses messages. */
  | { type: 'snapshot'; turns: Turn[]; busy: boolean; notices: string[] }
  | { type: 'turn'; turn: Turn }
  | { type: 'delta'; id: string; text: string }
  | { type: 'end'; id: string; status: Exclude<TurnStatus, 'streaming'>; note?: string }
  | { type: 'notice'; text: string }
  | { type: 'focus' };

export type ToHost =
  | { type: 'ready' }
  | { type: 'send'; text: string }
  | { type: 'stop' }
  | { type: 'copy'; code: string }
  | { type: 'insert'; code: string }
  | { type: 'open'; code: string; language: string };

/** Longest text a single message may carry (a pasted file is far below it). */
export const MAX_MESSAGE_CHARS = 4 << 20;

export class MessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessageError';
  }
}

type Obj = Record<string, unknown>;

function obj(m: unknown, what: string): Obj {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new MessageError(`${what}: not an object`);
  return m as Obj;
}

function str(o: Obj, key: string, what: string, optional = false): string {
  const v = o[key];
  if (v === undefined && optional) return undefined as unknown as string;
  if (typeof v !== 'string') throw new MessageError(`${what}: ${key} must be a string`);
  if (v.length > MAX_MESSAGE_CHARS) throw new MessageError(`${what}: ${key} is ${v.length} characters, over ${MAX_MESSAGE_CHARS}`);
  return v;
}

const STATUSES: readonly TurnStatus[] = ['streaming', 'done', 'stopped', 'interrupted', 'error'];

function status(o: Obj, what: string, ended: boolean): TurnStatus {
  const s = o.status;
  if (typeof s !== 'string' || !STATUSES.includes(s as TurnStatus) || (ended && s === 'streaming')) {
    throw new MessageError(`${what}: bad status ${JSON.stringify(s)}`);
  }
  return s as TurnStatus;
}

function turn(m: unknown, what: string): Turn {
  const o = obj(m, what);
  const role = o.role;
  if (role !== 'user' && role !== 'assistant') throw new MessageError(`${what}: bad role ${JSON.stringify(role)}`);
  const t: Turn = { id: str(o, 'id', what), role, text: str(o, 'text', what), status: status(o, what, false) };
  const label = str(o, 'label', what, true);
  if (label !== undefined) t.label = label;
  const note = str(o, 'note', what, true);
  if (note !== undefined) t.note = note;
  return t;
}

export function parseToWebview(m: unknown): ToWebview {
  const o = obj(m, 'host message');
  const what = `host message ${JSON.stringify(o.type)}`;
  switch (o.type) {
    case 'snapshot': {
      if (!Array.isArray(o.turns) || !Array.isArray(o.notices) || typeof o.busy !== 'boolean') throw new MessageError(`${what}: needs turns, notices and busy`);
      return { type: 'snapshot', turns: o.turns.map((t, i) => turn(t, `${what} turn ${i}`)), busy: o.busy, notices: o.notices.map((n) => { if (typeof n !== 'string') throw new MessageError(`${what}: notices must be strings`); return n; }) };
    }
    case 'turn': return { type: 'turn', turn: turn(o.turn, what) };
    case 'delta': return { type: 'delta', id: str(o, 'id', what), text: str(o, 'text', what) };
    case 'end': {
      const e: ToWebview = { type: 'end', id: str(o, 'id', what), status: status(o, what, true) as Exclude<TurnStatus, 'streaming'> };
      const note = str(o, 'note', what, true);
      if (note !== undefined) e.note = note;
      return e;
    }
    case 'notice': return { type: 'notice', text: str(o, 'text', what) };
    case 'focus': return { type: 'focus' };
    default: throw new MessageError(`unknown host message type ${JSON.stringify(o.type)}`);
  }
}

export function parseToHost(m: unknown): ToHost {
  const o = obj(m, 'webview message');
  const what = `webview message ${JSON.stringify(o.type)}`;
  switch (o.type) {
    case 'ready': case 'stop': return { type: o.type };
    case 'send': return { type: 'send', text: str(o, 'text', what) };
    case 'copy': return { type: 'copy', code: str(o, 'code', what) };
    case 'insert': return { type: 'insert', code: str(o, 'code', what) };
    case 'open': return { type: 'open', code: str(o, 'code', what), language: str(o, 'language', what) };
    default: throw new MessageError(`unknown webview message type ${JSON.stringify(o.type)}`);
  }
}
