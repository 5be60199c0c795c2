import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { after } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkNode, resolveRuntime, type RuntimeOptions } from './runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-runtime-'));
const electronHost = { ...process.versions, electron: '37.2.0' } as NodeJS.ProcessVersions;
const opts = (o: Partial<RuntimeOptions>): RuntimeOptions => ({
  nodePath: '', execPath: '/opt/vscode/code', versions: electronHost, bundledDir: join(dir, 'none'), platform: process.platform, env: { PATH: '' }, ...o,
});
after(() => rmSync(dir, { recursive: true, force: true }));
/** A launcher for this Node, at `path`. */
function node(path: string, mode: number): void {
  writeFileSync(path, `#!/bin/sh\nexec '${process.execPath}' "$@"\n`);
  chmodSync(path, mode);
}
/** A script that answers the version probe as some other runtime would. */
function fake(name: string, answer: object): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\nprintf '%s' '${JSON.stringify(answer)}'\n`);
  chmodSync(p, 0o755);
  return p;
}

test('a real Node extension host is used as it is; Electron is not', async () => {
  const r = await resolveRuntime(opts({ versions: process.versions, execPath: process.execPath }));
  assert.deepEqual(r, { path: process.execPath, source: 'extension host', version: process.version });
  await assert.rejects(resolveRuntime(opts({})), /VS Code runs extensions on Electron 37\.2\.0.*install Node\.js 20 or newer.*hearth\.nodePath/);
});

test('hearth.nodePath comes first and is checked: missing, Electron, too old', async () => {
  const r = await resolveRuntime(opts({ nodePath: process.execPath, versions: process.versions }));
  assert.equal(r.source, 'hearth.nodePath');
  assert.equal(r.version, process.version);
  await assert.rejects(resolveRuntime(opts({ nodePath: join(dir, 'nope') })), /hearth\.nodePath is .*nope, which does not exist/);
  await assert.rejects(resolveRuntime(opts({ nodePath: fake('electron', { v: 'v22.0.0', e: '37.2.0' }) })), /hearth\.nodePath: .* is Electron 37\.2\.0/);
  await assert.rejects(resolveRuntime(opts({ nodePath: fake('old', { v: 'v18.19.0', e: null }) })), /is Node\.js v18\.19\.0; Hearth needs 20 or newer/);
  await assert.rejects(checkNode(fake('junk', { hello: 1 }), {}), /Node\.js undefined|needs 20/);
});

test('then the bundled binary (its executable bit restored), then node on PATH', async () => {
  const bundledDir = join(dir, 'dist-node');
  mkdirSync(bundledDir);
  const bundled = join(bundledDir, 'node');
  node(bundled, 0o644);
  const r = await resolveRuntime(opts({ bundledDir }));
  assert.deepEqual(r, { path: bundled, source: 'bundled', version: process.version });
  assert.ok(statSync(bundled).mode & 0o100);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  node(join(bin, 'node'), 0o755);
  const p = await resolveRuntime(opts({ env: { PATH: `${join(dir, 'empty')}:${bin}` } }));
  assert.deepEqual(p, { path: join(bin, 'node'), source: 'PATH', version: process.version });
});
