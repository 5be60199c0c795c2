// The README's main job, as written: its command line runs (on a fixture in place of MODEL.gguf), and
// it names a real model to run it with, as a Hub repository, file and download URL that agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { bundle, tinyModel } from './support/inference-fixtures.js';

const readme = readFileSync('README.md', 'utf8');
const commands = readme.slice(readme.indexOf('## Commands'), readme.indexOf('\n## ', readme.indexOf('## Commands') + 1));

test('the README names a GGUF on the Hub for the main job, with a URL that matches it', () => {
  const repo = /repository\s+`([\w.-]+\/[\w.-]+-GGUF)`/.exec(commands)?.[1];
  const file = /file\s+`([\w.-]+\.gguf)`/.exec(commands)?.[1];
  assert.ok(repo && file, 'the Commands section names a repository and a file');
  assert.ok(commands.includes(`https://huggingface.co/${repo}/resolve/main/${file}`), 'its download URL is that repository and file');
  assert.match(commands, /Without a GPU[^]*tok\/s/, 'and says what to expect without a GPU');
});

test("the README's generate command runs as written", async () => {
  const line = /`npm install && npm run build && node dist\/hearth\.js (generate [^`]+)`/.exec(commands)?.[1];
  assert.ok(line, 'the main job is a generate command');
  // Its arguments, split as a shell would split them (double quotes only), MODEL.gguf replaced.
  const args = [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]).map((a) => (a === 'MODEL.gguf' ? tinyModel() : a));
  const cli = await bundle('engine/cli/cli.ts', 'hearth');
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.length > 0);
});
