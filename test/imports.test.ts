// Imports run one way. Every relative import of every .ts file under engine/, kernels/ and extension/
// (import, import type, export ... from, import(), side-effect imports) is an edge; the tree fails on
// an import cycle, on a kernels/ module (tests aside) importing anything but kernels/, engine/gpu/ and
// engine/gguf/, and on an extension/ file (tests aside) importing engine/ anywhere but engine/process/index.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import ts from 'typescript';

const DIRS = ['engine', 'kernels', 'extension'];
const KERNEL_DEPS = ['kernels/', 'engine/gpu/', 'engine/gguf/'];
const EXTENSION_SURFACE = 'engine/process/index.ts';

/** Repository-relative paths of the .ts files under `dirs` (a missing directory has none). */
function sourceFiles(root: string, dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(posix.join(root, dir)).sort()) {
      const rel = posix.join(dir, name);
      if (statSync(posix.join(root, rel)).isDirectory()) walk(rel);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel);
    }
  };
  for (const d of dirs) if (existsSync(posix.join(root, d))) walk(d);
  return out;
}

/**
 * The repository-relative targets of `file`'s relative imports that are TypeScript modules ('./x.js'
 * names x.ts, as the bundler resolves it; './kernel.wgsl' and packages are not modules of ours).
 * `exists` tells which paths are files.
 */
function importsOf(file: string, text: string, exists: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
    if (!spec.startsWith('.')) continue;
    const base = posix.normalize(posix.join(posix.dirname(file), spec));
    const ext = posix.extname(base);
    if (ext && !/^\.[cm]?[jt]s$/.test(ext)) continue;
    const candidates = ext === '' ? [`${base}.ts`, `${base}/index.ts`] : [base.replace(/js$/, 'ts')];
    const target = candidates.find(exists);
    if (!target) throw new Error(`${file}: import "${spec}" names no file`);
    out.push(target);
  }
  return [...new Set(out)];
}

/** Every way the import graph (file -> the files it imports) breaks the rules, one line each. */
function violations(graph: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const [file, deps] of graph) {
    if (file.startsWith('kernels/') && !file.endsWith('.test.ts')) {
      for (const d of deps) if (!KERNEL_DEPS.some((p) => d.startsWith(p))) out.push(`${file} imports ${d}: kernels depend only on ${KERNEL_DEPS.join(', ')}`);
    }
    // Tests may build fixtures with the engine's own writers; the extension's code may not reach past its surface.
    if (file.startsWith('extension/') && !file.endsWith('.test.ts')) {
      for (const d of deps) if (d.startsWith('engine/') && d !== EXTENSION_SURFACE) out.push(`${file} imports ${d}: the extension imports the engine only through ${EXTENSION_SURFACE}`);
    }
  }
  // Tarjan's strongly connected components: each one with a loop in it is a cycle.
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], onStack = new Set<string>();
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(`import cycle: ${cycleThrough(graph, new Set(scc), v).join(' -> ')}`);
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** One loop from `start` back to itself inside the component `scc` (breadth first: a shortest one). */
function cycleThrough(graph: Map<string, string[]>, scc: Set<string>, start: string): string[] {
  const from = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = from.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (scc.has(w) && !from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

test('engine/, kernels/ and extension/ import one way: no cycles, kernels on gpu and gguf only, the extension through engine/process/index.ts', () => {
  const root = process.cwd();
  const files = sourceFiles(root, DIRS);
  assert.ok(files.includes('engine/model/webgpu-model.ts') && files.includes('kernels/matmul.ts'), `run from the repository root (cwd ${root})`);
  const exists = (p: string) => existsSync(posix.join(root, p)) && statSync(posix.join(root, p)).isFile();
  const graph = new Map(files.map((f) => [f, importsOf(f, readFileSync(posix.join(root, f), 'utf8'), exists)]));
  assert.ok(graph.get('engine/model/webgpu-model.ts')!.includes('kernels/matmul.ts'), 'imports are parsed');
  assert.deepEqual(violations(graph), []);
});

test('the checks find a planted cycle, a kernel importing the model, and the extension reaching past its surface', () => {
  const files = new Set(['engine/a.ts', 'engine/b.ts', 'engine/c.ts', 'engine/x/index.ts', 'kernels/k.wgsl']);
  const text = [
    "import { b } from './b.js';",
    "import type { C } from './c.js';",
    "export { d } from './x';",
    "import './k.wgsl';",
    "import ts from 'typescript';",
    "const lazy = () => import('./c.js');",
  ].join('\n');
  assert.deepEqual(importsOf('engine/a.ts', text, (p) => files.has(p)), ['engine/b.ts', 'engine/c.ts', 'engine/x/index.ts']);
  assert.throws(() => importsOf('engine/a.ts', "import { z } from './z.js';", (p) => files.has(p)), /engine\/a\.ts: import "\.\/z\.js" names no file/);

  const graph = new Map<string, string[]>([
    ['engine/a.ts', ['engine/b.ts']],
    ['engine/b.ts', ['engine/c.ts']],
    ['engine/c.ts', ['engine/a.ts']],
    ['engine/d.ts', ['engine/d.ts']],
    ['engine/model/model.ts', []],
    ['engine/gguf/gguf.ts', []],
    ['engine/process/index.ts', []],
    ['engine/process/client.ts', []],
    ['kernels/k.ts', ['engine/gguf/gguf.ts', 'engine/model/model.ts']],
    ['kernels/k.test.ts', ['kernels/k.ts', 'engine/model/model.ts']],
    ['extension/e.ts', ['engine/process/index.ts', 'engine/process/client.ts']],
  ]);
  assert.deepEqual(violations(graph), [
    'kernels/k.ts imports engine/model/model.ts: kernels depend only on kernels/, engine/gpu/, engine/gguf/',
    'extension/e.ts imports engine/process/client.ts: the extension imports the engine only through engine/process/index.ts',
    'import cycle: engine/a.ts -> engine/b.ts -> engine/c.ts -> engine/a.ts',
    'import cycle: engine/d.ts -> engine/d.ts',
  ]);
});
