#!/usr/bin/env bash
# Times `npm run demo -- --prepare-only` from a fresh clone of this repository (npm ci, demo world, analysis).
# Target: under 5 minutes on the 2-core reference machine. Prints the demo's JSON line, then one JSON line of timings.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$src" "$work/tilelens"
cd "$work/tilelens"
start=$(date +%s.%N)
npm run demo --silent -- --prepare-only > "$work/prepared.json"
end=$(date +%s.%N)
cat "$work/prepared.json"
node -e '
const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const total = Number(process.argv[3]) - Number(process.argv[2]);
console.log(JSON.stringify({ bench: "demo-fresh-clone", secondsToAnalysisReady: +total.toFixed(1),
  installSeconds: +(total - p.seconds.total).toFixed(1), worldSeconds: p.seconds.world, analysisSeconds: p.seconds.analysis,
  targetSeconds: 300, withinTarget: total < 300 }));' "$work/prepared.json" "$start" "$end"
