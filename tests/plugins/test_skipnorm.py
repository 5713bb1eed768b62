"""SkipLayerNorm / SkipRMSNorm (plugins/decls/skipnorm.py) against onnxruntime's own contrib ops
com.microsoft SkipLayerNormalization / SkipSimplifiedLayerNormalization on the CPU, against
their ONNX decompositions, and as the target of `decompose-contrib --skipnorm-impl plugin`.
(The CUDA kernel against the same reference: tests/plugins/test_kernels_gpu.py.)"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
from trtforge.analyzer.rewrite.verify import verify
from trtforge.analyzer.targets import parse_target
from trtforge.plugins import catalog
from trtforge.plugins.decls import skipnorm

ORT_OP = {
    "SkipLayerNorm": "SkipLayerNormalization",
    "SkipRMSNorm": "SkipSimplifiedLayerNormalization",
}
SPECS = {s.name: s for s in skipnorm.SPECS}
X_SHAPE = (2, 5, 24)


def _ort_model(op, skip_shape, with_beta, with_bias, epsilon, hidden=24):
    """One contrib node with outputs (output, mean, inv_std_var, input_skip_bias_sum); only
    output and the sum are graph outputs. Optional inputs absent as empty names."""
    rms = "Simplified" in op
    names = ["x", "skip", "gamma"]
    if not rms:
        names.append("beta" if with_beta else "")
    names.append("bias" if with_bias else "")
    while names[-1] == "":
        names.pop()
    attrs = {} if epsilon is None else {"epsilon": epsilon}
    node = helper.make_node(
        op, names, ["y", "", "", "sum"], domain="com.microsoft", name="n", **attrs
    )
    f = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("x", f, X_SHAPE),
        helper.make_tensor_value_info("skip", f, skip_shape),
    ]
    rng = np.random.default_rng(len(skip_shape) + 2 * with_beta + with_bias)
    inits = [helper.make_tensor("gamma", f, [hidden], rng.normal(1, 0.5, hidden).tolist())]
    if "beta" in names:
        inits.append(helper.make_tensor("beta", f, [hidden], rng.normal(0, 1, hidden).tolist()))
    if "bias" in names:
        inits.append(helper.make_tensor("bias", f, [hidden], rng.normal(0, 1, hidden).tolist()))
    outputs = [helper.make_tensor_value_info(n, f, X_SHAPE) for n in ("y", "sum")]
    graph = helper.make_graph([node], "g", inputs, outputs, inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        ir_version=9,
    )
    onnx.checker.check_model(model)
    return model


def _run_ort(model, feeds):
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _feeds(skip_shape, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(3, 2, X_SHAPE).astype(np.float32),
        "skip": rng.normal(0, 1, skip_shape).astype(np.float32),
    }


SKIP_SHAPES = [X_SHAPE, (1, 5, 24), (5, 24)]


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("skip_shape", SKIP_SHAPES, ids=str)
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("epsilon", [1e-5, None], ids=["eps1e-5", "default-eps"])
def test_reference_matches_onnxruntime_contrib_op(name, skip_shape, with_bias, epsilon):
    """The NumPy reference (both outputs) equals onnxruntime's kernel, beta/bias absent or
    given, skip broadcast over leading dims, epsilon given or onnxruntime's default."""
    spec = SPECS[name]
    rms = name == "SkipRMSNorm"
    for with_beta in [False] if rms else [True, False]:
        model = _ort_model(ORT_OP[name], skip_shape, with_beta, with_bias, epsilon)
        feeds = _feeds(skip_shape)
        y, s = _run_ort(model, feeds)
        inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
        zeros = np.zeros(24, np.float32)
        args = [feeds["x"], feeds["skip"], inits["gamma"]]
        if not rms:
            args.append(inits.get("beta", zeros))
        args.append(inits.get("bias", zeros))
        eps = skipnorm.DEFAULT_EPSILON if epsilon is None else epsilon
        ref_y, ref_s = spec.run_reference(args, {"epsilon": eps})
        tol = spec.tolerances["float32"]
        np.testing.assert_allclose(ref_s, s, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(ref_y, y, rtol=tol.rtol, atol=tol.atol)


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("skip_shape", SKIP_SHAPES, ids=str)
def test_reference_matches_decomposition(name, skip_shape):
    """The declaration's ONNX function, run by onnxruntime, computes the reference."""
    import onnxruntime as ort

    spec = SPECS[name]
    f = TensorProto.FLOAT
    node = spec.make_node([t.name for t in spec.inputs], ["Y", "S"], epsilon=1e-4)
    shapes = {"X": X_SHAPE, "skip": skip_shape}
    inputs = [
        helper.make_tensor_value_info(t.name, f, shapes.get(t.name, (24,))) for t in spec.inputs
    ]
    outputs = [helper.make_tensor_value_info(n, f, X_SHAPE) for n in ("Y", "S")]
    model = helper.make_model(
        helper.make_graph([node], "g", inputs, outputs),
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(spec.namespace, 1)],
        functions=[spec.function_proto()],
        ir_version=9,
    )
    rng = np.random.default_rng(3)
    base = _feeds(skip_shape, seed=4)
    feeds = {"X": base["x"], "skip": base["skip"]}
    for t in spec.inputs[2:]:
        feeds[t.name] = rng.normal(1, 0.5, 24).astype(np.float32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, feeds)
    ref = spec.run_reference(list(feeds.values()), {"epsilon": 1e-4})
    tol = spec.tolerances["float32"]
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(g, r, rtol=tol.rtol, atol=tol.atol)


