// Runs every bundled test file with node's built-in runner. GPU tests run on whatever adapter Dawn
// finds (lavapipe in CI); they never skip silently.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

if (!process.env.XDG_RUNTIME_DIR) {
  const dir = `/tmp/hearth-xdg-${process.getuid?.() ?? 0}`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = dir;
}
const filter = process.argv[2];
const files = readdirSync('dist/test').filter((f) => f.endsWith('.test.js') && (!filter || f.includes(filter))).sort().map((f) => `dist/test/${f}`);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
