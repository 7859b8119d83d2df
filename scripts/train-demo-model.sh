#!/usr/bin/env bash
# Trains the demo U-Net and writes it in both runtimes' formats:
#   server/models/demo-unet.onnx (+ .tilelens.json, weights dump) and server/models/demo-unet-tfjs/.
# Needs the demo world's training arrays (scripts/export-training-arrays.ts). Extra arguments go to the trainer,
# e.g. `bash scripts/train-demo-model.sh --epochs 8`.
set -euo pipefail
cd "$(dirname "$0")/.."

arrays=${ARRAYS:-data/demo/train-arrays}
out=${OUT:-server/models}
venv=.venv-train

if [[ ! -f $arrays/index.json ]]; then
  echo "train-demo-model: no $arrays/index.json; build it first:" >&2
  echo "  npx tsx scripts/build-demo-world.ts --out data/demo --seed 7" >&2
  echo "  npx tsx scripts/export-training-arrays.ts --world data/demo --out $arrays" >&2
  exit 1
fi
if ! "$venv/bin/python" -c 'import torch, onnx' 2>/dev/null; then
  echo "train-demo-model: creating $venv (torch 2.13.0, onnx)…" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch==2.13.0 onnx
fi

nice "$venv/bin/python" scripts/model/train_demo_unet.py --arrays "$arrays" --out "$out" --seed 7 --epochs 4 --max-minutes 15 "$@"
npx tsx scripts/model/convert-to-tfjs.ts --dump "$out/demo-unet.weights.json" \
  --sidecar "$out/demo-unet.onnx.tilelens.json" --out "$out/demo-unet-tfjs"
# `npm run lint` checks every JSON file in the repository against prettier.
npx prettier --log-level warn --write "$out"/demo-unet*.json "$out/demo-unet-tfjs"
