"""fuse-layernorm / fuse-rmsnorm when ONNX shape inference lost the input's shape (TorchScript
exports at opset 11-13): the normalized width comes from gamma/beta."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer.cli.rewrite import main

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "hf_legacy"


def _lost_shape_model(opset: int, rms: bool = False, gamma_via_identity: bool = False):
    """x reaches the norm through a Reshape to its own runtime shape: inference loses it."""
    rng = np.random.default_rng(opset)
    inits = [
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "gamma"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "beta"),
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
        numpy_helper.from_array(np.array(1e-5, np.float32), "eps"),
    ]
    nodes = [
        helper.make_node("Shape", ["inp"], ["shp"]),
        helper.make_node("Reshape", ["inp", "shp"], ["x"]),
    ]
    if rms:
        nodes += [
            helper.make_node("Pow", ["x", "two"], ["p"]),
            helper.make_node("ReduceMean", ["p"], ["v"], axes=[-1]),
            helper.make_node("Add", ["v", "eps"], ["ve"]),
            helper.make_node("Sqrt", ["ve"], ["s"]),
            helper.make_node("Div", ["x", "s"], ["n"]),
        ]
    else:
        nodes += [
            helper.make_node("ReduceMean", ["x"], ["m"], axes=[-1]),
            helper.make_node("Sub", ["x", "m"], ["d"]),
            helper.make_node("Pow", ["d", "two"], ["p"]),
            helper.make_node("ReduceMean", ["p"], ["v"], axes=[-1]),
            helper.make_node("Add", ["v", "eps"], ["ve"]),
            helper.make_node("Sqrt", ["ve"], ["s"]),
            helper.make_node("Div", ["d", "s"], ["n"]),
        ]
    gamma = "gamma"
    if gamma_via_identity:  # TorchScript's deduplicated initializers
        nodes.append(helper.make_node("Identity", ["gamma"], ["gamma_copy"]))
        gamma = "gamma_copy"
    nodes.append(helper.make_node("Mul", ["n", gamma], ["g"]))
    nodes.append(helper.make_node("Add", ["g", "beta"], ["y"]))
    graph = helper.make_graph(
        nodes,
        "lost",
        [helper.make_tensor_value_info("inp", TensorProto.FLOAT, ["batch", "seq", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", 8])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    inferred = onnx.shape_inference.infer_shapes(model)
    x_info = [v for v in inferred.graph.value_info if v.name == "x"]
    assert not x_info or not x_info[0].type.tensor_type.HasField("shape")  # the shape is lost
    return model


@pytest.mark.parametrize("opset", [11, 12, 13])
@pytest.mark.parametrize("identity", [False, True])
def test_layernorm_width_from_gamma_beta(rw, opset: int, identity: bool) -> None:
    model = _lost_shape_model(opset, gamma_via_identity=identity)
    result = rw.apply(model, "fuse-layernorm")
    assert result.passes["fuse-layernorm"].applied == 1, result.passes["fuse-layernorm"].skips
    assert rw.ops(result.proto)["LayerNorm"] == 1 and "ReduceMean" not in rw.ops(result.proto)
    rw.same(model, result.proto, dims={"batch": 2, "seq": 3})
    again = rw.apply(result.proto, "fuse-layernorm")  # idempotent
    assert not again.changed


def test_layernorm_onnx_impl_converts_and_fuses(rw) -> None:
    model = _lost_shape_model(12)
    result = rw.apply(model, "fuse-layernorm", layernorm_impl="onnx")
    assert rw.ops(result.proto)["LayerNormalization"] == 1
    rw.same(model, result.proto, dims={"batch": 2, "seq": 3})


def test_rmsnorm_width_from_gamma(rw) -> None:
    model = _lost_shape_model(13, rms=True)
    # beta is not part of an RMSNorm: the Add stays after the fused node
    result = rw.apply(model, "fuse-rmsnorm")
    assert result.passes["fuse-rmsnorm"].applied == 1, result.passes["fuse-rmsnorm"].skips
    rw.same(model, result.proto, dims={"batch": 2, "seq": 3})


def test_scalar_gamma_says_why(rw) -> None:
    """A scalar gamma carries no width: the match is skipped with the reason."""
    model = _lost_shape_model(12)
    for init in model.graph.initializer:
        if init.name in ("gamma", "beta"):
            init.CopyFrom(numpy_helper.from_array(np.array([1.5], np.float32), init.name))
    result = rw.apply(model, "fuse-layernorm")
    (skip,) = result.passes["fuse-layernorm"].skips
    assert "not static" in skip.reason and not result.changed


MANIFEST = json.loads((LEGACY / "manifest.json").read_text())["models"]


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_torchscript_legacy_exports_fuse_every_layernorm(tmp_path, name: str) -> None:
    """Real TorchScript exports at opset 11-13 (BERT with token_type_ids, GPT-2, ViT,
    DistilBERT): every LayerNorm fused, verified on generated inputs."""
    expected = MANIFEST[name]["expected_norms"]
    out = tmp_path / "out.onnx"
    report = tmp_path / "r.json"
    args = [str(LEGACY / name), "-o", str(out), "--fuse-layernorm", "--report", str(report)]
    assert main([*args, "--target", "rtx-1", "-q"]) == 0
    data = json.loads(report.read_text())
    assert data["passes"]["fuse-layernorm"]["applied"] == expected
    assert data["verification"]["ok"]
    ops = Counter(n.op_type for n in onnx.load(out).graph.node)
    assert ops["LayerNorm"] == expected and ops["ReduceMean"] == 0


def test_a_huge_declared_width_is_a_skip_not_a_crash(tmp_path):
    """Found by benchmarks/fuzz.py: a damaged dim of 2^62 on the normalized axis made the pass
    allocate γ/β of that size (exit 3)."""
    import onnx.parser

    from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
    from trtforge.analyzer.targets import parse_target

    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
g (float[2, 3, 4611686018427387904] x) => (float[2, 3, 4611686018427387904] y)
  <float eps = {1e-5}, float two = {2.0}> {
    m = ReduceMean <axes = [-1]> (x)
    d = Sub(x, m)
    p = Pow(d, two)
    v = ReduceMean <axes = [-1]> (p)
    e = Add(v, eps)
    s = Sqrt(e)
    y = Div(d, s)
}"""
    )
    result = rewrite_model(model, ["fuse-layernorm"], RewriteOptions(parse_target("trt-10")))
    assert not result.changed
    (skip,) = result.passes["fuse-layernorm"].skips
    assert "more than" in skip.reason
