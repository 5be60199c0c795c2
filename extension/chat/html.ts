// The chat webview's page. A fresh nonce per render; the CSP allows only that nonce's script and the
// extension's own style sheet, so nothing in an answer can load or run anything.
export interface ChatPage {
  /** webview.cspSource */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
}

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function chatHtml(p: ChatPage): string {
  const csp = `default-src 'none'; script-src 'nonce-${p.nonce}'; style-src ${p.cspSource}; font-src ${p.cspSource}; img-src ${p.cspSource}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(p.styleUri)}">
<title>Hearth Chat</title>
</head>
<body>
<div id="transcript" role="log" aria-live="polite">
<div id="empty">Ask about your code. Enter sends, Shift+Enter adds a line, Escape stops the answer.</div>
</div>
<div id="notices" aria-live="polite"></div>
<div id="composer">
<textarea id="input" rows="3" placeholder="Ask Hearth…" aria-label="Message"></textarea>
<button id="send">Send</button>
</div>
<script nonce="${attr(p.nonce)}" src="${attr(p.scriptUri)}"></script>
</body>
</html>`;
}

/** 32 random alphanumerics. */
export function makeNonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => chars[b % chars.length]).join('');
}
