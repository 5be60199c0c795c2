// The chat webview: draws the transcript the host sends, streams answers through StreamingMarkdown,
// and posts the user's actions back. It keeps no transcript of its own: the host owns it, so a
// hidden or reloaded view is redrawn from a snapshot.
import { parseToWebview, type ToHost, type ToWebview, type Turn } from '../../extension/chat/messages.js';
import { StreamingMarkdown, type CodeAction } from './render.js';

interface VsCodeApi { postMessage(m: ToHost): void; getState(): unknown; setState(s: unknown): void }
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const post = (m: ToHost) => vscode.postMessage(m);

const transcript = document.getElementById('transcript')!;
const notices = document.getElementById('notices')!;
const input = document.getElementById('input') as HTMLTextAreaElement;
const send = document.getElementById('send') as HTMLButtonElement;
const empty = document.getElementById('empty')!;

const answers = new Map<string, { md: StreamingMarkdown; el: HTMLElement }>();
let busy = false;

const STATUS_TEXT: Record<string, string> = { stopped: 'Stopped', interrupted: 'Interrupted', error: 'Error' };
const sentence = (s: string) => (/[.!?]$/.test(s) ? s : `${s}.`);

/** The line under an answer that ended early, or that ended with something to say (the token limit). */
function statusLine(status: string, note?: string): string | undefined {
  if (status === 'done') return note && sentence(note);
  const label = STATUS_TEXT[status] ?? status;
  return note ? `${label}: ${sentence(note)}` : `${label}.`;
}

function setBusy(b: boolean): void {
  busy = b;
  send.textContent = b ? 'Stop' : 'Send';
  send.title = b ? 'Stop (Escape)' : 'Send (Enter)';
  send.classList.toggle('stop', b);
}

// Follow the answer unless the user scrolled up; at most one layout read per frame, not per token.
let follow = true;
let scrollQueued = false;
/** Where scrollToEnd last put the transcript. */
let autoTop = 0;
transcript.addEventListener('scroll', () => {
  // Our own scroll fires this too, after more text may have arrived below: only a move up from
  // where we put it (the user's) stops following; back at the end follows again.
  if (transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40) follow = true;
  else if (transcript.scrollTop < autoTop - 1) follow = false;
});
function scrollToEnd(): void {
  if (!follow || scrollQueued) return;
  scrollQueued = true;
  requestAnimationFrame(() => {
    scrollQueued = false;
    transcript.scrollTop = transcript.scrollHeight;
    autoTop = transcript.scrollTop;
  });
}

function addTurn(t: Turn): void {
  empty.hidden = true;
  if (t.role === 'user') follow = true;
  const el = document.createElement('div');
  el.className = `turn ${t.role}`;
  el.dataset.id = t.id;
  if (t.label) {
    const label = document.createElement('div');
    label.className = 'turn-label';
    label.textContent = t.label;
    el.appendChild(label);
  }
  const body = document.createElement('div');
  body.className = 'turn-body';
  el.appendChild(body);
  transcript.appendChild(el);
  const onCode = (action: CodeAction, code: string, language: string) => post(action === 'open' ? { type: 'open', code, language } : { type: action, code });
  if (t.role === 'user' && !t.label) {
    body.textContent = t.text;
  } else if (t.role === 'user') {
    // A question Hearth composed (Explain Selection, Ask about this file) is markdown by
    // construction: its code shows as a code block, not as raw fences. Typed text stays as typed.
    body.classList.add('markdown');
    const md = new StreamingMarkdown(body, onCode);
    md.append(t.text);
    md.finish();
  } else {
    const md = new StreamingMarkdown(body, onCode);
    answers.set(t.id, { md, el });
    md.append(t.text);
    if (t.status !== 'streaming') end(t.id, t.status, t.note);
  }
  scrollToEnd();
}

function end(id: string, status: string, note?: string): void {
  const a = answers.get(id);
  if (!a) return;
  a.md.finish();
  a.el.classList.add(status);
  const line = statusLine(status, note);
  if (line) {
    const s = document.createElement('div');
    s.className = 'turn-status';
    s.textContent = line;
    a.el.appendChild(s);
    // The line says why the answer ended: followed into view like the answer's own text.
    scrollToEnd();
  }
}

const WAIT_HINT = 'Hearth is still answering: Escape stops it, then Enter sends your message.';

function notice(text: string): void {
  // Said once: the same notice twice in a row (a key held down, a retry) adds nothing.
  if (notices.lastElementChild?.textContent === text) return;
  const n = document.createElement('div');
  n.className = 'notice';
  n.textContent = text;
  notices.appendChild(n);
  while (notices.childElementCount > 3) notices.firstElementChild!.remove();
}

function onMessage(m: ToWebview): void {
  switch (m.type) {
    case 'snapshot':
      transcript.querySelectorAll('.turn').forEach((e) => e.remove());
      answers.clear();
      notices.replaceChildren();
      empty.hidden = m.turns.length > 0;
      for (const t of m.turns) addTurn(t);
      for (const n of m.notices) notice(n);
      setBusy(m.busy);
      break;
    case 'turn':
      addTurn(m.turn);
      if (m.turn.status === 'streaming') setBusy(true);
      break;
    case 'delta': {
      const a = answers.get(m.id);
      if (!a) return;
      a.md.append(m.text);
      scrollToEnd();
      break;
    }
    case 'end':
      end(m.id, m.status, m.note);
      setBusy(false);
      // Stale once the answer ended: Enter sends again.
      for (const n of [...notices.children]) if (n.textContent === WAIT_HINT) n.remove();
      break;
    case 'notice':
      notice(m.text);
      break;
    case 'focus':
      input.focus();
      break;
  }
}

window.addEventListener('message', (e: MessageEvent) => {
  let m: ToWebview;
  try {
    m = parseToWebview(e.data);
  } catch (err) {
    console.error(`hearth chat: ${(err as Error).message}`);
    return;
  }
  onMessage(m);
});

function submit(): void {
  const text = input.value;
  if (!text.trim()) return;
  // One answer at a time: the message stays in the box, and the user is told why it was not sent.
  if (busy) return notice(WAIT_HINT);
  input.value = '';
  vscode.setState({ draft: '' });
  post({ type: 'send', text });
}

send.addEventListener('click', () => (busy ? post({ type: 'stop' }) : submit()));
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && busy) {
    e.preventDefault();
    post({ type: 'stop' });
  }
});
input.addEventListener('input', () => vscode.setState({ draft: input.value }));

const state = vscode.getState() as { draft?: unknown } | undefined;
if (typeof state?.draft === 'string') input.value = state.draft;
setBusy(false);
post({ type: 'ready' });

// Markdown characters rendered so far, for the streaming test (proof that rendering stays linear).
(window as unknown as { hearthRendered: () => number }).hearthRendered = () => [...answers.values()].reduce((s, a) => s + a.md.renderedChars, 0);
