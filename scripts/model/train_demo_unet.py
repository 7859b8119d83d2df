"""Trains the demo U-Net on the demo world's training arrays and exports it for tilelens.

  .venv-train/bin/python scripts/model/train_demo_unet.py --arrays data/demo/train-arrays --out server/models \
      --seed 7 --epochs 4

Reads `images.u8` (N×S×S×3 uint8), `masks.u8` (N×S×S 0/1) through numpy.memmap and `index.json`
([{taskId, split, district, phenomena}]); trains on split 'train' (random crops, flips, rot90; BCE + Dice; Adam
with cosine decay), keeps the epoch with the best 'val' IoU, reports IoU on the held-out 'test' tiles, and writes `<name>.onnx`, its sidecar and a weights dump for convert-to-tfjs.ts.

The model runs at --size (128 by default): 256² tiles are halved by a 2×2 mean, which is exactly what tilelens's
bilinear resize does at that factor, so training and inference see the same pixels. Masks are halved the same way;
the training target is the soft mean and every reported IoU thresholds it at 0.5, at the model's resolution.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from unet import UNet, dump_weights, export_onnx  # noqa: E402


class Arrays:
    """The memory-mapped training arrays; batches are read, and shrunk to the model size, on demand."""

    def __init__(self, root: Path, size: int):
        self.index = json.loads((root / "index.json").read_text())
        n = len(self.index)
        img_bytes = (root / "images.u8").stat().st_size
        side = math.isqrt(img_bytes // (3 * n))
        if side * side * 3 * n != img_bytes:
            raise SystemExit(f"{root}/images.u8 holds {img_bytes} bytes, not {n} square RGB tiles; re-export the arrays")
        if (root / "masks.u8").stat().st_size != n * side * side:
            raise SystemExit(f"{root}/masks.u8 does not hold {n} masks of {side}×{side}; re-export the arrays")
        if side % size:
            raise SystemExit(f"tiles of {side}² cannot be shrunk to --size {size} by an integer factor")
        self.side, self.size = side, size
        self.images = np.memmap(root / "images.u8", dtype=np.uint8, mode="r", shape=(n, side, side, 3))
        self.masks = np.memmap(root / "masks.u8", dtype=np.uint8, mode="r", shape=(n, side, side))

    def split(self, name: str) -> list[int]:
        return [i for i, t in enumerate(self.index) if t["split"] == name]

    def batch(self, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(N×3×s×s float pixels 0..255, N×1×s×s soft mask)."""
        order = np.argsort(ids)  # memmap gathers are fastest in file order
        sorted_ids = np.asarray(ids)[order]
        img = torch.from_numpy(np.ascontiguousarray(self.images[sorted_ids])).permute(0, 3, 1, 2).float()
        msk = torch.from_numpy(np.ascontiguousarray(self.masks[sorted_ids])).unsqueeze(1).float()
        inv = torch.from_numpy(np.argsort(order))
        k = self.side // self.size
        if k > 1:
            img, msk = F.avg_pool2d(img, k), F.avg_pool2d(msk, k)
        return img[inv], msk[inv]


def channel_stats(arrays: Arrays, ids: list[int], rng: random.Random) -> tuple[list[float], list[float]]:
    sample = sorted(rng.sample(ids, min(len(ids), 256)))
    s, s2, count = np.zeros(3), np.zeros(3), 0
    for start in range(0, len(sample), 32):
        img, _ = arrays.batch(sample[start : start + 32])
        px = img.permute(1, 0, 2, 3).reshape(3, -1).double() / 255
        s += px.sum(1).numpy()
        s2 += (px**2).sum(1).numpy()
        count += px.shape[1]
    mean = s / count
    std = np.sqrt(np.maximum(s2 / count - mean**2, 1e-6))
    return [round(float(m), 5) for m in mean], [round(float(v), 5) for v in std]


