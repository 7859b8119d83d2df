#!/usr/bin/env bash
# The API end to end with curl, against a running server (`npm run demo -- --port N`):
# makes sure the demo imagery is registered, creates a project on the demo world's new region, scores
# it, polls the job, writes every export into OUT_DIR and prints one line of JSON with the figures.
#   scripts/api-walkthrough.sh http://127.0.0.1:8700 "$TOKEN" /tmp/walkthrough
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 BASE_URL TOKEN OUT_DIR   (the token is printed by the server at start)" >&2
  exit 2
fi
BASE=${1%/}
TOKEN=$2
OUT=$3
DATA_DIR=${TILELENS_DATA_DIR:-"$(cd "$(dirname "$0")/.." && pwd)/data"}
WORLD_JSON="$DATA_DIR/demo/world.json"
mkdir -p "$OUT"

fail() { echo "api-walkthrough: $*" >&2; exit 1; }
[ -f "$WORLD_JSON" ] || fail "$WORLD_JSON is missing; start the server with \`npm run demo\`, which builds the demo world"

# curl that fails on HTTP errors but shows the server's error body.
call() {
  local method=$1 path=$2 body=${3:-}
  local args=(-sS -X "$method" -H "Authorization: Bearer $TOKEN" -w '\n%{http_code}')
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
  local out code
  out=$(curl "${args[@]}" "$BASE$path") || fail "cannot reach $BASE$path"
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  [ "${code:0:1}" = 2 ] || fail "$method $path answered $code: $out"
  printf '%s' "$out"
}
# Reads stdin as JSON and prints what the expression gives (`j` is the parsed value).
jq_() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);const v=($1);process.stdout.write(typeof v==='string'?v:JSON.stringify(v))})"; }

call GET /api/health >/dev/null

IMAGERY_ID=$(call GET /api/imagery | jq_ "(j.imagery.find(r=>r.name==='tilelens demo world')||{}).id||''")
if [ -z "$IMAGERY_ID" ]; then
  IMAGERY_ID=$(call POST /api/imagery '{"name":"tilelens demo world","spec":{"kind":"pmtiles","path":"demo/imagery.pmtiles"}}' | jq_ 'j.id')
  echo "registered the demo imagery as $IMAGERY_ID" >&2
fi
RUN_ID=$(call GET /api/runs | jq_ "(j.runs.find(r=>r.datasetName==='demo-world:train')||{}).id||''")
[ -n "$RUN_ID" ] || fail "no demo-world analysis run is stored; run \`npm run demo\` first"

# The new region's exact tile range, inset by a hundredth of a tile, so the project holds exactly the world's tiles.
AREA=$(node -e "
const w = require('$WORLD_JSON'); const t = w.regions.new.tiles; const n2 = 2 ** w.zoom;
const lon = (x) => (x / n2) * 360 - 180;
const lat = (y) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / n2))) * 180) / Math.PI;
const e = 0.01;
const W = lon(t.minX + e), E = lon(t.maxX + 1 - e), N = lat(t.minY + e), S = lat(t.maxY + 1 - e);
process.stdout.write(JSON.stringify({ type: 'Polygon', coordinates: [[[W, S], [E, S], [E, N], [W, N], [W, S]]] }));")
NAME="API walkthrough $(date -u +%Y-%m-%dT%H:%M:%SZ)"
PROJECT=$(call POST /api/projects "{\"name\":\"$NAME\",\"area\":$AREA,\"imageryId\":$IMAGERY_ID,\"runId\":$RUN_ID,\"zoom\":18}")
PROJECT_ID=$(printf '%s' "$PROJECT" | jq_ 'j.id')
echo "project $PROJECT_ID: $(printf '%s' "$PROJECT" | jq_ 'j.tileCount') tiles" >&2

START=$(date +%s.%N)
JOB_ID=$(call POST "/api/projects/$PROJECT_ID/score" '{}' | jq_ 'j.id')
while :; do
  JOB=$(call GET "/api/jobs/$JOB_ID")
  STATUS=$(printf '%s' "$JOB" | jq_ 'j.status')
  printf '\rjob %s: %s %s/%s' "$JOB_ID" "$STATUS" "$(printf '%s' "$JOB" | jq_ 'j.done')" "$(printf '%s' "$JOB" | jq_ 'j.total')" >&2
  case $STATUS in
    done) break ;;
    failed | cancelled) echo >&2; fail "job $JOB_ID ended $STATUS: $(printf '%s' "$JOB" | jq_ 'j.error||""')" ;;
  esac
  sleep 1
done
echo >&2
SECONDS_TAKEN=$(node -e "process.stdout.write((($(date +%s.%N))-($START)).toFixed(2))")

for e in mapswipe-find:mapswipe-find.json mapswipe-validate.geojson:mapswipe-validate.geojson \
  tasking-manager:tasking-manager.json tiles.csv:tiles.csv tiles.geojson:tiles.geojson; do
  curl -sSf -H "Authorization: Bearer $TOKEN" -o "$OUT/${e#*:}" "$BASE/api/projects/$PROJECT_ID/exports/${e%%:*}" ||
    fail "export ${e%%:*} failed"
done
call GET "/api/projects/$PROJECT_ID/effort" >"$OUT/effort.json"
EVAL=$(call GET "/api/projects/$PROJECT_ID/evaluation")
printf '%s' "$EVAL" >"$OUT/evaluation.json"

printf '%s' "$JOB" | node -e "
let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{
  const job=JSON.parse(s); const ev=$EVAL; const r={};
  for (const [k,v] of Object.entries(ev.skippedAtRecall)) r[k]=Object.fromEntries(Object.entries(v).map(([by,x])=>[by,x.skippedShare]));
  console.log(JSON.stringify({projectId:$PROJECT_ID, tiles:job.total, scored:job.done-job.failed, failed:job.failed,
    seconds:$SECONDS_TAKEN, skippedAtRecall:r, exports:'$OUT'}));
});"
