// The package manifest: every dependency whose install scripts npm runs is reviewed in allowScripts,
// so `npm install` runs them without its "install scripts not yet covered by allowScripts" warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

test('allowScripts names exactly the locked packages with install scripts', () => {
  const pkg = json('package.json');
  const lock = json('package-lock.json') as { packages: Record<string, { hasInstallScript?: boolean }> };
  const withScripts = Object.entries(lock.packages)
    .filter(([path, p]) => path && p.hasInstallScript)
    .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length))
    .sort();
  assert.ok(withScripts.length > 0, 'the lockfile records install scripts');
  // Name-only decisions (the lockfile pins the versions): true runs the script, false refuses it
  // (@vscode/vsce-sign's downloads a signing tool from the network, keytar's builds a credential store
  // for publishing: packaging needs neither).
  assert.deepEqual(Object.keys(pkg.allowScripts ?? {}).sort(), withScripts);
  assert.ok(Object.values(pkg.allowScripts).every((v) => typeof v === 'boolean'));
  assert.equal(pkg.allowScripts['@vscode/vsce-sign'], false);
  assert.equal(pkg.allowScripts.keytar, false);
});

test('stable API only: no enabledApiProposals, engines.vscode matches @types/vscode, the language model vendor is contributed', () => {
  const pkg = json('package.json');
  assert.equal(pkg.enabledApiProposals, undefined, 'a published extension cannot use proposed API');
  const engine = /^\^(\d+\.\d+)\.\d+$/.exec(pkg.engines.vscode)?.[1];
  const types = /^~?(\d+\.\d+)\.\d+$/.exec(pkg.devDependencies['@types/vscode'])?.[1];
  assert.ok(engine && engine === types, `engines.vscode ${pkg.engines.vscode} and @types/vscode ${pkg.devDependencies['@types/vscode']} name the same VS Code`);
  // registerLanguageModelChatProvider is stable from 1.104.
  assert.deepEqual(pkg.engines.vscode, '^1.104.0');
  assert.deepEqual(pkg.contributes.languageModelChatProviders, [{ vendor: 'hearth', displayName: 'Hearth (local)' }]);
});
