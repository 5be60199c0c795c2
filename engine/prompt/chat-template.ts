// A small Jinja interpreter for the chat templates GGUF files carry (`tokenizer.chat_template`).
// It covers what real templates use — for/if/set/namespace, filters, tests, slices, string and
// dict methods, loop variables, raise_exception — with the environment Hugging Face renders them
// in (trim_blocks and lstrip_blocks on, tojson as Python's json.dumps). Anything else is a
// TemplateError naming the line, never a silent misrender.

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

// ---- values ----------------------------------------------------------------------------------

/** Jinja's Undefined: falsy, empty when printed or iterated, an error in arithmetic. */
class Undefined {
  constructor(readonly name: string) {}
}

class Namespace {
  constructor(readonly attrs: Map<string, unknown>) {}
}

/** A builtin callable (function, bound method). */
class Fn {
  constructor(readonly call: (args: unknown[], kwargs: Map<string, unknown>) => unknown) {}
}

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Undefined) && !(v instanceof Namespace) && !(v instanceof Fn);
}

function typeOf(v: unknown): string {
  if (v === null) return 'none';
  if (v instanceof Undefined) return `undefined (${v.name})`;
  if (Array.isArray(v)) return 'list';
  if (v instanceof Namespace) return 'namespace';
  if (v instanceof Fn) return 'function';
  if (isDict(v)) return 'dict';
  return typeof v;
}

function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v instanceof Undefined) return false;
  if (typeof v === 'string' || Array.isArray(v)) return v.length > 0;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  if (isDict(v)) return Object.keys(v).length > 0;
  return true;
}

/** Python's str() of a value, as Jinja prints it. */
function str(v: unknown): string {
  if (v instanceof Undefined || v === undefined) return '';
  if (v === null) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return pyRepr(v);
}

