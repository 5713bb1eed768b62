"""ONNX text written for opset 13 (Squeeze/Unsqueeze axes as inputs, Resize without roi and
scales beside sizes), turned into the form of an older opset, as torchvision's opset-11 and
opset-12 detection exports have it."""

from __future__ import annotations

import re


def before_opset13(text: str, axes: dict[str, str]) -> str:
    """`text` with each `Squeeze(x, name)` / `Unsqueeze(x, name)` given its axes as an
    attribute (`axes`: the constant's name → its values, e.g. {"z": "0"}), and each
    `Resize(m4, , , sizes)` given empty roi and scales (required inputs before opset 13)."""
    text = re.sub(
        r"(Squeeze|Unsqueeze)\((\w+), (\w+)\)",
        lambda m: f"{m[1]}<axes=[{axes[m[3]]}]>({m[2]})",
        text,
    )
    text = text.replace(
        "bool yes = {1}", "bool yes = {1}, float[0] noroi = {}, float[0] noscale = {}"
    )
    return text.replace("(m4, , , sizes)", "(m4, noroi, noscale, sizes)")