def _rewrite(model, impl):
    options = RewriteOptions(parse_target("rtx-1.7"), skipnorm_impl=impl)
    return rewrite_model(model, ["decompose-contrib"], options)


@pytest.mark.parametrize("op", sorted(ORT_OP.values()))
@pytest.mark.parametrize("skip_shape", [X_SHAPE, (5, 24)], ids=str)
@pytest.mark.parametrize("with_bias", [True, False])
def test_rewrite_targets_the_plugin(op, skip_shape, with_bias):
    """--skipnorm-impl plugin: one plugin node with every input (zeros for an absent beta/bias)
    and both outputs; the written model passes onnx.checker and computes what onnxruntime's
    contrib op computes (the plugin node evaluated by its reference)."""
    plugin = next(k for k, v in ORT_OP.items() if v == op)
    original = _ort_model(op, skip_shape, with_beta=False, with_bias=with_bias, epsilon=1e-5)
    result = _rewrite(original, "plugin")
    nodes = list(result.proto.graph.node)
    assert [n.op_type for n in nodes] == [plugin], [n.op_type for n in nodes]
    assert nodes[0].domain == "trtforge"
    assert len(nodes[0].input) == len(SPECS[plugin].inputs)
    assert list(nodes[0].output)[0] == "y" and list(nodes[0].output)[1] == "sum"
    eps = next(a for a in nodes[0].attribute if a.name == "epsilon")
    assert eps.f == pytest.approx(1e-5)
    onnx.checker.check_model(result.proto)
    check = verify(original, result.proto, seed=1)
    assert check.ok, check.describe_worst()


def test_rewrite_sum_output_unused_gets_its_own_tensor():
    """A node without the sum output still gets a (new) tensor for the plugin's second one."""
    model = _ort_model("SkipLayerNormalization", X_SHAPE, True, True, 1e-5)
    del model.graph.output[1]
    model.graph.node[0].output[3] = ""
    result = _rewrite(model, "plugin")
    (node,) = result.proto.graph.node
    assert node.output[1] and node.output[1] != node.output[0]
    onnx.checker.check_model(result.proto)
    check = verify(model, result.proto, seed=2)
    assert check.ok, check.describe_worst()


def test_default_impl_is_add_and_norm():
    model = _ort_model("SkipLayerNormalization", X_SHAPE, True, True, 1e-5)
    ops = {n.op_type for n in _rewrite(model, "auto").proto.graph.node}
    assert "SkipLayerNorm" not in ops and "LayerNormalization" in ops and "Add" in ops


def test_plugin_unfit_falls_back_to_add_and_norm(monkeypatch):
    """Without the plugin SDK (or for a node the plugin cannot serve) the Add + norm form is
    written, still equal to onnxruntime's result."""
    from trtforge.analyzer.rewrite import emit

    model = _ort_model("SkipSimplifiedLayerNormalization", X_SHAPE, False, True, 1e-5)
    monkeypatch.setattr(emit, "_catalog", lambda: None)
    result = _rewrite(model, "plugin")
    assert "SkipRMSNorm" not in {n.op_type for n in result.proto.graph.node}
    assert verify(model, result.proto, seed=3).ok


