// Bundles the CLI, the inference process, the extension and every *.test.ts with esbuild.
// `node build.mjs [paths...]` builds only the named test files (used while iterating);
// `node build.mjs --no-tests` only the CLI, the inference process and the extension (for packaging).
import { build } from 'esbuild';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const common = {
  bundle: true, platform: 'node', target: 'node20', format: 'esm', sourcemap: 'linked',
  packages: 'external', loader: { '.wgsl': 'text' }, logLevel: 'warning',
  banner: { js: "import { createRequire as __hearthRequire } from 'node:module'; const require = __hearthRequire(import.meta.url);" },
};

function findTests(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const noTests = process.argv.includes('--no-tests');
const only = process.argv.slice(2).filter((a) => a !== '--no-tests');
const tests = noTests ? [] : only.length ? only : ['engine', 'kernels', 'test', 'extension'].filter(existsSync).flatMap((d) => findTests(d));
const entries = {};
for (const t of tests) entries['test/' + t.replace(/\.test\.ts$/, '').replace(/[\\/]/g, '_') + '.test'] = t;
if (!only.length) {
  const apps = [['hearth', 'engine/cli/cli.ts'], ...(noTests ? [] : [['bench', 'test/bench.ts'], ['bench-llama', 'test/bench-llama.ts'], ['bench-editor', 'test/e2e/latency.ts']])];
  for (const [out, src] of apps) if (existsSync(src)) entries[out] = src;
}
await build({ ...common, entryPoints: entries, outdir: 'dist', outExtension: { '.js': '.js' }, splitting: false });
// The inference process ships inside the VSIX without node_modules: every JS dependency is bundled
// in, only webgpu (its native dawn.node, staged per platform by extension/package.mjs) stays outside.
if (!only.length) await build({ ...common, packages: undefined, external: ['webgpu'], entryPoints: { server: 'engine/process/server.ts' }, outdir: 'dist' });
if (!only.length && existsSync('extension/extension.ts')) {
  // VS Code loads extensions as CommonJS.
  await build({ ...common, banner: undefined, format: 'cjs', packages: undefined, entryPoints: { extension: 'extension/extension.ts' }, outdir: 'dist', outExtension: { '.js': '.cjs' }, external: ['vscode', 'webgpu'] });
}
// The chat webview's script, for the browser.
await build({ ...common, banner: undefined, platform: 'browser', format: 'iife', packages: undefined, target: 'chrome120', minify: true, sourcemap: false, entryPoints: { chat: 'media/chat/main.ts' }, outdir: 'dist' });
