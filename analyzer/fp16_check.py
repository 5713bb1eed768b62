"""FP16 range check: which layers must stay FP32 when the rest of the model runs in FP16.

The float model runs in onnxruntime on representative samples with every float intermediate
tensor exposed; a node is flagged when one of its outputs

* overflows FP16 (|x| > 65504 becomes inf — T5-style activations are the classic case), or
* loses its values to FP16 underflow (more than `UNDERFLOW_SHARE` of its nonzero values are
  below 2^-24 in magnitude and would become 0).

The flagged node names become a layer-precision spec (`name:fp32,...`, as trtexec's
`--layerPrecisions` spells it) that `trt-build --layer-precisions` applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from trtforge.analyzer import inference_guard

FP16_MAX = float(np.finfo(np.float16).max)  # 65504
FP16_TINY = 2.0**-24  # smallest FP16 subnormal; anything smaller becomes 0
UNDERFLOW_SHARE = 0.01


@dataclass
class RangeFinding:
    node: str
    op_type: str
    tensor: str
    max_abs: float
    underflow_share: float

    @property
    def why(self) -> str:
        if self.max_abs > FP16_MAX:
            return f"|x| reaches {self.max_abs:.3g} > {FP16_MAX:g} (FP16 overflow)"
        return f"{self.underflow_share:.1%} of its nonzero values underflow FP16 (< 2^-24)"

    def to_json(self) -> dict:
        return {
            "node": self.node,
            "op_type": self.op_type,
            "tensor": self.tensor,
            "max_abs": self.max_abs,
            "underflow_share": self.underflow_share,
            "why": self.why,
        }


def _float_outputs(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    """Every float tensor a node of the main graph produces, with its producer."""
    inferred = inference_guard.infer_model(model)
    types = {
        v.name: v.type.tensor_type.elem_type
        for v in [*inferred.graph.value_info, *inferred.graph.output]
        if v.type.HasField("tensor_type")
    }
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16}
    return {
        out: node
        for node in model.graph.node
        for out in node.output
        if out and types.get(out) in floats and node.op_type != "Constant"
    }


def check_fp16(model: onnx.ModelProto, feeds: list[dict[str, np.ndarray]]) -> list[RangeFinding]:
    """The nodes whose outputs FP16 cannot hold on these feeds (model with weights loaded)."""
    from trtforge.analyzer.rewrite.verify import run_model

    produced = _float_outputs(model)
    names = list(produced)
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    del exposed.graph.output[:]
    exposed.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names)
    peak = dict.fromkeys(names, 0.0)
    nonzero = dict.fromkeys(names, 0)
    tiny = dict.fromkeys(names, 0)
    for feed in feeds:
        values = run_model(exposed, feed)
        for name in names:
            x = np.abs(np.asarray(values[name], np.float64))
            finite = x[np.isfinite(x)]
            if finite.size != x.size:
                peak[name] = float("inf")
            if finite.size:
                peak[name] = max(peak[name], float(finite.max()))
            nz = finite[finite > 0]
            nonzero[name] += nz.size
            tiny[name] += int(np.count_nonzero(nz < FP16_TINY))
    findings = []
    flagged: set[str] = set()
    for name in names:
        share = tiny[name] / nonzero[name] if nonzero[name] else 0.0
        node = produced[name]
        if (peak[name] > FP16_MAX or share > UNDERFLOW_SHARE) and node.name not in flagged:
            flagged.add(node.name)
            findings.append(RangeFinding(node.name, node.op_type, name, peak[name], share))
    return findings


def precision_spec(findings: list[RangeFinding]) -> str:
    """The `--layer-precisions` value keeping the flagged layers in FP32."""
    return ",".join(f"{f.node}:fp32" for f in findings if f.node)


def parse_precision_spec(spec: str) -> dict[str, str]:
    """`name:fp32,name2:fp16` → {name: precision}; names may contain ':' (the last one splits).

    Raises:
        ValueError: an item without a precision, or a precision other than fp32/fp16/bf16.
    """
    wanted: dict[str, str] = {}
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            continue
        name, sep, precision = item.rpartition(":")
        precision = precision.lower()
        if not sep or not name or precision not in ("fp32", "fp16", "bf16"):
            raise ValueError(f"'{item}' is not NAME:fp32|fp16|bf16")
        wanted[name] = precision
    return wanted
