// Hearth's chat view as the e2e tests see it: the webview is an iframe (the chat page) inside the
// workbench's iframe.webview, so every read runs in the frame that holds the chat page's #transcript.
// The reads run inside that frame (frame.evaluate serializes them): they reference nothing outside
// their own body, and the declarations below type just the DOM they use (the project compiles
// without the DOM library).
import type { Frame } from 'playwright-core';
import type { Editor } from './harness.js';

interface DomNode {
  readonly textContent: string | null;
  readonly className: string;
  readonly hidden: boolean;
  readonly value: string;
  querySelector(selector: string): DomNode | null;
  querySelectorAll(selector: string): ArrayLike<DomNode>;
}
declare const document: { getElementById(id: string): DomNode | null; querySelectorAll(selector: string): ArrayLike<DomNode> };

/** One turn as drawn: its role, its text, its status (the class the page gives it; 'streaming' while none). */
export interface DrawnTurn {
  role: string;
  text: string;
  status: string;
  label: string;
  /** The line under an answer that ended early ("Stopped.", "Interrupted: …"). */
  statusLine: string;
}

export interface DrawnChat {
  turns: DrawnTurn[];
  /** The send button reads Stop while an answer streams. */
  sendLabel: string;
  notices: string[];
  /** The empty-transcript hint is shown. */
  empty: boolean;
  input: string;
}

/** What the chat page draws; null in a frame that is not the chat page. */
export function drawnChat(): DrawnChat | null {
  const transcript = document.getElementById('transcript');
  if (!transcript) return null;
  const turns = Array.from(transcript.querySelectorAll('.turn')).map((t) => {
    const classes = t.className.split(/\s+/).filter((c) => c && c !== 'turn');
    const role = classes.find((c) => c === 'user' || c === 'assistant') ?? '?';
    return {
      role,
      text: t.querySelector('.turn-body')?.textContent ?? '',
      status: classes.find((c) => c !== role) ?? (role === 'user' ? 'done' : 'streaming'),
      label: t.querySelector('.turn-label')?.textContent ?? '',
      statusLine: t.querySelector('.turn-status')?.textContent ?? '',
    };
  });
  return {
    turns,
    sendLabel: document.getElementById('send')?.textContent ?? '',
    notices: Array.from(document.querySelectorAll('#notices .notice')).map((n) => n.textContent ?? ''),
    empty: !(document.getElementById('empty')?.hidden ?? true),
    input: document.getElementById('input')?.value ?? '',
  };
}

export class ChatPanel {
  private frame?: Frame;

  constructor(private readonly e: Editor) {}

  /** The chat page's frame, or undefined while the view is not drawn (hidden views lose their page). */
  async find(): Promise<Frame | undefined> {
    if (this.frame && !this.frame.isDetached() && (await this.frame.evaluate(drawnChat).catch(() => null))) return this.frame;
    this.frame = undefined;
    for (const f of this.e.page.frames()) {
      if (f === this.e.page.mainFrame()) continue;
      if (await f.evaluate(drawnChat).catch(() => null)) return (this.frame = f);
    }
    return undefined;
  }

  /** What the chat view draws now; null while it is not drawn. */
  async read(): Promise<DrawnChat | null> {
    const f = await this.find();
    return f ? f.evaluate(drawnChat).catch(() => null) : null;
  }

  /** Waits until the view draws a state satisfying `ok`; returns it. */
  async waitFor(ok: (c: DrawnChat) => boolean, what: string, timeoutMs = 120_000): Promise<DrawnChat> {
    let c: DrawnChat | null = null;
    try {
      await this.e.waitFor(async () => (c = await this.read()) !== null && ok(c), what, timeoutMs);
    } catch (err) {
      (err as Error).message += `\nthe chat view drew last: ${JSON.stringify(c)?.slice(0, 1500)}`;
      throw err;
    }
    return c!;
  }

  async frameOrThrow(): Promise<Frame> {
    const f = await this.find();
    if (!f) throw new Error('the chat view is not drawn');
    return f;
  }

  /** Clicks one of the page's elements (#send, #input). */
  async click(selector: string): Promise<void> {
    await (await this.frameOrThrow()).locator(selector).click({ timeout: 30_000 });
  }

  /** Focuses the message box and types `text` (Enter sends it). */
  async type(text: string): Promise<void> {
    await this.click('#input');
    await this.e.type(text, { delayMs: 40 });
  }
}

/** The last answer drawn, or undefined. */
export function lastAnswer(c: DrawnChat | null): DrawnTurn | undefined {
  return c?.turns.filter((t) => t.role === 'assistant').at(-1);
}
