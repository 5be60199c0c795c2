#!/usr/bin/env bash
# The demonstration model, from scratch: bash test/tiny-model/train.sh (from a checkout with
# `npm install` done; Python 3.11 as python3). Trains on this machine's CPU (see train.py), then
# writes test/tiny-model/tiny-code-f16.gguf and tiny-code-q8_0.gguf with Hearth's GGUF writer.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.cache/tiny-model/venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# pip resolves dependencies over the package index even when every pin is installed: skip it then,
# so a rerun works offline.
if ! "$venv/bin/python" - test/tiny-model/requirements.txt <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
pins = [l.split('==') for l in open(sys.argv[1]) if '==' in l and not l.startswith('#')]
try:
    sys.exit(0 if all(version(n.strip()) == v.strip() for n, v in pins) else 1)
except PackageNotFoundError:
    sys.exit(1)
PY
then
  "$venv/bin/pip" install --quiet -r test/tiny-model/requirements.txt
fi
# A low priority: training takes what the machine's other work leaves.
nice -n 15 "$venv/bin/python" test/tiny-model/train.py "$@"
if [ "${1:-}" != "--smoke" ]; then
  npx esbuild test/tiny-model/export.ts --bundle --platform=node --format=esm --packages=external \
    --log-level=warning --outfile=.cache/tiny-model/export.mjs
  node .cache/tiny-model/export.mjs
fi
