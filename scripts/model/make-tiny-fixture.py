"""Regenerates tests/fixtures/tiny-unet/: two tiny random U-Nets (a few KB each) in both runtimes' formats.

  .venv-train/bin/python scripts/model/make-tiny-fixture.py

tiny:    full-resolution output, the conformance case (ONNX vs TF.js must agree).
halfres: the top decoder stage dropped, so its mask is half the input size — which tilelens must refuse.
BatchNorm statistics are randomised so that the export and the converter's folding are both exercised.
"""

import json
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from unet import UNet, dump_weights, export_onnx  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/tiny-unet"
SIZE = 32


def randomise_bn(net: UNet, gen: torch.Generator) -> None:
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


def write_golden(net: UNet, norm: dict) -> None:
    """PyTorch's own answer for two fixed tiles, the reference both runtimes are held to."""
    gen = torch.Generator().manual_seed(5)
    tiles = torch.randint(0, 256, (2, SIZE, SIZE, 3), generator=gen, dtype=torch.uint8)
    x = tiles.permute(0, 3, 1, 2).float() / norm["scale"]
    x = (x - torch.tensor(norm["mean"])[None, :, None, None]) / torch.tensor(norm["std"])[None, :, None, None]
    with torch.no_grad():
        logits, skips, _ = net(x, features=True)
    prob, bottleneck = torch.sigmoid(logits)[:, 0], skips[-1]
    parts = [("tiles", tiles.numpy().tobytes(), list(tiles.shape), "uint8"),
             ("probs", prob.numpy().astype("<f4").tobytes(), list(prob.shape), "float32"),
             ("bottleneck", bottleneck.numpy().astype("<f4").tobytes(), list(bottleneck.shape), "float32")]
    index, offset = {}, 0
    with open(OUT / "golden.bin", "wb") as f:
        for key, data, shape, dtype in parts:
            f.write(data)
            index[key] = {"offset": offset, "bytes": len(data), "shape": shape, "dtype": dtype}
            offset += len(data)
    (OUT / "golden.json").write_text(json.dumps(index, indent=1) + "\n")


def make(name: str, decoder_stages: int | None) -> None:
    gen = torch.Generator().manual_seed(11)
    torch.manual_seed(11)
    net = UNet(width=2, depth=3, decoder_stages=decoder_stages)
    randomise_bn(net, gen)
    net.eval()
    onnx_path = OUT / f"{name}.onnx"
    export_onnx(net, onnx_path, SIZE)
    dump_weights(net, OUT / f"{name}.weights.json", SIZE)
    sidecar = {
        "name": f"{name}-unet",
        "inputSize": [SIZE, SIZE],
        "bands": 3,
        "normalization": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": 255},
        "outputActivation": "none",
        "output": "prob",
        "bottleneck": "bottleneck",
        "provenance": {"script": "scripts/model/make-tiny-fixture.py", "seed": 11, "trained": False,
                       "torch": torch.__version__},
    }
    sidecar_path = OUT / f"{name}.onnx.tilelens.json"
    sidecar_path.write_text(json.dumps(sidecar, indent=1) + "\n")
    if name == "tiny":
        write_golden(net, sidecar["normalization"])
    subprocess.run(["npx", "tsx", "scripts/model/convert-to-tfjs.ts", "--dump", str(OUT / f"{name}.weights.json"),
                    "--sidecar", str(sidecar_path), "--out", str(OUT / f"{name}-tfjs")], cwd=ROOT, check=True)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    make("tiny", None)
    make("halfres", 1)
    # `npm run lint` checks every JSON file in the repository against prettier.
    subprocess.run(["npx", "prettier", "--log-level", "warn", "--write", str(OUT)], cwd=ROOT, check=True)
