// `npm run demo -- [--model FILE] [--port N]`: builds the VSIX when the sources are newer than it
// (npm run package), bundles the demo (extension/demo/main.ts) as build.mjs bundles the CLI, and
// runs it with the arguments. See extension/demo/main.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const vsix = join(root, '.artifacts', `hearth-${process.platform}-${process.arch}.vsix`);

/** The newest modification time under the paths the VSIX is built from. */
function newest(paths) {
  let t = 0;
  const walk = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    else t = Math.max(t, st.mtimeMs);
  };
  for (const p of paths) if (existsSync(p)) walk(join(root, p));
  return t;
}

if (!existsSync(vsix) || statSync(vsix).mtimeMs < newest(['engine', 'extension', 'kernels', 'media', 'package.json', 'build.mjs'])) {
  console.error('demo: building the VSIX (npm run package)');
  const r = spawnSync(process.execPath, ['extension/package.mjs'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const out = join(root, '.cache', 'demo', 'main.mjs');
await build({
  entryPoints: ['extension/demo/main.ts'], outfile: out, bundle: true, platform: 'node', target: 'node20', format: 'esm',
  packages: 'external', loader: { '.wgsl': 'text' }, logLevel: 'warning',
  banner: { js: "import { createRequire as __hearthRequire } from 'node:module'; const require = __hearthRequire(import.meta.url);" },
});
await import(pathToFileURL(out).href);
