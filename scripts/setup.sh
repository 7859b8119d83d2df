#!/usr/bin/env bash
# Installs what `npm run demo` and `npm test` need on a fresh machine; quick when all is there.
#   --browser  also installs Debian's chromium for the browser end-to-end tests
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip

stamp=node_modules/.tilelens-installed
if [[ ! -f $stamp || package-lock.json -nt $stamp ]]; then
  echo "tilelens: installing npm packages (npm ci)…" >&2
  npm ci --no-audit --no-fund >&2
  touch "$stamp"
fi

if [[ ${1:-} == --browser ]] && [[ ! -x /usr/bin/chromium ]]; then
  echo "tilelens: installing chromium for the browser tests (apt)…" >&2
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >&2
fi

# The map UI is served from map-ui/dist; build it when missing or older than its sources.
ui_stamp=map-ui/dist/index.html
if [[ ! -f $ui_stamp ]] || [[ -n $(find map-ui/index.html map-ui/vite.config.ts map-ui/src plugin/src -newer "$ui_stamp" -type f 2>/dev/null | head -1) ]]; then
  echo "tilelens: building the map UI (npm run build:ui)…" >&2
  npm run --silent build:ui >&2
fi