def test_skip_plugin_unfit_reasons():
    import onnx_graphsurgeon as gs

    from trtforge.analyzer.rewrite.passes.decompose_contrib import skip_plugin_unfit

    def node(x_dtype, skip_shape, gamma_dtype=np.float32):
        x = gs.Variable("x", dtype=x_dtype, shape=list(X_SHAPE))
        skip = gs.Variable("s", dtype=x_dtype, shape=list(skip_shape))
        gamma = gs.Constant("g", np.ones(24, gamma_dtype))
        return gs.Node("SkipSimplifiedLayerNormalization", inputs=[x, skip, gamma], outputs=[])

    assert skip_plugin_unfit(node(np.float32, X_SHAPE)) is None
    assert skip_plugin_unfit(node(np.float16, (5, 24))) is None
    assert "trailing dims" in skip_plugin_unfit(node(np.float32, (2, 1, 24)))
    assert "float32, float16 or bfloat16" in skip_plugin_unfit(node(np.float64, X_SHAPE))
    assert "gamma" in skip_plugin_unfit(node(np.float32, X_SHAPE, gamma_dtype=np.float16))


def test_declared_and_built_as_plugins():
    for name in SPECS:
        spec = catalog.find_plugin(name, "1", "trtforge")
        assert spec is not None and spec.decomposition
        assert [t.name for t in spec.outputs] == ["Y", "S"]


@pytest.mark.parser
@pytest.mark.parametrize("op", sorted(ORT_OP.values()))
@pytest.mark.parametrize("backend", ["native", "python"])
def test_rewritten_model_builds_with_tensorrt_rtx(rtx, native_lib, tmp_path, op, backend):
    """A float16 onnxruntime Skip*LayerNormalization model (dynamic batch and sequence),
    rewritten with `--skipnorm-impl plugin`, parses with TensorRT-RTX and builds for SM89 with
    the fused plugin, through the native library and through the Python plugin."""
    import json

    from _plugin_helpers import run_cli

    hidden = 64
    f16 = TensorProto.FLOAT16
    rms = "Simplified" in op
    names = ["x", "skip", "gamma"] + ([] if rms else ["beta"])
    node = helper.make_node(op, names, ["y", "", "", "sum"], domain="com.microsoft", epsilon=1e-5)
    rng = np.random.default_rng(0)
    inits = [
        onnx.numpy_helper.from_array(rng.normal(1, 0.1, hidden).astype(np.float16), n)
        for n in names[2:]
    ]
    dims = ["batch", "seq", hidden]
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(n, f16, dims) for n in ("x", "skip")],
        [helper.make_tensor_value_info(n, f16, dims) for n in ("y", "sum")],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        ir_version=9,
    )
    src, out, engine = tmp_path / "m.onnx", tmp_path / "m.trt.onnx", tmp_path / "m.plan"
    onnx.save(model, str(src))
    proc = run_cli(
        "trtforge.analyzer.cli.rewrite",
        str(src),
        "-o",
        str(out),
        "--decompose-contrib",
        "--skipnorm-impl",
        "plugin",
        "--target",
        "rtx-1.7",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plugin = "SkipRMSNorm" if rms else "SkipLayerNorm"
    assert [n.op_type for n in onnx.load(str(out)).graph.node] == [plugin]
    proc = run_cli(
        "trtforge.plugins.cli.build",
        str(out),
        "-o",
        str(engine),
        "--compute-capability",
        "89",
        "--plugin-backend",
        backend,
        "--workspace",
        "256",
        "--shapes",
        f"x:1x1x{hidden},2x16x{hidden},4x64x{hidden}",
        "--shapes",
        f"skip:1x1x{hidden},2x16x{hidden},4x64x{hidden}",
        env={"TRTFORGE_TRT_FLAVOUR": "tensorrt_rtx"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    side = json.loads((tmp_path / "m.plan.json").read_text())
    assert {p["name"] for p in side["plugins"]} == {plugin}