function pyRepr(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (isDict(v)) return `{${Object.entries(v).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  return str(v);
}

function equal(a: unknown, b: unknown): boolean {
  if (a instanceof Undefined || b instanceof Undefined) return a instanceof Undefined && b instanceof Undefined;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isDict(a) && isDict(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && equal(a[k], b[k]));
  }
  return a === b;
}

/** Python's json.dumps(v, ensure_ascii=False, indent=indent): ", " and ": " separators without indent. */
function toJson(v: unknown, indent: number | undefined, depth = 0): string {
  if (v === null || v instanceof Undefined || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  const items: string[] = [];
  let open: string, close: string;
  if (Array.isArray(v)) {
    [open, close] = ['[', ']'];
    for (const x of v) items.push(toJson(x, indent, depth + 1));
  } else if (isDict(v)) {
    [open, close] = ['{', '}'];
    for (const [k, x] of Object.entries(v)) items.push(`${JSON.stringify(k)}: ${toJson(x, indent, depth + 1)}`);
  } else if (v instanceof Namespace) {
    return toJson(Object.fromEntries(v.attrs), indent, depth);
  } else {
    throw new TemplateError(`tojson: cannot serialize a ${typeOf(v)}`);
  }
  if (items.length === 0) return open + close;
  if (indent === undefined) return open + items.join(', ') + close;
  const pad = '\n' + ' '.repeat(indent * (depth + 1));
  return open + pad + items.join(',' + pad) + '\n' + ' '.repeat(indent * depth) + close;
}

// ---- lexer -----------------------------------------------------------------------------------

type Chunk =
  | { kind: 'text'; text: string; line: number }
  | { kind: 'output' | 'stmt'; src: string; line: number };

/** Splits the template into text and tags, applying -, trim_blocks and lstrip_blocks. */
function chunk(src: string): Chunk[] {
  const out: Chunk[] = [];
  let i = 0;
  let line = 1;
  let stripNext = false; // the previous tag ended with '-'
  let trimNewline = false; // the previous tag was a block or comment (trim_blocks)
  const pushText = (text: string, at: number) => {
    if (stripNext) text = text.replace(/^\s+/, '');
    else if (trimNewline) text = text.replace(/^\r?\n/, '');
    stripNext = trimNewline = false;
    if (text) out.push({ kind: 'text', text, line: at });
  };
  while (i < src.length) {
    const open = src.slice(i).search(/\{[{%#]/);
    if (open < 0) {
      pushText(src.slice(i), line);
      break;
    }
    const start = i + open;
    const kind = src[start + 1];
    let text = src.slice(i, start);
    const textLine = line;
    line += (src.slice(i, start).match(/\n/g) ?? []).length;
    const minus = src[start + 2] === '-';
    const plus = src[start + 2] === '+';
    if (minus) text = text.replace(/\s+$/, '');
    // lstrip_blocks: blanks between the start of a line and a block or comment tag go.
    else if (kind !== '{' && !plus) text = i === 0 && /^[ \t]+$/.test(text) ? '' : text.replace(/\n[ \t]+$/, '\n');
    pushText(text, textLine);
    const closer = kind === '{' ? '}}' : kind === '%' ? '%}' : '#}';
    const bodyStart = start + 2 + (minus || plus ? 1 : 0);
    const end = kind === '#' ? src.indexOf('#}', bodyStart) : findClose(src, bodyStart, closer);
    if (end < 0) throw new TemplateError(`line ${line}: unclosed "{${kind}"`);
    let body = src.slice(bodyStart, end);
    const rightMinus = body.endsWith('-');
    if (rightMinus) body = body.slice(0, -1);
    if (kind !== '#') out.push({ kind: kind === '{' ? 'output' : 'stmt', src: body, line });
    line += (src.slice(start, end + 2).match(/\n/g) ?? []).length;
    stripNext = rightMinus;
    trimNewline = kind !== '{';
    i = end + 2;
  }
  return out;
}

/** Index of the closing delimiter, skipping string literals that may contain it. */
function findClose(src: string, from: number, closer: string): number {
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === "'") {
      for (i++; i < src.length && src[i] !== c; i++) if (src[i] === '\\') i++;
    } else if (src.startsWith(closer, i)) {
      return i;
    }
  }
  return -1;
}

type Tok = { t: 'name' | 'str' | 'num' | 'op'; v: string };

const OPS = ['==', '!=', '<=', '>=', '//', '**', '<', '>', '+', '-', '*', '/', '%', '~', '|', '(', ')', '[', ']', '{', '}', ',', '.', ':', '='];

function tokenize(src: string, line: number): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      toks.push({ t: 'name', v: m[0] });
      i += m[0].length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(src.slice(i))!;
      toks.push({ t: 'num', v: m[0] });
      i += m[0].length;
    } else if (c === '"' || c === "'") {
      let s = '';
      let j = i + 1;
      for (; j < src.length && src[j] !== c; j++) {
        if (src[j] === '\\' && j + 1 < src.length) {
          const e = src[++j];
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
        } else {
          s += src[j];
        }
      }
      if (j >= src.length) throw new TemplateError(`line ${line}: unterminated string`);
      toks.push({ t: 'str', v: s });
      i = j + 1;
    } else {
      const op = OPS.find((o) => src.startsWith(o, i));
      if (!op) throw new TemplateError(`line ${line}: unexpected character "${c}"`);
      toks.push({ t: 'op', v: op });
      i += op.length;
    }
  }
  return toks;
}

// ---- parser ----------------------------------------------------------------------------------

type Expr =
  | { k: 'lit'; v: unknown }
  | { k: 'var'; name: string }
  | { k: 'attr'; obj: Expr; name: string }
  | { k: 'index'; obj: Expr; index: Expr }
  | { k: 'slice'; obj: Expr; start?: Expr; stop?: Expr; step?: Expr }
  | { k: 'call'; fn: Expr; args: Expr[]; kwargs: [string, Expr][] }
  | { k: 'filter'; value: Expr; name: string; args: Expr[]; kwargs: [string, Expr][] }
  | { k: 'test'; value: Expr; name: string; args: Expr[]; negate: boolean }
  | { k: 'unary'; op: 'not' | '-' | '+'; value: Expr }
  | { k: 'bin'; op: string; left: Expr; right: Expr }
  | { k: 'cond'; cond: Expr; then: Expr; else?: Expr }
  | { k: 'list'; items: Expr[] }
  | { k: 'dict'; items: [Expr, Expr][] };

type Target = { k: 'name'; name: string } | { k: 'attr'; obj: string; name: string };

type Node =
  | { k: 'text'; text: string }
  | { k: 'output'; expr: Expr; line: number }
  | { k: 'if'; branches: { cond: Expr; body: Node[] }[]; else: Node[]; line: number }
  | { k: 'for'; vars: string[]; iter: Expr; filter?: Expr; body: Node[]; else: Node[]; line: number }
  | { k: 'set'; target: Target; expr: Expr; line: number };

class ExprParser {
  private i = 0;
  constructor(private readonly toks: Tok[], private readonly line: number) {}

  private peek(o = 0): Tok | undefined { return this.toks[this.i + o]; }
  private isOp(v: string, o = 0): boolean { const t = this.peek(o); return !!t && t.t === 'op' && t.v === v; }
  private isName(v: string, o = 0): boolean { const t = this.peek(o); return !!t && t.t === 'name' && t.v === v; }
  fail(msg: string): never { throw new TemplateError(`line ${this.line}: ${msg}`); }
  atEnd(): boolean { return this.i >= this.toks.length; }

  expectOp(v: string): void {
    if (!this.isOp(v)) this.fail(`expected "${v}", got ${this.peek() ? `"${this.peek()!.v}"` : 'the end of the tag'}`);
    this.i++;
  }

  name(): string {
    const t = this.peek();
    if (!t || t.t !== 'name') this.fail(`expected a name, got ${t ? `"${t.v}"` : 'the end of the tag'}`);
    this.i++;
    return t.v;
  }

  acceptName(v: string): boolean {
    if (!this.isName(v)) return false;
    this.i++;
    return true;
  }

  acceptOp(v: string): boolean {
    if (!this.isOp(v)) return false;
    this.i++;
    return true;
  }

  done(): void {
    if (!this.atEnd()) this.fail(`unexpected "${this.peek()!.v}"`);
  }

  /** expr := or ['if' or ['else' expr]] */
  expr(): Expr {
    const e = this.or();
    if (this.isName('if')) {
      this.i++;
      const cond = this.or();
      const other = this.acceptName('else') ? this.expr() : undefined;
      return { k: 'cond', cond, then: e, else: other };
    }
    return e;
  }

  /** An expression that stops before a trailing `if` (for-loop filters). */
  orExpr(): Expr { return this.or(); }

  private or(): Expr {
    let l = this.and();
    while (this.acceptName('or')) l = { k: 'bin', op: 'or', left: l, right: this.and() };
    return l;
  }

  private and(): Expr {
    let l = this.not();
    while (this.acceptName('and')) l = { k: 'bin', op: 'and', left: l, right: this.not() };
    return l;
  }

  private not(): Expr {
    if (this.acceptName('not')) return { k: 'unary', op: 'not', value: this.not() };
    return this.compare();
  }

  private compare(): Expr {
    let l = this.math1();
    for (;;) {
      const t = this.peek();
      if (t && t.t === 'op' && ['==', '!=', '<', '>', '<=', '>='].includes(t.v)) {
        this.i++;
        l = { k: 'bin', op: t.v, left: l, right: this.math1() };
      } else if (this.isName('in')) {
        this.i++;
        l = { k: 'bin', op: 'in', left: l, right: this.math1() };
      } else if (this.isName('not') && this.isName('in', 1)) {
        this.i += 2;
        l = { k: 'unary', op: 'not', value: { k: 'bin', op: 'in', left: l, right: this.math1() } };
      } else {
        return l;
      }
    }
  }

  private math1(): Expr {
    let l = this.concat();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.peek()!.v;
      this.i++;
      l = { k: 'bin', op, left: l, right: this.concat() };
    }
    return l;
  }

  private concat(): Expr {
    let l = this.math2();
    while (this.acceptOp('~')) l = { k: 'bin', op: '~', left: l, right: this.math2() };
    return l;
  }

  private math2(): Expr {
    let l = this.pow();
    while (this.isOp('*') || this.isOp('/') || this.isOp('//') || this.isOp('%')) {
      const op = this.peek()!.v;
      this.i++;
      l = { k: 'bin', op, left: l, right: this.pow() };
    }
    return l;
  }

  private pow(): Expr {
    let l = this.unary();
    while (this.acceptOp('**')) l = { k: 'bin', op: '**', left: l, right: this.unary() };
    return l;
  }

  private unary(): Expr {
    if (this.isOp('-') || this.isOp('+')) {
      const op = this.peek()!.v as '-' | '+';
      this.i++;
      return { k: 'unary', op, value: this.unary() };
    }
    return this.filters(this.postfix(this.primary()));
  }

  private primary(): Expr {
    const t = this.peek();
    if (!t) this.fail('expected an expression');
    this.i++;
    if (t.t === 'str') {
      let s = t.v;
      // Adjacent string literals concatenate, as in Python.
      while (this.peek()?.t === 'str') s += this.toks[this.i++].v;
      return { k: 'lit', v: s };
    }
    if (t.t === 'num') return { k: 'lit', v: Number(t.v) };
    if (t.t === 'name') {
      switch (t.v) {
        case 'true': case 'True': return { k: 'lit', v: true };
        case 'false': case 'False': return { k: 'lit', v: false };
        case 'none': case 'None': return { k: 'lit', v: null };
      }
      return { k: 'var', name: t.v };
    }
    if (t.v === '(') {
      const e = this.expr();
      if (this.isOp(',')) {
        const items = [e];
        while (this.acceptOp(',') && !this.isOp(')')) items.push(this.expr());
        this.expectOp(')');
        return { k: 'list', items };
      }
      this.expectOp(')');
      return e;
    }
    if (t.v === '[') {
      const items: Expr[] = [];
      while (!this.isOp(']')) {
        items.push(this.expr());
        if (!this.acceptOp(',')) break;
      }
      this.expectOp(']');
      return { k: 'list', items };
    }
    if (t.v === '{') {
      const items: [Expr, Expr][] = [];
      while (!this.isOp('}')) {
        const key = this.expr();
        this.expectOp(':');
        items.push([key, this.expr()]);
        if (!this.acceptOp(',')) break;
      }
      this.expectOp('}');
      return { k: 'dict', items };
    }
    this.fail(`unexpected "${t.v}"`);
  }

  private args(): { args: Expr[]; kwargs: [string, Expr][] } {
    const args: Expr[] = [];
    const kwargs: [string, Expr][] = [];
    while (!this.isOp(')')) {
      if (this.peek()?.t === 'name' && this.isOp('=', 1)) {
        const k = this.name();
        this.i++;
        kwargs.push([k, this.expr()]);
      } else {
        args.push(this.expr());
      }
      if (!this.acceptOp(',')) break;
    }
    this.expectOp(')');
    return { args, kwargs };
  }

  private postfix(e: Expr): Expr {
    for (;;) {
      if (this.acceptOp('.')) {
        e = { k: 'attr', obj: e, name: this.name() };
      } else if (this.acceptOp('[')) {
        const part = () => (this.isOp(':') || this.isOp(']') ? undefined : this.expr());
        const start = part();
        if (this.acceptOp(':')) {
          const stop = part();
          const step = this.acceptOp(':') ? part() : undefined;
          this.expectOp(']');
          e = { k: 'slice', obj: e, start, stop, step };
        } else {
          if (!start) this.fail('empty subscript');
          this.expectOp(']');
          e = { k: 'index', obj: e, index: start };
        }
      } else if (this.acceptOp('(')) {
        e = { k: 'call', fn: e, ...this.args() };
      } else {
        return e;
      }
    }
  }

  private filters(e: Expr): Expr {
    for (;;) {
      if (this.acceptOp('|')) {
        const name = this.name();
        const a = this.acceptOp('(') ? this.args() : { args: [], kwargs: [] };
        e = { k: 'filter', value: e, name, ...a };
      } else if (this.acceptName('is')) {
        const negate = this.acceptName('not');
        const name = this.name();
        const args: Expr[] = [];
        if (this.acceptOp('(')) args.push(...this.args().args);
        else if (this.peek() && (this.peek()!.t === 'str' || this.peek()!.t === 'num')) args.push(this.primary());
        e = { k: 'test', value: e, name, args, negate };
      } else {
        return e;
      }
    }
  }
}

function parse(src: string): Node[] {
  const chunks = chunk(src);
  let pos = 0;

  // Parses nodes until one of `ends` (a statement keyword) and returns it with the nodes.
  function block(ends: string[]): { nodes: Node[]; end?: string; endParser?: ExprParser; line: number } {
    const nodes: Node[] = [];
    while (pos < chunks.length) {
      const c = chunks[pos++];
      if (c.kind === 'text') {
        nodes.push({ k: 'text', text: c.text });
        continue;
      }
      const p = new ExprParser(tokenize(c.src, c.line), c.line);
      if (c.kind === 'output') {
        const expr = p.expr();
        p.done();
        nodes.push({ k: 'output', expr, line: c.line });
        continue;
      }
      const kw = p.name();
      if (ends.includes(kw)) return { nodes, end: kw, endParser: p, line: c.line };
      switch (kw) {
        case 'if': {
          const branches = [{ cond: p.expr(), body: [] as Node[] }];
          p.done();
          let elseBody: Node[] = [];
          for (;;) {
            const b = block(['elif', 'else', 'endif']);
            if (!b.end) throw new TemplateError(`line ${c.line}: "if" without "endif"`);
            branches[branches.length - 1].body = b.nodes;
            if (b.end === 'elif') {
              branches.push({ cond: b.endParser!.expr(), body: [] });
              b.endParser!.done();
            } else if (b.end === 'else') {
              b.endParser!.done();
              const e = block(['endif']);
              if (!e.end) throw new TemplateError(`line ${c.line}: "if" without "endif"`);
              elseBody = e.nodes;
              break;
            } else {
              break;
            }
          }
          nodes.push({ k: 'if', branches, else: elseBody, line: c.line });
          break;
        }
        case 'for': {
          const vars = [p.name()];
          while (p.acceptOp(',')) vars.push(p.name());
          if (!p.acceptName('in')) p.fail('expected "in" in for');
          const iter = p.orExpr();
          const filter = p.acceptName('if') ? p.orExpr() : undefined;
          p.done();
          const b = block(['else', 'endfor']);
          if (!b.end) throw new TemplateError(`line ${c.line}: "for" without "endfor"`);
          let elseBody: Node[] = [];
          if (b.end === 'else') {
            const e = block(['endfor']);
            if (!e.end) throw new TemplateError(`line ${c.line}: "for" without "endfor"`);
            elseBody = e.nodes;
          }
          nodes.push({ k: 'for', vars, iter, filter, body: b.nodes, else: elseBody, line: c.line });
          break;
        }
        case 'set': {
          const first = p.name();
          const target: Target = p.acceptOp('.') ? { k: 'attr', obj: first, name: p.name() } : { k: 'name', name: first };
          if (!p.acceptOp('=')) p.fail('block "set" (without "=") is not supported');
          const expr = p.expr();
          p.done();
          nodes.push({ k: 'set', target, expr, line: c.line });
          break;
        }
        default:
          throw new TemplateError(`line ${c.line}: unsupported statement "${kw}"${ends.length ? ` (expected ${ends.join(' or ')})` : ''}`);
      }
    }
    return { nodes, line: 0 };
  }

  const top = block([]);
  return top.nodes;
}

// ---- interpreter -----------------------------------------------------------------------------

class Scope {
  readonly vars = new Map<string, unknown>();
  constructor(readonly parent?: Scope) {}

  get(name: string): unknown {
    for (let s: Scope | undefined = this; s; s = s.parent) if (s.vars.has(name)) return s.vars.get(name);
    return new Undefined(name);
  }
}

function need<T>(cond: boolean, v: T, msg: string): T {
  if (!cond) throw new TemplateError(msg);
  return v;
}

function iterate(v: unknown, line: number): unknown[] {
  if (v instanceof Undefined || v === null) {
    if (v === null) throw new TemplateError(`line ${line}: cannot iterate over none`);
    return [];
  }
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return [...v];
  if (isDict(v)) return Object.keys(v);
  throw new TemplateError(`line ${line}: cannot iterate over a ${typeOf(v)}`);
}

function index(obj: unknown, key: unknown, line: number): unknown {
  if (obj instanceof Undefined) throw new TemplateError(`line ${line}: "${obj.name}" is undefined`);
  if (Array.isArray(obj) || typeof obj === 'string') {
    if (typeof key !== 'number' || !Number.isInteger(key)) throw new TemplateError(`line ${line}: index must be an integer, got ${typeOf(key)}`);
    const i = key < 0 ? obj.length + key : key;
    if (i < 0 || i >= obj.length) return new Undefined(`[${key}]`);
    return obj[i];
  }
  if (obj instanceof Namespace) return obj.attrs.has(String(key)) ? obj.attrs.get(String(key)) : new Undefined(String(key));
  if (isDict(obj)) return Object.prototype.hasOwnProperty.call(obj, String(key)) ? obj[String(key)] : new Undefined(String(key));
  throw new TemplateError(`line ${line}: cannot index a ${typeOf(obj)}`);
}

function slice(v: unknown, start: unknown, stop: unknown, step: unknown, line: number): unknown {
  if (!Array.isArray(v) && typeof v !== 'string') throw new TemplateError(`line ${line}: cannot slice a ${typeOf(v)}`);
  const n = v.length;
  const st = step === undefined ? 1 : (step as number);
  if (st === 0) throw new TemplateError(`line ${line}: slice step cannot be zero`);
  const norm = (x: unknown, def: number) => {
    if (x === undefined) return def;
    let i = x as number;
    if (i < 0) i += n;
    return st > 0 ? Math.min(Math.max(i, 0), n) : Math.min(Math.max(i, -1), n - 1);
  };
  const a = norm(start, st > 0 ? 0 : n - 1);
  const b = norm(stop, st > 0 ? n : -1);
  const out: unknown[] = [];
  for (let i = a; st > 0 ? i < b : i > b; i += st) out.push(v[i]);
  return typeof v === 'string' ? out.join('') : out;
}

function pySplit(s: string, sep: unknown, max: unknown): string[] {
  const limit = typeof max === 'number' && max >= 0 ? max : Infinity;
  if (sep === undefined || sep === null) {
    const parts = s.trim().split(/\s+/).filter(Boolean);
    if (parts.length - 1 <= limit) return parts;
    const out = parts.slice(0, limit);
    let rest = s.trimStart();
    for (const p of out) rest = rest.slice(rest.indexOf(p) + p.length).trimStart();
    return [...out, rest];
  }
  if (typeof sep !== 'string' || sep === '') throw new TemplateError('split: separator must be a non-empty string');
  const parts = s.split(sep);
  if (parts.length - 1 <= limit) return parts;
  return [...parts.slice(0, limit), parts.slice(limit).join(sep)];
}

function stripChars(s: string, chars: unknown, left: boolean, right: boolean): string {
  const set = typeof chars === 'string' ? chars : undefined;
  const strip = (c: string) => (set === undefined ? /\s/.test(c) : set.includes(c));
  let a = 0, b = s.length;
  if (left) while (a < b && strip(s[a])) a++;
  if (right) while (b > a && strip(s[b - 1])) b--;
  return s.slice(a, b);
}

function method(obj: unknown, name: string, line: number): Fn | undefined {
  if (typeof obj === 'string') {
    const s = obj;
    const m: Record<string, (a: unknown[]) => unknown> = {
      strip: (a) => stripChars(s, a[0], true, true),
      lstrip: (a) => stripChars(s, a[0], true, false),
      rstrip: (a) => stripChars(s, a[0], false, true),
      split: (a) => pySplit(s, a[0], a[1]),
      startswith: (a) => (Array.isArray(a[0]) ? a[0] : [a[0]]).some((p) => s.startsWith(String(p))),
      endswith: (a) => (Array.isArray(a[0]) ? a[0] : [a[0]]).some((p) => s.endsWith(String(p))),
      upper: () => s.toUpperCase(),
      lower: () => s.toLowerCase(),
      title: () => s.replace(/\w\S*/g, (w) => w[0].toUpperCase() + w.slice(1).toLowerCase()),
      capitalize: () => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase(),
      replace: (a) => s.split(String(a[0])).join(String(a[1])),
      find: (a) => s.indexOf(String(a[0])),
      count: (a) => s.split(String(a[0])).length - 1,
      join: (a) => iterate(a[0], line).map(str).join(s),
      format: (a) => { let k = 0; return s.replace(/\{\}/g, () => str(a[k++])); },
    };
    const f = m[name];
    return f ? new Fn((a) => f(a)) : undefined;
  }
  if (isDict(obj)) {
    const d = obj;
    const m: Record<string, (a: unknown[]) => unknown> = {
      items: () => Object.entries(d).map(([k, v]) => [k, v]),
      keys: () => Object.keys(d),
      values: () => Object.values(d),
      get: (a) => (Object.prototype.hasOwnProperty.call(d, String(a[0])) ? d[String(a[0])] : a.length > 1 ? a[1] : null),
    };
    const f = m[name];
    return f ? new Fn((a) => f(a)) : undefined;
  }
  if (Array.isArray(obj) && name === 'append') return new Fn((a) => { obj.push(a[0]); return null; });
  return undefined;
}

function attr(obj: unknown, name: string, line: number): unknown {
  if (obj instanceof Undefined) throw new TemplateError(`line ${line}: "${obj.name}" is undefined (reading .${name})`);
  if (obj === null) throw new TemplateError(`line ${line}: none has no attribute "${name}"`);
  if (obj instanceof Namespace) return obj.attrs.has(name) ? obj.attrs.get(name) : new Undefined(name);
  if (isDict(obj) && Object.prototype.hasOwnProperty.call(obj, name)) return obj[name];
  return method(obj, name, line) ?? new Undefined(name);
}

function arith(op: string, a: unknown, b: unknown, line: number): unknown {
  for (const [v, side] of [[a, 'left'], [b, 'right']] as const) {
    if (v instanceof Undefined) throw new TemplateError(`line ${line}: "${v.name}" is undefined (${side} of "${op}")`);
  }
  if (op === '+') {
    if (typeof a === 'string' && typeof b === 'string') return a + b;
    if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  }
  const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : undefined);
  const x = num(a), y = num(b);
  if (op === '*' && typeof a === 'string' && y !== undefined) return a.repeat(Math.max(0, y));
  if (x === undefined || y === undefined) throw new TemplateError(`line ${line}: cannot apply "${op}" to ${typeOf(a)} and ${typeOf(b)}`);
  switch (op) {
    case '+': return x + y;
    case '-': return x - y;
    case '*': return x * y;
    case '/': return need(y !== 0, x / y, `line ${line}: division by zero`);
    case '//': return need(y !== 0, Math.floor(x / y), `line ${line}: division by zero`);
    case '%': return need(y !== 0, ((x % y) + y) % y, `line ${line}: modulo by zero`);
    case '**': return x ** y;
  }
  throw new TemplateError(`line ${line}: unknown operator "${op}"`);
}

function compare(op: string, a: unknown, b: unknown, line: number): boolean {
  if (op === '==') return equal(a, b);
  if (op === '!=') return !equal(a, b);
  const ok = (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');
  if (!ok) throw new TemplateError(`line ${line}: cannot compare ${typeOf(a)} and ${typeOf(b)} with "${op}"`);
  const x = a as number | string, y = b as number | string;
  return op === '<' ? x < y : op === '>' ? x > y : op === '<=' ? x <= y : x >= y;
}

function contains(container: unknown, item: unknown, line: number): boolean {
  if (typeof container === 'string') {
    if (typeof item !== 'string') throw new TemplateError(`line ${line}: "in <string>" needs a string on the left, got ${typeOf(item)}`);
    return container.includes(item);
  }
  if (Array.isArray(container)) return container.some((x) => equal(x, item));
  if (isDict(container)) return Object.prototype.hasOwnProperty.call(container, String(item));
  if (container instanceof Undefined) throw new TemplateError(`line ${line}: "${container.name}" is undefined (right of "in")`);
  throw new TemplateError(`line ${line}: cannot test membership in a ${typeOf(container)}`);
}

function runTest(name: string, v: unknown, args: unknown[], line: number): boolean {
  switch (name) {
    case 'defined': return !(v instanceof Undefined);
    case 'undefined': return v instanceof Undefined;
    case 'none': return v === null;
    case 'string': return typeof v === 'string';
    case 'number': return typeof v === 'number';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'float': return typeof v === 'number' && !Number.isInteger(v);
    case 'boolean': return typeof v === 'boolean';
    case 'true': return v === true;
    case 'false': return v === false;
    case 'mapping': return isDict(v) || v instanceof Namespace;
    case 'iterable': return typeof v === 'string' || Array.isArray(v) || isDict(v);
    case 'sequence': return typeof v === 'string' || Array.isArray(v) || isDict(v);
    case 'callable': return v instanceof Fn;
    case 'odd': return typeof v === 'number' && Math.abs(v % 2) === 1;
    case 'even': return typeof v === 'number' && v % 2 === 0;
    case 'divisibleby': return typeof v === 'number' && v % (args[0] as number) === 0;
    case 'equalto': case 'eq': case '==': return equal(v, args[0]);
    case 'ne': case '!=': return !equal(v, args[0]);
    case 'lt': return compare('<', v, args[0], line);
    case 'gt': return compare('>', v, args[0], line);
    case 'le': return compare('<=', v, args[0], line);
    case 'ge': return compare('>=', v, args[0], line);
    case 'in': return contains(args[0], v, line);
    case 'lower': return typeof v === 'string' && v === v.toLowerCase();
    case 'upper': return typeof v === 'string' && v === v.toUpperCase();
  }
  throw new TemplateError(`line ${line}: unknown test "${name}"`);
}

function runFilter(name: string, v: unknown, args: unknown[], kwargs: Map<string, unknown>, line: number): unknown {
  const needStr = (what: string) => {
    if (typeof v !== 'string') throw new TemplateError(`line ${line}: filter "${what}" needs a string, got ${typeOf(v)}`);
    return v;
  };
  switch (name) {
    case 'trim': return stripChars(needStr('trim'), args[0], true, true);
    case 'length': case 'count':
      if (typeof v === 'string' || Array.isArray(v)) return v.length;
      if (isDict(v)) return Object.keys(v).length;
      throw new TemplateError(`line ${line}: filter "length" needs a string, list or dict, got ${typeOf(v)}`);
    case 'tojson': {
      const indent = kwargs.get('indent') ?? args[0];
      return toJson(v, typeof indent === 'number' ? indent : undefined);
    }
    case 'string': return str(v);
    case 'list': return iterate(v, line).slice();
    case 'first': { const a = iterate(v, line); return a.length ? a[0] : new Undefined('first'); }
    case 'last': { const a = iterate(v, line); return a.length ? a[a.length - 1] : new Undefined('last'); }
    case 'reverse': return typeof v === 'string' ? [...v].reverse().join('') : iterate(v, line).slice().reverse();
    case 'join': return iterate(v, line).map(str).join(args.length ? str(args[0]) : '');
    case 'upper': return needStr('upper').toUpperCase();
    case 'lower': return needStr('lower').toLowerCase();
    case 'capitalize': { const s = needStr('capitalize'); return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase(); }
    case 'replace': return needStr('replace').split(str(args[0])).join(str(args[1]));
    case 'int': { const n = typeof v === 'number' ? v : parseInt(str(v), 10); return Number.isNaN(n) ? 0 : Math.trunc(n); }
    case 'float': { const n = typeof v === 'number' ? v : parseFloat(str(v)); return Number.isNaN(n) ? 0 : n; }
    case 'abs': return Math.abs(v as number);
    case 'default': case 'd': return v instanceof Undefined || (args[1] === true && !truthy(v)) ? args[0] : v;
    case 'items': if (isDict(v)) return Object.entries(v).map(([k, x]) => [k, x]); break;
    case 'indent': {
      const s = needStr('indent');
      const pad = ' '.repeat(typeof args[0] === 'number' ? args[0] : 4);
      const first = args[1] === true || kwargs.get('first') === true;
      return s.split('\n').map((l, i) => ((i > 0 || first) && l ? pad + l : l)).join('\n');
    }
    case 'selectattr': case 'rejectattr': {
      const key = str(args[0]);
      const keep = (x: unknown) => {
        const a = attr(x, key, line);
        return args.length > 1 ? runTest(str(args[1]), a, args.slice(2), line) : truthy(a);
      };
      return iterate(v, line).filter((x) => keep(x) === (name === 'selectattr'));
    }
    case 'select': case 'reject': {
      const keep = (x: unknown) => (args.length ? runTest(str(args[0]), x, args.slice(1), line) : truthy(x));
      return iterate(v, line).filter((x) => keep(x) === (name === 'select'));
    }
    case 'map': {
      const a = kwargs.get('attribute');
      if (typeof a === 'string') return iterate(v, line).map((x) => attr(x, a, line));
      if (args.length) return iterate(v, line).map((x) => runFilter(str(args[0]), x, args.slice(1), new Map(), line));
      break;
    }
  }
  throw new TemplateError(`line ${line}: unknown filter "${name}"${v !== undefined ? ` for a ${typeOf(v)}` : ''}`);
}

class Interpreter {
  out = '';

  eval(e: Expr, s: Scope, line: number): unknown {
    switch (e.k) {
      case 'lit': return e.v;
      case 'var': return s.get(e.name);
      case 'attr': return attr(this.eval(e.obj, s, line), e.name, line);
      case 'index': return index(this.eval(e.obj, s, line), this.eval(e.index, s, line), line);
      case 'slice': {
        const opt = (x?: Expr) => (x ? this.eval(x, s, line) : undefined);
        return slice(this.eval(e.obj, s, line), opt(e.start), opt(e.stop), opt(e.step), line);
      }
      case 'call': {
        const fn = this.eval(e.fn, s, line);
        if (!(fn instanceof Fn)) {
          const what = e.fn.k === 'var' ? e.fn.name : e.fn.k === 'attr' ? e.fn.name : 'expression';
          throw new TemplateError(`line ${line}: "${what}" is ${fn instanceof Undefined ? 'undefined' : `a ${typeOf(fn)}`}, not a function`);
        }
        const args = e.args.map((a) => this.eval(a, s, line));
        const kwargs = new Map(e.kwargs.map(([k, v]) => [k, this.eval(v, s, line)] as [string, unknown]));
        return fn.call(args, kwargs);
      }
      case 'filter': {
        const args = e.args.map((a) => this.eval(a, s, line));
        const kwargs = new Map(e.kwargs.map(([k, v]) => [k, this.eval(v, s, line)] as [string, unknown]));
        return runFilter(e.name, this.eval(e.value, s, line), args, kwargs, line);
      }
      case 'test': {
        const r = runTest(e.name, this.eval(e.value, s, line), e.args.map((a) => this.eval(a, s, line)), line);
        return e.negate ? !r : r;
      }
      case 'unary': {
        const v = this.eval(e.value, s, line);
        if (e.op === 'not') return !truthy(v);
        if (typeof v !== 'number') throw new TemplateError(`line ${line}: unary "${e.op}" needs a number, got ${typeOf(v)}`);
        return e.op === '-' ? -v : v;
      }
      case 'bin': {
        if (e.op === 'and') { const l = this.eval(e.left, s, line); return truthy(l) ? this.eval(e.right, s, line) : l; }
        if (e.op === 'or') { const l = this.eval(e.left, s, line); return truthy(l) ? l : this.eval(e.right, s, line); }
        const l = this.eval(e.left, s, line);
        const r = this.eval(e.right, s, line);
        if (e.op === '~') return str(l) + str(r);
        if (e.op === 'in') return contains(r, l, line);
        if (['==', '!=', '<', '>', '<=', '>='].includes(e.op)) return compare(e.op, l, r, line);
        return arith(e.op, l, r, line);
      }
      case 'cond': return truthy(this.eval(e.cond, s, line)) ? this.eval(e.then, s, line) : e.else ? this.eval(e.else, s, line) : new Undefined('else');
      case 'list': return e.items.map((x) => this.eval(x, s, line));
      case 'dict': return Object.fromEntries(e.items.map(([k, v]) => [str(this.eval(k, s, line)), this.eval(v, s, line)]));
    }
  }

  run(nodes: Node[], s: Scope): void {
    for (const n of nodes) {
      switch (n.k) {
        case 'text': this.out += n.text; break;
        case 'output': this.out += str(this.eval(n.expr, s, n.line)); break;
        case 'if': {
          const b = n.branches.find((x) => truthy(this.eval(x.cond, s, n.line)));
          this.run(b ? b.body : n.else, s);
          break;
        }
        case 'for': {
          let items = iterate(this.eval(n.iter, s, n.line), n.line);
          const bind = (scope: Scope, item: unknown) => {
            if (n.vars.length === 1) scope.vars.set(n.vars[0], item);
            else {
              const parts = Array.isArray(item) ? item : [];
              if (parts.length !== n.vars.length) throw new TemplateError(`line ${n.line}: cannot unpack a ${typeOf(item)} into ${n.vars.length} names`);
              n.vars.forEach((name, i) => scope.vars.set(name, parts[i]));
            }
          };
          if (n.filter) {
            items = items.filter((item) => {
              const fs = new Scope(s);
              bind(fs, item);
              return truthy(this.eval(n.filter!, fs, n.line));
            });
          }
          if (!items.length) { this.run(n.else, s); break; }
          // The loop body is its own scope: a plain `set` inside does not leak out (hence namespace()).
          const body = new Scope(s);
          items.forEach((item, i) => {
            bind(body, item);
            body.vars.set('loop', {
              index: i + 1, index0: i, revindex: items.length - i, revindex0: items.length - i - 1,
              first: i === 0, last: i === items.length - 1, length: items.length,
              previtem: i > 0 ? items[i - 1] : new Undefined('previtem'), nextitem: i + 1 < items.length ? items[i + 1] : new Undefined('nextitem'),
            });
            this.run(n.body, body);
          });
          break;
        }
        case 'set': {
          const v = this.eval(n.expr, s, n.line);
          if (n.target.k === 'name') s.vars.set(n.target.name, v);
          else {
            const ns = s.get(n.target.obj);
            if (!(ns instanceof Namespace)) throw new TemplateError(`line ${n.line}: cannot set "${n.target.name}" on "${n.target.obj}", which is not a namespace()`);
            ns.attrs.set(n.target.name, v);
          }
          break;
        }
      }
    }
  }
}

const GLOBALS: Record<string, unknown> = {
  namespace: new Fn((args, kwargs) => {
    const attrs = new Map<string, unknown>();
    if (isDict(args[0])) for (const [k, v] of Object.entries(args[0])) attrs.set(k, v);
    for (const [k, v] of kwargs) attrs.set(k, v);
    return new Namespace(attrs);
  }),
  raise_exception: new Fn((args) => { throw new TemplateError(`template raised: ${str(args[0])}`); }),
  range: new Fn((args) => {
    const [a, b, st] = args.length === 1 ? [0, args[0] as number, 1] : [args[0] as number, args[1] as number, (args[2] as number) ?? 1];
    const out: number[] = [];
    for (let i = a; st > 0 ? i < b : i > b; i += st) out.push(i);
    return out;
  }),
};

/** A parsed template; render() can be called any number of times. */
export class ChatTemplate {
  private readonly nodes: Node[];

  constructor(readonly source: string) {
    this.nodes = parse(source);
  }

  render(context: Record<string, unknown>): string {
    const root = new Scope();
    for (const [k, v] of Object.entries(GLOBALS)) root.vars.set(k, v);
    const top = new Scope(root);
    for (const [k, v] of Object.entries(context)) if (v !== undefined) top.vars.set(k, v);
    const it = new Interpreter();
    it.run(this.nodes, top);
    return it.out;
  }
}

export interface ChatRenderOptions {
  bosToken: string;
  eosToken: string;
  addGenerationPrompt: boolean;
}

/** Renders a conversation with the template, as llama.cpp and transformers do for generation. */
export function renderChat(template: ChatTemplate, messages: { role: string; content: string }[], o: ChatRenderOptions): string {
  return template.render({
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
    bos_token: o.bosToken,
    eos_token: o.eosToken,
    add_generation_prompt: o.addGenerationPrompt,
  });
}
