// A catalog model's download as the user sees it: VS Code's progress notification (percent, bytes,
// speed, time left; Cancel keeps the partial file, which the next pick resumes), the proxy VS Code
// is configured with, and every Hub error told once with what to do about it. No VS Code imports:
// tested under Node against the fake Hub.
import { HubError, pullFile, type DownloadProgress, type HubErrorCode, type PullOptions, type PullResult } from '../../engine/process/index.js';
import { humanBytes, humanDuration, humanRate } from '../format.js';

/** What vscode.Progress takes: increments add up to 100. */
export interface ProgressSink {
  report(p: { increment?: number; message?: string }): void;
}

/** Turns the download's progress reports into VS Code's. */
export class DownloadReporter {
  private shown = 0;

  constructor(private readonly sink: ProgressSink) {}

  update(p: DownloadProgress): void {
    const pct = p.totalBytes > 0 ? Math.min(100, Math.floor((p.receivedBytes / p.totalBytes) * 100)) : 0;
    let message: string;
    if (p.phase === 'resuming') message = `checking the ${humanBytes(p.resumedFromBytes)} downloaded before (${humanBytes(p.receivedBytes)} checked)`;
    else if (p.phase === 'done') message = `${humanBytes(p.totalBytes)}, checksum verified`;
    else {
      const speed = p.bytesPerSecond > 0 ? ` · ${humanRate(p.bytesPerSecond)}` : '';
      const eta = p.etaSeconds !== undefined ? ` · ${humanDuration(p.etaSeconds)} left` : '';
      message = `${humanBytes(p.receivedBytes)} of ${humanBytes(p.totalBytes)}${speed}${eta}${p.resumedFromBytes > 0 ? ` (resumed at ${humanBytes(p.resumedFromBytes)})` : ''}`;
    }
    // Resuming re-reads bytes already counted: the bar moves only forward.
    const increment = p.phase === 'resuming' ? 0 : Math.max(0, pct - this.shown);
    this.shown += increment;
    this.sink.report({ increment, message });
  }

  get percent(): number {
    return this.shown;
  }
}

/** The proxy for downloads: VS Code's http.proxy and http.noProxy, else the environment's (as curl reads it). */
export function proxySettings(get: (key: 'proxy' | 'noProxy') => unknown, env: NodeJS.ProcessEnv): { proxy?: string; noProxy?: string[] } {
  const fromVsCode = typeof get('proxy') === 'string' ? (get('proxy') as string).trim() : '';
  const proxy = fromVsCode || env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy || undefined;
  const list = get('noProxy');
  const fromEnv = (env.NO_PROXY || env.no_proxy || '').split(',');
  const noProxy = [...(Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : []), ...fromEnv].map((s) => s.trim()).filter(Boolean);
  return { proxy, noProxy: noProxy.length ? noProxy : undefined };
}

/** A download failure in words a user can act on. */
export function downloadErrorMessage(e: HubError, what: { repo: string; file: string }): string {
  switch (e.code) {
    case 'disk-space':
      return `not enough disk space to download ${what.file}: ${e.message}. Free some space (or set HF_HUB_CACHE to a folder on another disk) and pick the model again`;
    case 'unauthorized':
      return `${what.repo} is gated: ${e.message}. Create a token at huggingface.co/settings/tokens, accept the model's terms on its page, and set HF_TOKEN where VS Code starts (or run huggingface-cli login)`;
    case 'forbidden':
      return `no access to ${what.repo}: ${e.message}. Accept the model's terms on its Hugging Face page with the account the token belongs to`;
    case 'offline':
      return `${e.message}: unset HF_HUB_OFFLINE to download it, or choose a file already on disk`;
    case 'network':
    case 'proxy':
      return `could not download ${what.file}: ${e.message}. Check the network connection and VS Code's http.proxy setting; picking the model again resumes the download`;
    case 'checksum':
      return `${what.file} was downloaded but did not match the Hub's checksum, so it was deleted: ${e.message}. Pick the model again to download it afresh`;
    case 'rate-limited':
      return `the Hugging Face Hub is rate-limiting downloads: ${e.message}. Try again in a few minutes`;
    case 'disk-write':
      return `${e.message}`;
    case 'busy':
      return `${e.message}: wait for that download to finish, then pick the model again`;
    default:
      return `downloading ${what.repo}/${what.file} failed: ${e.message}`;
  }
}

export type DownloadOutcome =
  | { kind: 'done'; result: PullResult }
  | { kind: 'cancelled'; message: string }
  | { kind: 'failed'; code?: HubErrorCode; message: string };

export type DownloadOptions = Omit<PullOptions, 'onProgress'> & { progress: ProgressSink };

/** Downloads (or finds in the Hub cache) one file of a repository, reporting progress; never throws. */
export async function downloadModel(what: { repo: string; file: string }, o: DownloadOptions): Promise<DownloadOutcome> {
  const reporter = new DownloadReporter(o.progress);
  let last: DownloadProgress | undefined;
  try {
    const result = await pullFile(what.repo, what.file, { ...o, onProgress: (p) => { last = p; reporter.update(p); } });
    return { kind: 'done', result };
  } catch (e) {
    if (e instanceof HubError && e.code === 'aborted') {
      const kept = last && last.phase === 'downloading' ? ` at ${humanBytes(last.receivedBytes)} of ${humanBytes(last.totalBytes)}` : '';
      return { kind: 'cancelled', message: `the download of ${what.file} was cancelled${kept}; what was downloaded is kept, and picking the model again resumes it` };
    }
    if (e instanceof HubError) return { kind: 'failed', code: e.code, message: downloadErrorMessage(e, what) };
    return { kind: 'failed', message: `downloading ${what.repo}/${what.file} failed: ${(e as Error)?.message ?? String(e)}` };
  }
}
