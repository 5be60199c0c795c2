// The one error type of the Hub client, downloads and the cache, with a code a caller can branch on
// (show a sign-in hint for 'unauthorized', offer to retry after 'network', free space after
// 'disk-space'). Messages name the repository, file, URL (without its query: CDN URLs carry
// signatures) and limit; text from the server is cut short and stripped of control characters.

export type HubErrorCode =
  /** The repository, revision or file does not exist (or is private and no token was accepted). */
  | 'not-found'
  /** 401: the repository is gated or private; a token (HF_TOKEN) is needed. */
  | 'unauthorized'
  /** 403, or a gated repository whose terms the token's account has not accepted. */
  | 'forbidden'
  /** 429 still after the bounded retries, or a Retry-After longer than the caller waits. */
  | 'rate-limited'
  /** Another unexpected HTTP status. */
  | 'http'
  /** Connection failed, reset or timed out (after the bounded retries). */
  | 'network'
  /** The proxy refused the tunnel or the request. */
  | 'proxy'
  /** The server's answer is malformed (JSON, Content-Range, a file list without sizes). */
  | 'bad-response'
  /** The downloaded bytes do not have the Hub's SHA-256 (or size): the file was discarded. */
  | 'checksum'
  /** Not enough free disk space to start; nothing was downloaded. */
  | 'disk-space'
  /** Writing the file failed (disk full, file size limit, I/O error); the partial file is kept for resuming. */
  | 'disk-write'
  /** The caller's AbortSignal fired; the partial file is kept for resuming. */
  | 'aborted'
  /** Another process is downloading the same file into the same cache. */
  | 'busy'
  /** HF_HUB_OFFLINE is set and the file is not in the cache. */
  | 'offline'
  /** A repository id, file path or revision that cannot be valid. */
  | 'bad-argument';

export interface HubErrorDetail {
  status?: number;
  /** The URL, without query string. */
  url?: string;
  /** For 'rate-limited': what the server asked to wait. */
  retryAfterMs?: number;
  /** For 'disk-space': bytes needed and free. */
  neededBytes?: number;
  freeBytes?: number;
  /** For 'disk-write' and 'aborted': the partial file kept for resuming. */
  partialPath?: string;
}

export class HubError extends Error {
  constructor(readonly code: HubErrorCode, message: string, readonly detail: HubErrorDetail = {}) {
    super(message);
    this.name = 'HubError';
  }
}

/** A URL fit for a message: no query (signatures), no credentials. */
export function shownUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Server-supplied text fit for a message: one line, printable, at most 200 characters. */
export function serverText(s: unknown): string {
  if (typeof s !== 'string') return '';
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}
