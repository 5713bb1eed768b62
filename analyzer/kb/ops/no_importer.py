"""Tensor ops the parser has no importer for: Col2Im, CenterCropPad, BitCast, ImageDecoder.

Sources: onnx-tensorrt docs/operators.md (Col2Im, CenterCropPad, ImageDecoder: N); observed with
the TensorRT-RTX 1.7.1 parser: each fails (BitCast, newer than the operator table, is looked up
as a plugin: "Plugin not found").
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._tensor_common import OBSERVED
from trtforge.analyzer.kb.rule import NEVER, OpRule

SOURCE = f"docs/operators.md (N); {OBSERVED} (no importer)"

RULES = [
    OpRule(
        op="Col2Im",
        source=SOURCE,
        since=NEVER,
        hint="express the fold with ConvTranspose (identity kernel) or ScatterND, or write a "
        "plugin (trt-plugin new Col2Im)",
    ),
    OpRule(
        op="CenterCropPad",
        source=SOURCE,
        since=NEVER,
        hint="export it decomposed (Slice + Pad), as ONNX's function expansion does",
    ),
    OpRule(
        op="BitCast",
        source=SOURCE,
        since=NEVER,
        hint="reinterpret the bits outside the engine, or write a plugin (trt-plugin new BitCast)",
    ),
    OpRule(
        op="ImageDecoder",
        source=SOURCE,
        since=NEVER,
        hint="decode images before the engine (e.g. nvJPEG / DALI) and feed pixel tensors",
    ),
]
