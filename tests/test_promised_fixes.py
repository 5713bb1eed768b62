"""trt-check names a rewrite pass as a node's fix only where the pass would change the node
(`RewritePass.leaves`, `fixability.foldable`): a fix `--auto` runs and skips left users with
"N before → N after" and exit 0 (onnxruntime-genai's quantized and windowed KV caches, blocked
UINT4 weights with zero points in an external data file)."""

from __future__ import annotations

import numpy as np
import onnx
from _gqa_models import GQAConfig, gqa_model
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import check
from trtforge.analyzer.cli.rewrite import main

FIX = ("rewrite", "decompose-gqa")


def _gqa_fixes(model: onnx.ModelProto) -> tuple[list, str]:
    report = check(model, target="rtx-1", backend="static")
    (node,) = report.unsupported_nodes
    return [(f.kind, f.name) for f in node.fixes], " ".join(r.hint for r in node.reasons)


def _with(model: onnx.ModelProto, **attrs) -> onnx.ModelProto:
    node = model.graph.node[0]
    node.attribute.extend(helper.make_attribute(k, v) for k, v in attrs.items())
    return model


def test_decompose_gqa_is_named_where_it_decomposes():
    fixes, _ = _gqa_fixes(gqa_model(GQAConfig()))
    assert FIX in fixes


def test_a_windowed_cache_names_no_decomposition(tmp_path, capsys):
    model = _with(gqa_model(GQAConfig(window=4)), sliding_window_cache=1)
    fixes, hints = _gqa_fixes(model)
    assert FIX not in fixes
    assert "--decompose-gqa leaves this node (sliding_window_cache=1" in hints
    src = tmp_path / "w.onnx"
    onnx.save(model, src)
    assert main([str(src), "-o", str(tmp_path / "out.onnx"), "--auto", "--target", "rtx-1"]) == 0
    assert "passes suggested: none" in capsys.readouterr().err


def test_a_quantized_kv_cache_names_no_decomposition():
    model = _with(gqa_model(GQAConfig()), k_quant_type="PER_TENSOR", v_quant_type="PER_TENSOR")
    fixes, hints = _gqa_fixes(model)
    assert FIX not in fixes and "a quantized KV cache is not decomposed" in hints


def test_external_block_quantized_weights_name_neither_fold_nor_requantize(tmp_path):
    """A blocked UINT4 DequantizeLinear with zero points (onnxruntime-genai's asymmetric QDQ
    int4): requantize does not rewrite block quantization, and fold-constants does not read
    weights in an external data file."""
    rng = np.random.default_rng(0)
    k, n, block = 32, 16, 32

    def u4(name, dims, values):
        v = np.asarray(values, np.uint8).ravel()
        packed = (v[0::2] | (v[1::2] << 4)).tobytes()
        return helper.make_tensor(name, TensorProto.UINT4, dims, packed, raw=True)

    inits = [
        u4("w", [k, n], rng.integers(0, 16, k * n)),
        u4("zp", [k // block, n], [8] * (k // block * n)),
        numpy_helper.from_array((rng.random((k // block, n)) * 0.01).astype(np.float32), "s"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["w", "s", "zp"], ["wf"], axis=0, block_size=block),
        helper.make_node("MatMul", ["x", "wf"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", n])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    inline = onnx.ModelProto()
    inline.CopyFrom(model)
    path = tmp_path / "m.onnx"
    onnx.save(model, path, save_as_external_data=True, size_threshold=0, location="m.data")
    report = check(str(path), target="rtx-1", backend="static")
    (node,) = report.unsupported_nodes
    names = {f.name for f in node.fixes}
    assert not names & {"fold-constants", "requantize"}
    assert any("block quantization" in r.hint for r in node.reasons)
    # inline, the same weights are folded: fold-constants reads them
    report = check(inline, target="rtx-1", backend="static")
    assert "fold-constants" in {f.name for f in report.unsupported_nodes[0].fixes}
