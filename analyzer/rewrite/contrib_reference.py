"""Reference implementations, for verification, of onnxruntime contrib ops its CPU build has
no kernel for.

Regional verification (`regional.verify_regions`) runs the nodes a pass replaced with
onnxruntime, else with onnx's reference evaluator; neither knows these ops. Each class here is
an `onnx.reference` op computing what onnxruntime's CUDA kernel computes, as onnxruntime's own
tools define the op, in plain numpy and standard ops:

- `NhwcConv` (com.microsoft): Conv on channels-last data with channels-last weights
  (M × kH × kW × C/group): onnxruntime's transformer optimizer makes it from Conv(x, w) as
  Transpose(0,2,3,1) · NhwcConv(·, w transposed (0,2,3,1)) · Transpose(0,3,1,2)
  (`onnxruntime.transformers.fusion_nhwc_conv`).

`REFERENCE_OPS` lists them for `ReferenceEvaluator(..., new_ops=REFERENCE_OPS)`.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun

from trtforge.analyzer.rewrite.graphutil import channels_first, channels_last


class NhwcConv(OpRun):
    """com.microsoft NhwcConv: the standard Conv of the channels-first views."""

    op_domain = "com.microsoft"

    def _run(self, x, w, b=None, **_attrs):
        rank = x.ndim
        attrs = [a for a in self.onnx_node.attribute if a.name != "activation"]
        inputs = ["x", "w"] + (["b"] if b is not None else [])
        conv = onnx.helper.make_node("Conv", inputs, ["y"])
        conv.attribute.extend(attrs)
        elem = onnx.helper.np_dtype_to_tensor_dtype(x.dtype)
        graph = onnx.helper.make_graph(
            [conv],
            "nhwc_conv",
            [onnx.helper.make_tensor_value_info(n, elem, None) for n in inputs],
            [onnx.helper.make_tensor_value_info("y", elem, None)],
        )
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
        feeds = {
            "x": np.transpose(x, channels_first(rank)),
            "w": np.transpose(w, channels_first(w.ndim)),
        }
        if b is not None:
            feeds["b"] = b
        (y,) = ReferenceEvaluator(model).run(None, feeds)
        return (np.transpose(y, channels_last(rank)),)


#: the ops `_reference_run` adds to onnx's evaluator.
REFERENCE_OPS = [NhwcConv]

_ONNX_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")


class _OneNodeInOnnxruntime(OpRun):
    """An op onnx's evaluator does not know, run alone in onnxruntime (a contrib op its CPU
    build has a kernel for, beside ops it has none for: SkipLayerNormalization next to
    NhwcConv in an optimized UNet, where neither runtime takes the whole piece)."""

    def _run(self, *inputs, **_attrs):
        import onnxruntime

        node = onnx.NodeProto()
        node.CopyFrom(self.onnx_node)
        names = [f"in{i}" if name else "" for i, name in enumerate(node.input)]
        del node.input[:]
        node.input.extend(names)
        outs = [f"out{i}" if name else "" for i, name in enumerate(node.output)]
        del node.output[:]
        node.output.extend(outs)
        given = [(n, v) for n, v in zip(names, inputs, strict=False) if n and v is not None]
        graph = onnx.helper.make_graph(
            [node],
            "one_node",
            [
                onnx.helper.make_tensor_value_info(
                    n, onnx.helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype), None
                )
                for n, v in given
            ],
            [onnx.helper.make_value_info(n, onnx.TypeProto()) for n in outs if n],
        )
        model = onnx.helper.make_model(
            graph,
            opset_imports=[
                onnx.helper.make_opsetid("", 17),
                onnx.helper.make_opsetid(node.domain, 1),
            ],
        )
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 4
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        values = iter(session.run(None, {n: np.asarray(v) for n, v in given}))
        # by output position (an unused output: an empty array where no name takes it)
        return tuple(next(values) if name else np.empty(0, np.float32) for name in outs)


def reference_ops(model: onnx.ModelProto) -> list[type]:
    """REFERENCE_OPS and, for every other op of a non-ONNX domain in `model`'s graph, a class
    that runs its node alone in onnxruntime (`_OneNodeInOnnxruntime`)."""
    known = {(op.op_domain, op.__name__) for op in REFERENCE_OPS}
    extra = []
    for node in model.graph.node:
        key = (node.domain, node.op_type)
        if node.domain in _ONNX_DOMAINS or key in known:
            continue
        known.add(key)
        extra.append(type(node.op_type, (_OneNodeInOnnxruntime,), {"op_domain": node.domain}))
    return [*REFERENCE_OPS, *extra]
