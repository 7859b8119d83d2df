"""The demo U-Net and the two files every model of ours ships as: an ONNX graph and a weights dump.

The network is written so that the TF.js converter (scripts/model/convert-to-tfjs.ts) can rebuild it layer for
layer: 3×3 convolutions with 'same' padding, BatchNorm (folded into the convolution for export), ReLU, 2×2 max
pooling, nearest-neighbour ×2 upsampling, concatenation in the order [upsampled, skip]. Each of these has an exact
Keras counterpart, which is why upsampling is nearest + conv rather than a transposed convolution.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(ConvBNReLU(cin, cout), ConvBNReLU(cout, cout))


class UNet(nn.Module):
    """U-Net with `depth` resolution levels; level i has width·2^i channels.

    `decoder_stages` below depth-1 leaves the output at a coarser resolution than the input. tilelens refuses such
    models, and the test fixtures use one to check that it does.
    """

    def __init__(self, width: int = 16, depth: int = 4, in_channels: int = 3, decoder_stages: int | None = None):
        super().__init__()
        self.width, self.depth, self.in_channels = width, depth, in_channels
        self.decoder_stages = depth - 1 if decoder_stages is None else decoder_stages
        if not 0 <= self.decoder_stages <= depth - 1:
            raise ValueError(f"decoder_stages must lie in 0..{depth - 1}, got {self.decoder_stages}")
        ch = [width * 2**i for i in range(depth)]
        self.ch = ch
        self.enc = nn.ModuleList([DoubleConv(in_channels if i == 0 else ch[i - 1], ch[i]) for i in range(depth)])
        # Decoder stage k climbs from level depth-1-k to depth-2-k.
        self.dec = nn.ModuleList(
            [DoubleConv(ch[depth - 1 - k] + ch[depth - 2 - k], ch[depth - 2 - k]) for k in range(self.decoder_stages)]
        )
        self.head = nn.Conv2d(ch[depth - 1 - self.decoder_stages], 1, 1)

    def level_names(self) -> tuple[list[str], list[str]]:
        enc = [f"enc{i + 1}" for i in range(self.depth - 1)] + ["bottleneck"]
        dec = [f"dec{self.depth - 1 - k}" for k in range(self.decoder_stages)]
        return enc, dec

    def forward(self, x: torch.Tensor, features: bool = False):
        skips = []
        for i, block in enumerate(self.enc):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        decs = []
        for k, block in enumerate(self.dec):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = block(torch.cat([x, skips[self.depth - 2 - k]], dim=1))
            decs.append(x)
        logits = self.head(x)
        if not features:
            return logits
        return logits, skips, decs

    def arch(self) -> dict:
        return {"kind": "unet", "width": self.width, "depth": self.depth, "inChannels": self.in_channels,
                "decoderStages": self.decoder_stages}


class ExportWrapper(nn.Module):
    """Graph outputs: `prob` (sigmoid applied) first, then every encoder/decoder level so any can be read."""

    def __init__(self, net: UNet):
        super().__init__()
        self.net = net

    def forward(self, x):
        logits, skips, decs = self.net(x, features=True)
        return (torch.sigmoid(logits), *skips, *decs)


def export_onnx(net: UNet, path: Path, size: int) -> list[str]:
    # The exporter restores the wrapper's train/eval mode afterwards; a fresh wrapper is in train mode and would
    # leave `net` using batch statistics, so the wrapper is put in eval mode itself.
    wrapper = ExportWrapper(net).eval()
    enc, dec = net.level_names()
    names = ["prob", *enc, *dec]
    dummy = torch.zeros(1, net.in_channels, size, size)
    torch.onnx.export(
        wrapper, (dummy,), str(path), input_names=["input"], output_names=names,
        dynamic_axes={n: {0: "batch"} for n in ["input", *names]}, opset_version=17, dynamo=False,
    )
    return names


def folded_convs(net: UNet) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, OIHW kernel, bias) per convolution in graph order, BatchNorm folded in (eval statistics)."""
    enc, dec = net.level_names()
    out: list[tuple[str, torch.Tensor, torch.Tensor]] = []

    def fold(block: ConvBNReLU):
        conv, bn = block[0], block[1]
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        return conv.weight * scale[:, None, None, None], bn.bias - bn.running_mean * scale

    for name, block in [*zip(enc, net.enc), *zip(dec, net.dec)]:
        w1, b1 = fold(block[0])
        w2, b2 = fold(block[1])
        out += [(f"{name}_conv1", w1, b1), (name, w2, b2)]
    out.append(("logits", net.head.weight, net.head.bias))
    return out


def dump_weights(net: UNet, json_path: Path, size: int) -> None:
    """Writes `<x>.weights.json` + `<x>.weights.bin` (little-endian float32, OIHW kernels then bias per conv)."""
    bin_path = json_path.with_suffix(".bin")
    tensors, offset = [], 0
    with torch.no_grad(), open(bin_path, "wb") as f:
        for name, w, b in folded_convs(net):
            for suffix, t in (("kernel", w), ("bias", b)):
                flat = t.detach().to(torch.float32).contiguous().flatten().tolist()
                f.write(struct.pack(f"<{len(flat)}f", *flat))
                tensors.append({"layer": name, "role": suffix, "shape": list(t.shape), "offset": offset})
                offset += 4 * len(flat)
    json_path.write_text(json.dumps({"arch": net.arch(), "inputSize": [size, size], "layout": "OIHW",
                                     "bin": bin_path.name, "tensors": tensors}, indent=1) + "\n")
