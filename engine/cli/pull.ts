// `hearth pull REPO FILE [--revision R] [--json]`: downloads a file of a Hub repository into the
// shared Hugging Face cache (or finds it there) and prints its local path last on stdout. Progress
// goes to stderr: a self-updating line on a terminal, a line every few seconds otherwise, JSON lines
// with --json. HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE / HF_HOME, HF_HUB_OFFLINE, HTTPS_PROXY and
// NO_PROXY are honoured. Ctrl-C keeps the partial file; the next pull resumes it.
import { pullFile, type DownloadProgress } from '../models/download.js';
import { HubError } from '../models/hub-error.js';

export const PULL_USAGE = 'pull      REPO FILE [--revision R] [--json]   (into the Hugging Face cache; the local path is printed last)';

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  tty: boolean;
}

const defaultIo = (): Io => ({ out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env, tty: !!process.stderr.isTTY });

const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** The proxy settings of the environment, as curl reads them. */
export function proxyFromEnv(env: NodeJS.ProcessEnv): { proxy?: string; noProxy?: string[] } {
  const proxy = env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy || undefined;
  const no = env.NO_PROXY || env.no_proxy;
  return { proxy, noProxy: no ? no.split(',').map((s) => s.trim()).filter(Boolean) : undefined };
}

function usage(io: Io, msg: string): number {
  io.err(`hearth: pull: ${msg} (hearth pull --help for usage)\n`);
  return 2;
}

/** Runs the command; returns the exit status. */
export async function pullCommand(args: string[], io: Io = defaultIo()): Promise<number> {
  const positional: string[] = [];
  let revision: string | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h') {
      io.out(`usage: hearth ${PULL_USAGE}\n`);
      return 0;
    }
    if (a === '--json') json = true;
    else if (a === '--revision') {
      if (revision !== undefined) return usage(io, '--revision given twice');
      revision = args[++i];
      if (revision === undefined) return usage(io, '--revision needs a value');
    } else if (a.startsWith('-')) return usage(io, `unknown option ${a}`);
    else positional.push(a);
  }
  if (positional.length !== 2) return usage(io, `expected REPO and FILE, got ${positional.length} argument${positional.length === 1 ? '' : 's'}`);
  const [repo, file] = positional;

  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  let lastLine = 0;
  let lastPhase = '';
  const progress = (p: DownloadProgress) => {
    if (json) {
      io.err(JSON.stringify({ phase: p.phase, received_bytes: p.receivedBytes, total_bytes: p.totalBytes, bytes_per_second: Math.round(p.bytesPerSecond), eta_s: p.etaSeconds === undefined ? null : Math.round(p.etaSeconds) }) + '\n');
      return;
    }
    const pct = p.totalBytes ? ((100 * p.receivedBytes) / p.totalBytes).toFixed(1) : '100.0';
    const what = p.phase === 'resuming' ? 'checking the partial download' : p.phase === 'done' ? 'done' : 'downloading';
    const speed = p.phase === 'downloading' && p.bytesPerSecond > 0 ? `  ${MiB(p.bytesPerSecond)}/s` : '';
    const eta = p.phase === 'downloading' && p.etaSeconds !== undefined ? `  ${Math.ceil(p.etaSeconds)} s left` : '';
    const line = `${file}: ${what} ${MiB(p.receivedBytes)} / ${MiB(p.totalBytes)} (${pct}%)${speed}${eta}`;
    if (io.tty) io.err(`\r\x1b[K${line}${p.phase === 'done' ? '\n' : ''}`);
    else if (p.phase !== lastPhase || performance.now() - lastLine > 2000) {
      lastLine = performance.now();
      lastPhase = p.phase;
      io.err(`${line}\n`);
    }
  };
  try {
    const r = await pullFile(repo, file, { revision, onProgress: progress, signal: ac.signal, env: io.env, ...proxyFromEnv(io.env) });
    if (json) {
      io.out(JSON.stringify({ path: r.path, repo: r.repo, file: r.file, revision: r.revision, commit: r.commit, sha256: r.sha256 ?? null, size_bytes: r.sizeBytes, downloaded_bytes: r.downloadedBytes, cached: r.cached }) + '\n');
    } else io.out(`${r.path}\n`);
    return 0;
  } catch (e) {
    if (io.tty && !json) io.err('\n');
    if (!(e instanceof HubError)) throw e;
    io.err(`hearth: ${e.message.split('\n')[0]}\n`);
    return e.code === 'aborted' ? 130 : e.code === 'bad-argument' ? 2 : 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
