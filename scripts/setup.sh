#!/usr/bin/env bash
# Installs what `npm run demo` and `npm test` need on a fresh machine; quick when all is there.
#   --browser   also installs Debian's chromium for the browser end-to-end tests
#   --postgres  also installs Debian's PostgreSQL server (and PostGIS where Debian has it for that version), which
#               the tests of the shared store start themselves; `npm run demo` needs neither
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip

stamp=node_modules/.tilelens-installed
if [[ ! -f $stamp || package-lock.json -nt $stamp ]]; then
  echo "tilelens: installing npm packages (npm ci)…" >&2
  npm ci --no-audit --no-fund >&2
  touch "$stamp"
fi

browser=0
postgres=0
for arg in "$@"; do
  case $arg in
    --browser) browser=1 ;;
    --postgres) postgres=1 ;;
    *) echo "tilelens: setup.sh: unknown option $arg (--browser, --postgres)" >&2; exit 2 ;;
  esac
done
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
apt_updated=0
apt_install() {
  if [[ $apt_updated -eq 0 ]]; then
    $SUDO apt-get update -qq >&2
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >&2
}

if [[ $browser -eq 1 ]] && [[ ! -x /usr/bin/chromium ]]; then
  echo "tilelens: installing chromium for the browser tests (apt)…" >&2
  apt_install chromium
fi

# The server binaries, where server/lib/db/local-postgres.ts looks for them.
if [[ $postgres -eq 1 ]] && ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  echo "tilelens: installing PostgreSQL for the shared store (apt)…" >&2
  apt_install postgresql
  major=$(ls /usr/lib/postgresql | sort -n | tail -1)
  # PostGIS is packaged per server version; install it only where this Debian has it for the one just installed.
  if apt-cache policy "postgresql-$major-postgis-3" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    apt_install "postgresql-$major-postgis-3"
  fi
fi

# The map UI is served from map-ui/dist; build it when missing or older than its sources.
ui_stamp=map-ui/dist/index.html
if [[ ! -f $ui_stamp ]] || [[ -n $(find map-ui/index.html map-ui/vite.config.ts map-ui/src plugin/src -newer "$ui_stamp" -type f 2>/dev/null | head -1) ]]; then
  echo "tilelens: building the map UI (npm run build:ui)…" >&2
  npm run --silent build:ui >&2
fi
