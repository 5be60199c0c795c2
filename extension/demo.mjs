// `npm run demo -- [--model FILE] [--port N]`: bundles the demo (extension/demo/main.ts) as
// build.mjs bundles the CLI, and runs it with the arguments. See extension/demo/main.ts.
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const out = join(root, '.cache', 'demo', 'main.mjs');
await build({
  entryPoints: ['extension/demo/main.ts'], outfile: out, bundle: true, platform: 'node', target: 'node20', format: 'esm',
  packages: 'external', loader: { '.wgsl': 'text' }, logLevel: 'warning',
  banner: { js: "import { createRequire as __hearthRequire } from 'node:module'; const require = __hearthRequire(import.meta.url);" },
});
await import(pathToFileURL(out).href);