def augment(img: torch.Tensor, msk: torch.Tensor, gen: torch.Generator, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random crop and a random element of the dihedral group per tile (buildings have no preferred orientation
    from above). Crops buy several times more optimiser steps for the same CPU time on a fully convolutional net."""
    out_i, out_m = [], []
    side = img.shape[-1]
    for a, b in zip(img, msk):
        if crop < side:
            y, x = (int(v) for v in torch.randint(side - crop + 1, (2,), generator=gen))
            a, b = a[:, y : y + crop, x : x + crop], b[:, y : y + crop, x : x + crop]
        k = int(torch.randint(4, (1,), generator=gen))
        a, b = torch.rot90(a, k, (1, 2)), torch.rot90(b, k, (1, 2))
        if torch.rand(1, generator=gen) < 0.5:
            a, b = a.flip(2), b.flip(2)
        out_i.append(a)
        out_m.append(b)
    return torch.stack(out_i), torch.stack(out_m)


def edge_band(target: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """1 on pixels within `radius` of a label edge (the mask's morphological gradient), 0 elsewhere."""
    k = 2 * radius + 1
    return F.max_pool2d(target, k, 1, radius) + F.max_pool2d(-target, k, 1, radius)


def loss_fn(logits: torch.Tensor, target: torch.Tensor, boundary_weight: float = 0.0) -> torch.Tensor:
    # Pixels at the label's edges weigh 1 + boundary_weight in the cross-entropy: outlines placed where the
    # footprints are drawn, not only the right amount of building.
    weight = 1 + boundary_weight * edge_band(target) if boundary_weight > 0 else None
    bce = F.binary_cross_entropy_with_logits(logits, target, weight=weight)
    p = torch.sigmoid(logits)
    inter = (p * target).sum((1, 2, 3))
    dice = 1 - (2 * inter + 1) / (p.sum((1, 2, 3)) + target.sum((1, 2, 3)) + 1)
    return bce + dice.mean()


@torch.no_grad()
def confusion(net, arrays: Arrays, ids: list[int], normalise, batch: int) -> np.ndarray:
    """Per tile (tp, fp, fn, tn) at the model's resolution: every metric below is a reduction of these."""
    net.eval()
    rows = []
    for start in range(0, len(ids), batch):
        img, msk = arrays.batch(ids[start : start + batch])
        pred = torch.sigmoid(net(normalise(img))) >= 0.5
        gt = msk >= 0.5
        rows.append(torch.stack([(pred & gt).sum((1, 2, 3)), (pred & ~gt).sum((1, 2, 3)),
                                 (~pred & gt).sum((1, 2, 3)), (~pred & ~gt).sum((1, 2, 3))], 1).numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 4), dtype=np.int64)


def summarise(counts: np.ndarray) -> dict:
    tp, fp, fn, _ = counts.sum(0) if len(counts) else (0, 0, 0, 0)
    union = counts[:, 0] + counts[:, 1] + counts[:, 2]
    gt_nonempty = (counts[:, 0] + counts[:, 2]) > 0
    per_tile = np.where(union > 0, counts[:, 0] / np.maximum(union, 1), np.nan)
    return {
        "tiles": int(len(counts)),
        "pooledIoU": round(float(tp / max(tp + fp + fn, 1)), 4),
        "meanTileIoUDefined": round(float(np.nanmean(per_tile)), 4) if np.any(union > 0) else None,
        "meanTileIoUGroundTruthNonEmpty": round(float(per_tile[gt_nonempty].mean()), 4) if gt_nonempty.any() else None,
        "tilesBothEmpty": int((union == 0).sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arrays", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--name", default="demo-unet")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--crop", type=int, default=64, help="training crop side at model resolution (≤ --size)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--boundary-weight", type=float, default=0.0,
                    help="extra cross-entropy weight on pixels at the label's edges (0: none)")
    ap.add_argument("--max-minutes", type=float, default=18.0,
                    help="stop starting new epochs past this wall time; the best epoch so far is exported")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    arrays = Arrays(args.arrays, args.size)
    train, val, test = (arrays.split(s) for s in ("train", "val", "test"))
    if not train or not val:
        raise SystemExit(f"{args.arrays}/index.json needs tiles in both 'train' and 'val' splits")
    print(f"tiles: train {len(train)}, val {len(val)}, test {len(test)}; {arrays.side}² → {args.size}²", flush=True)

    mean, std = channel_stats(arrays, train, rng)
    m_t = torch.tensor(mean)[None, :, None, None] * 255
    s_t = torch.tensor(std)[None, :, None, None] * 255
    normalise = lambda img: (img - m_t) / s_t  # noqa: E731

    net = UNet(width=args.width, depth=args.depth)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil(len(train) / args.batch)
    # Cosine decay over the epochs that fit the time budget, re-planned once the first epoch has been timed: on a
    # shared CPU a schedule cut off by the clock would end at a high learning rate.
    planned_epochs = args.epochs
    step = 0
    best = {"iou": -1.0, "epoch": 0, "state": None}
    started = time.time()
    epochs_run = 0
    for epoch in range(1, args.epochs + 1):
        if epoch > planned_epochs:
            break
        if (time.time() - started) / 60 > args.max_minutes:
            print(f"time budget of {args.max_minutes} min reached; stopping before epoch {epoch}", flush=True)
            break
        epoch_started = time.time()
        net.train()
        order = train[:]
        rng.shuffle(order)
        total = 0.0
        for start in range(0, len(order), args.batch):
            img, msk = arrays.batch(order[start : start + args.batch])
            img, msk = augment(img, msk, gen, args.crop)
            loss = loss_fn(net(normalise(img)), msk, args.boundary_weight)
            total_steps = planned_epochs * steps_per_epoch
            warm = min(1.0, (step + 1) / max(1, steps_per_epoch // 2))
            for group in opt.param_groups:
                group["lr"] = args.lr * warm * 0.5 * (1 + math.cos(math.pi * min(step / total_steps, 1.0)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            total += loss.item() * len(img)
        val_iou = summarise(confusion(net, arrays, val, normalise, 32))["pooledIoU"]
        epochs_run = epoch
        # Planned twice: after epoch 1, and after epoch 2 whose time no longer includes paging the arrays in.
        if epoch <= 2:
            elapsed = time.time() - started
            fit = epoch + int(max(0.0, args.max_minutes * 60 - elapsed) // (time.time() - epoch_started))
            planned_epochs = max(epoch, min(args.epochs, fit))
            if planned_epochs < args.epochs:
                print(f"{planned_epochs} epochs fit in {args.max_minutes} min; planning for {planned_epochs}", flush=True)
        print(f"epoch {epoch}: loss {total / len(order):.4f}, val pooled IoU {val_iou:.4f}, "
              f"{time.time() - started:.0f}s", flush=True)
        if val_iou > best["iou"]:
            best = {"iou": val_iou, "epoch": epoch, "state": {k: v.clone() for k, v in net.state_dict().items()}}
    train_seconds = round(time.time() - started, 1)
    net.load_state_dict(best["state"])
    net.eval()

    report = {"val": summarise(confusion(net, arrays, val, normalise, 32))}
    if test:
        test_counts = confusion(net, arrays, test, normalise, 32)
        report["test"] = summarise(test_counts)
        phenomena = sorted({p for i in test for p in (arrays.index[i].get("phenomena") or [])})
        report["testByPhenomenon"] = {}
        for p in phenomena:
            rows = [k for k, i in enumerate(test) if p in (arrays.index[i].get("phenomena") or [])]
            c = test_counts[rows]
            s = summarise(c)
            pixels = c.sum()
            s["gtFraction"] = round(float((c[:, 0] + c[:, 2]).sum() / max(pixels, 1)), 4)
            s["predFraction"] = round(float((c[:, 0] + c[:, 1]).sum() / max(pixels, 1)), 4)
            report["testByPhenomenon"][p] = s
    print(json.dumps(report, indent=1), flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / f"{args.name}.onnx"
    export_onnx(net, onnx_path, args.size)
    dump_weights(net, args.out / f"{args.name}.weights.json", args.size)
    sidecar = {
        "name": args.name,
        "inputSize": [args.size, args.size],
        "bands": 3,
        "normalization": {"mean": mean, "std": std, "scale": 255},
        "outputActivation": "none",
        "output": "prob",
        "bottleneck": "bottleneck",
        "provenance": {
            "command": " ".join(shlex.quote(a) for a in ["scripts/model/train_demo_unet.py", *sys.argv[1:]]),
            "seed": args.seed,
            "epochsPlanned": args.epochs,
            "epochsRun": epochs_run,
            "bestEpoch": best["epoch"],
            "architecture": net.arch(),
            "trainingTileSize": arrays.side,
            "modelInputSize": args.size,
            "trainingCrop": args.crop,
            "metricsResolution": f"{args.size}x{args.size} (tiles and masks halved by 2x2 mean, masks thresholded at 0.5)",
            "torch": torch.__version__,
            "python": platform.python_version(),
            "threads": args.threads,
            "trainSeconds": train_seconds,
            "tiles": {"train": len(train), "val": len(val), "test": len(test)},
            "heldOut": report,
        },
    }
    (args.out / f"{args.name}.onnx.tilelens.json").write_text(json.dumps(sidecar, indent=1) + "\n")
    print(f"wrote {onnx_path} and its sidecar; trained {train_seconds}s", flush=True)


if __name__ == "__main__":
    main()
