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


def test_external_block_quantized_weights_name_dequantize_nbits(tmp_path, capsys):
    """A blocked UINT4 DequantizeLinear with zero points (onnxruntime-genai's asymmetric QDQ
    int4): requantize does not rewrite block quantization, and fold-constants does not read
    weights in an external data file; dequantize-nbits does both, and `--auto` runs it."""
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
    assert names == {"dequantize-nbits"}
    assert any("block quantization" in r.hint for r in node.reasons)
    out = tmp_path / "out" / "m.onnx"
    out.parent.mkdir()
    assert main([str(path), "-o", str(out), "--auto", "--target", "rtx-1"]) == 0
    assert "1 before → 0 after" in capsys.readouterr().err
    # inline, the same weights are folded too: fold-constants reads them
    report = check(inline, target="rtx-1", backend="static")
    assert {"fold-constants", "dequantize-nbits"} <= {
        f.name for f in report.unsupported_nodes[0].fixes
    }


def _cls_token_head(batch) -> onnx.ModelProto:
    """TorchScript's `cls.expand(batch, -1, -1)` computes the Expand's shape through
    ConstantOfShape/Equal/Where, which ONNX's inference does not evaluate: the token count,
    and the channel dim a Reshape(…, [batch, -1, 4, 4]) gives a ConvTranspose, are lost.
    With a static batch every input of the Expand is a build-time constant."""

    def ints(name, values):
        return numpy_helper.from_array(np.array(values, np.int64), name)

    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.random((1, 1, 32)).astype(np.float32), "cls"),
        ints("c", [1, -1, -1]),
        ints("three", [3]),
        ints("m1", -1),
        ints("st", [1]),
        ints("en", [2**62]),
        ints("ax", [1]),
        ints("zero", 0),
        ints("ax0", [0]),
        ints("rest", [-1, 4, 4]),
        numpy_helper.from_array(rng.random((32, 8, 2, 2)).astype(np.float32), "w"),
    ]
    one = numpy_helper.from_array(np.array([1], np.int64))
    nodes = [
        helper.make_node("ConstantOfShape", ["three"], ["ones"], value=one),
        helper.make_node("Mul", ["ones", "m1"], ["neg"]),
        helper.make_node("Equal", ["c", "neg"], ["eq"]),
        helper.make_node("Where", ["eq", "ones", "c"], ["tgt0"]),
        # the batch: Shape(x)[0] (static or not), then [batch, 1, 32]
        helper.make_node("Shape", ["x"], ["xs"]),
        helper.make_node("Gather", ["xs", "zero"], ["b"], axis=0),
        helper.make_node("Unsqueeze", ["b", "ax0"], ["b1"]),
        helper.make_node("Slice", ["tgt0", "st", "en", "ax0"], ["tail"]),
        helper.make_node("Concat", ["b1", "tail"], ["tgt"], axis=0),
        helper.make_node("Expand", ["cls", "tgt"], ["clse"]),
        helper.make_node("Concat", ["clse", "x"], ["cat"], axis=1),
        helper.make_node("Slice", ["cat", "st", "en", "ax"], ["tok"]),
        helper.make_node("Transpose", ["tok"], ["t"], perm=[0, 2, 1]),
        helper.make_node("Concat", ["b1", "rest"], ["shape"], axis=0),
        helper.make_node("Reshape", ["t", "shape"], ["r"]),
        helper.make_node("ConvTranspose", ["r", "w"], ["y"], strides=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 16, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 8, 8, 8])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def test_fold_constants_is_named_for_a_shape_lost_in_a_constant_computation(tmp_path, capsys):
    report = check(_cls_token_head(1), target="rtx-1", backend="static")
    (node,) = report.unsupported_nodes
    assert node.op_type == "ConvTranspose"
    assert ("rewrite", "fold-constants") in [(f.kind, f.name) for f in node.fixes]
    assert any("Expand 'clse'" in r.hint for r in node.reasons)
    src, out = tmp_path / "m.onnx", tmp_path / "out.onnx"
    onnx.save(_cls_token_head(1), src)
    assert main([str(src), "-o", str(out), "--auto", "--target", "rtx-1"]) == 0
    assert "1 before → 0 after" in capsys.readouterr().err


def test_fold_constants_is_not_named_where_the_shape_depends_on_an_input():
    """With a dynamic batch the Expand reads the input's shape: nothing to fold."""
    report = check(_cls_token_head("N"), target="rtx-1", backend="static")
    fixes = {f.name for node in report.unsupported_nodes for f in node.fixes}
    assert "fold-constants" not in fixes


def _attention(present_used: bool) -> onnx.ModelProto:
    """com.microsoft Attention on (1, 4, 32) hidden states, 2 heads; its present state a
    graph output (onnxruntime's optimizer on a Whisper decoder with past) or unused."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((32, 96)).astype(np.float32), "w"),
        numpy_helper.from_array(np.zeros(96, np.float32), "b"),
    ]
    outputs = ["y", "present"] if present_used else ["y"]
    node = helper.make_node(
        "Attention", ["x", "w", "b"], outputs, domain="com.microsoft", num_heads=2
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 32])]
        + (
            [helper.make_tensor_value_info("present", TensorProto.FLOAT, [2, 1, 2, 4, 16])]
            if present_used
            else []
        ),
        inits,
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )


def test_decompose_contrib_is_not_named_for_an_attention_whose_present_state_is_read():
    fixes = lambda model: {  # noqa: E731
        f.name
        for n in check(model, target="rtx-1", backend="static").unsupported_nodes
        for f in n.fixes
    }
    assert "decompose-contrib" in fixes(_attention(present_used=False))
    report = check(_attention(present_used=True), target="rtx-1", backend="static")
    (node,) = report.unsupported_nodes
    assert "decompose-contrib" not in {f.name for f in node.fixes}
    assert any("output 1 ('present') is used" in r.hint for r in node.reasons)
