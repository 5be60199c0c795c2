// Streams a markdown answer into the DOM. Finished blocks (closed by a blank line or a code fence) are
// rendered once and never touched again; only the open tail is redrawn as tokens arrive, and an open
// code fence only has text appended, so each token costs the same however long the answer grows.
// Model output is untrusted: markdown-it runs with raw HTML off, and its output is rebuilt node by
// node from an allow-list (no attribute survives unless listed), so nothing it emits can run.
import MarkdownIt from 'markdown-it';
import hljs from 'highlight.js/lib/common';

export type CodeAction = 'copy' | 'insert' | 'open';

const md = new MarkdownIt({
  html: false,
  linkify: false,
  highlight: (code, lang) => {
    if (lang && hljs.getLanguage(lang)) {
      try { return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value; } catch { /* plain below */ }
    }
    return '';
  },
});

const BLOCK_TAGS = new Set(['P', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'UL', 'OL', 'LI', 'BLOCKQUOTE', 'PRE', 'HR', 'TABLE', 'THEAD', 'TBODY', 'TR', 'TH', 'TD']);
const INLINE_TAGS = new Set(['CODE', 'EM', 'STRONG', 'DEL', 'S', 'A', 'BR', 'SPAN']);

/** Copies an element tree from an inert parsed document, keeping only allowed tags and attributes. */
function rebuild(node: Node, doc: Document): Node | null {
  if (node.nodeType === Node.TEXT_NODE) return doc.createTextNode(node.textContent ?? '');
  if (node.nodeType !== Node.ELEMENT_NODE) return null;
  const el = node as Element;
  const tag = el.tagName;
  if (tag === 'IMG') return doc.createTextNode(`[image: ${el.getAttribute('alt') ?? ''}]`);
  if (!BLOCK_TAGS.has(tag) && !INLINE_TAGS.has(tag)) return doc.createTextNode(el.textContent ?? '');
  const out = doc.createElement(tag.toLowerCase());
  if (tag === 'A') {
    const href = el.getAttribute('href') ?? '';
    if (/^https?:\/\//i.test(href)) out.setAttribute('href', href);
    out.setAttribute('title', href);
  } else if (tag === 'OL') {
    const start = el.getAttribute('start');
    if (start && /^\d{1,9}$/.test(start)) out.setAttribute('start', start);
  } else if (tag === 'CODE') {
    const cls = el.getAttribute('class');
    if (cls && /^language-[\w+#.-]{1,40}$/.test(cls)) out.setAttribute('class', cls);
  } else if (tag === 'SPAN') {
    const cls = el.getAttribute('class');
    if (cls && /^hljs-[\w-]+( [\w-]+_?)*$/.test(cls)) out.setAttribute('class', cls);
  } else if (tag === 'TH' || tag === 'TD') {
    const align = /text-align:\s*(left|right|center)/.exec(el.getAttribute('style') ?? '');
    if (align) out.setAttribute('class', `align-${align[1]}`);
  }
  for (const child of Array.from(el.childNodes)) {
    const c = rebuild(child, doc);
    if (c) out.appendChild(c);
  }
  return out;
}

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})([^`]*)$/;

interface Fence { char: string; len: number; lang: string; start: number }

export class StreamingMarkdown {
  private src = '';
  /** src[0, closed) is rendered for good. */
  private closed = 0;
  /** Complete lines before this index have been scanned. */
  private scanned = 0;
  /** A blank line ended here; whether it ends a block depends on how the next line starts. */
  private pendingBreak = -1;
  private fence?: Fence;
  private readonly tail: HTMLElement;
  /** The open fence's text node, appended to as its lines arrive. */
  private openCode?: { text: Text; upTo: number };
  /** Blocks rendered for good, and markdown characters rendered in all (finished blocks and tails):
   * both stay proportional to the answer, which is what keeps streaming linear. */
  renders = 0;
  renderedChars = 0;

  constructor(private readonly root: HTMLElement, private readonly onCode: (action: CodeAction, code: string, language: string) => void) {
    this.tail = root.ownerDocument.createElement('div');
    this.tail.className = 'tail';
    root.appendChild(this.tail);
  }

  get text(): string {
    return this.src;
  }

  append(text: string): void {
    if (!text) return;
    this.src += text;
    this.scan();
    this.drawTail();
  }

  /** The answer is over: everything left is a finished block. */
  finish(): void {
    this.pendingBreak = -1;
    this.fence = undefined;
    if (this.closed < this.src.length) this.close(this.src.length);
    this.clearTail();
  }

  private scan(): void {
    for (;;) {
      const nl = this.src.indexOf('\n', this.scanned);
      if (nl < 0) return;
      const start = this.scanned;
      const line = this.src.slice(start, nl);
      this.scanned = nl + 1;
      if (this.fence) {
        const f = this.fence;
        const m = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
        if (m && m[1][0] === f.char && m[1].length >= f.len) {
          this.fence = undefined;
          this.close(this.scanned);
        }
        continue;
      }
      const blank = line.trim() === '';
      if (blank) {
        if (this.pendingBreak < 0 && this.hasContent(start)) this.pendingBreak = this.scanned;
        continue;
      }
      // An indented line after a blank one continues the block (a list item's paragraph or code).
      if (this.pendingBreak >= 0) {
        if (!/^[ \t]/.test(line)) this.close(this.pendingBreak);
        this.pendingBreak = -1;
      }
      const open = FENCE_OPEN.exec(line);
      if (open && !(open[1][0] === '`' && open[2].includes('`'))) {
        if (this.hasContent(start)) this.close(start);
        this.fence = { char: open[1][0], len: open[1].length, lang: open[2].trim().split(/\s+/)[0] ?? '', start: this.scanned };
      }
    }
  }

  private hasContent(end: number): boolean {
    return this.src.slice(this.closed, end).trim() !== '';
  }

  /** Renders src[closed, end) for good, before the tail. */
  private close(end: number): void {
    const block = this.src.slice(this.closed, end);
    this.closed = end;
    this.clearTail();
    if (block.trim() === '') return;
    this.root.insertBefore(this.renderMarkdown(block), this.tail);
    this.renders++;
  }

  private clearTail(): void {
    this.tail.replaceChildren();
    this.openCode = undefined;
  }

  private drawTail(): void {
    const f = this.fence;
    if (f && f.start >= this.closed) {
      // An open fence: append the new code text only; highlighting waits for the closing fence.
      if (!this.openCode) {
        const { block, code } = this.codeBlock(f.lang);
        const text = this.root.ownerDocument.createTextNode('');
        code.appendChild(text);
        this.clearTail();
        this.tail.appendChild(block);
        this.openCode = { text, upTo: f.start };
      }
      const oc = this.openCode;
      if (this.src.length > oc.upTo) {
        oc.text.appendData(this.src.slice(oc.upTo));
        oc.upTo = this.src.length;
      }
      return;
    }
    this.clearTail();
    const open = this.src.slice(this.closed);
    if (open.trim() !== '') this.tail.appendChild(this.renderMarkdown(open));
  }

  private renderMarkdown(source: string): DocumentFragment {
    const doc = this.root.ownerDocument;
    this.renderedChars += source.length;
    const parsed = new DOMParser().parseFromString(`<body>${md.render(source)}</body>`, 'text/html');
    const frag = doc.createDocumentFragment();
    for (const n of Array.from(parsed.body.childNodes)) {
      const c = rebuild(n, doc);
      if (!c) continue;
      if (c.nodeName === 'PRE') frag.appendChild(this.decorate(c as HTMLElement));
      else frag.appendChild(c);
    }
    return frag;
  }

  /** A finished <pre><code> gets a header with its language and the three actions. */
  private decorate(pre: HTMLElement): HTMLElement {
    const code = pre.querySelector('code');
    const lang = /language-([\w+#.-]+)/.exec(code?.getAttribute('class') ?? '')?.[1] ?? '';
    const { block, code: target } = this.codeBlock(lang, code?.textContent ?? '');
    if (code) target.replaceChildren(...Array.from(code.childNodes));
    if (code?.getAttribute('class')) target.setAttribute('class', `${code.getAttribute('class')} hljs`);
    return block;
  }

  private codeBlock(lang: string, source?: string): { block: HTMLElement; code: HTMLElement } {
    const doc = this.root.ownerDocument;
    const block = doc.createElement('div');
    block.className = 'code-block';
    const header = doc.createElement('div');
    header.className = 'code-header';
    const label = doc.createElement('span');
    label.className = 'code-lang';
    label.textContent = lang;
    header.appendChild(label);
    const pre = doc.createElement('pre');
    const code = doc.createElement('code');
    pre.appendChild(code);
    if (source !== undefined) {
      for (const [action, title] of [['copy', 'Copy'], ['insert', 'Insert at cursor'], ['open', 'Open in new editor']] as const) {
        const b = doc.createElement('button');
        b.className = `code-action code-${action}`;
        b.textContent = title;
        b.title = title;
        b.addEventListener('click', () => this.onCode(action, source.replace(/\n$/, ''), lang));
        header.appendChild(b);
      }
    }
    block.append(header, pre);
    return { block, code };
  }
}
