"""The declaration API: nodes, attributes, reference op, catalog rules."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from trtforge.plugins import (
    AttrSpec,
    PluginSpec,
    TensorSpec,
    Tolerance,
    all_plugins,
    catalog,
    find_plugin,
)


def test_builtins_declared():
    keys = {s.key for s in all_plugins()}
    assert ("LayerNorm", "1", "trtforge") in keys
    assert ("RMSNorm", "1", "trtforge") in keys
    assert find_plugin("LayerNorm").inputs[2].name == "beta"
    assert find_plugin("RMSNorm", "2") is None
    assert find_plugin("RMSNorm", namespace="other") is None


def test_make_node_types_and_domain():
    spec = find_plugin("LayerNorm")
    node = spec.make_node(["x", "g", "b"], ["y"], name="ln0", epsilon=1e-3, axis=2)
    assert (node.op_type, node.domain, node.name) == ("LayerNorm", "trtforge", "ln0")
    attrs = {a.name: a for a in node.attribute}
    assert attrs["epsilon"].type == onnx.AttributeProto.FLOAT and attrs[
        "epsilon"
    ].f == pytest.approx(1e-3)
    assert attrs["axis"].type == onnx.AttributeProto.INT and attrs["axis"].i == 2
    assert "plugin_version" not in attrs  # version "1" is the parser's default
    assert spec.matches_node(node)
    assert catalog.find_for_node(node) is spec
    defaults = spec.make_node(["x", "g", "b"], ["y"])
    assert {a.name: helper.get_attribute_value(a) for a in defaults.attribute}["axis"] == -1


def test_make_node_rejects_bad_input():
    spec = find_plugin("RMSNorm")
    with pytest.raises(ValueError, match="unknown attribute"):
        spec.make_node(["x", "g"], ["y"], eps=1.0)
    with pytest.raises(ValueError, match="expected 2 inputs"):
        spec.make_node(["x"], ["y"])


def test_plugin_version_written_when_not_1():
    spec = PluginSpec(
        name="Thing",
        version="2",
        namespace="acme",
        inputs=(TensorSpec("x"),),
        outputs=(TensorSpec("y"),),
        attributes=(AttrSpec("k", "int", 3),),
        type_combinations=(("float32", "float32"),),
        tolerances={"float32": Tolerance(0, 0)},
        reference=lambda inputs, k: [inputs[0] * k],
    )
    node = spec.make_node(["x"], ["y"])
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["plugin_version"] == b"2"
    assert spec.matches_node(node)
    assert spec.node_attrs(node) == {"k": 3}


def test_spec_validation():
    with pytest.raises(ValueError, match="entries"):
        PluginSpec(
            "A",
            "1",
            "n",
            (TensorSpec("x"),),
            (TensorSpec("y"),),
            (),
            (("float32",),),
            {},
            lambda i: i,
        )
    with pytest.raises(ValueError, match="unknown type"):
        AttrSpec("a", "double", 1.0)


@pytest.mark.parametrize("name", ["LayerNorm", "RMSNorm"])
def test_reference_evaluator_runs_plugin_nodes(name):
    spec = find_plugin(name)
    n_in = len(spec.inputs)
    node = spec.make_node([t.name for t in spec.inputs], ["Y"], epsilon=1e-4, axis=1)
    shape = (3, 4, 5)
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, shape)] + [
        helper.make_tensor_value_info(t.name, TensorProto.FLOAT, (4, 5)) for t in spec.inputs[1:]
    ]
    graph = helper.make_graph(
        [node], "g", inputs, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, shape)]
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("trtforge", 1)]
    )
    rng = np.random.default_rng(0)
    feeds = {"X": rng.normal(2, 3, shape).astype(np.float32)}
    for t in spec.inputs[1:]:
        feeds[t.name] = rng.normal(1, 0.5, (4, 5)).astype(np.float32)
    (y,) = ReferenceEvaluator(model, new_ops=[spec.reference_op()]).run(None, feeds)
    x2 = feeds["X"].astype(np.float64).reshape(3, 20)
    if name == "LayerNorm":
        d = x2 - x2.mean(1, keepdims=True)
        expect = d / np.sqrt((d * d).mean(1, keepdims=True) + 1e-4)
        expect = expect * feeds["gamma"].reshape(1, 20) + feeds["beta"].reshape(1, 20)
    else:
        expect = (
            x2 / np.sqrt((x2 * x2).mean(1, keepdims=True) + 1e-4) * feeds["gamma"].reshape(1, 20)
        )
    np.testing.assert_allclose(y.reshape(3, 20), expect, rtol=1e-5, atol=1e-5)
    assert n_in == len(feeds)


@pytest.mark.parametrize("spec", all_plugins(), ids=lambda s: s.name)
def test_decomposition_declares_the_same_attributes(spec):
    fn = spec.function_proto()
    if fn is None:
        pytest.skip("no decomposition declared")
    declared = {a.name: a.default for a in spec.attributes}
    in_fn = {a.name: helper.get_attribute_value(a) for a in fn.attribute_proto}
    assert set(in_fn) == set(declared)
    for k, v in declared.items():
        assert in_fn[k] == pytest.approx(v, rel=1e-6)
    assert list(fn.input) == [t.name for t in spec.inputs]
    assert list(fn.output) == [t.name for t in spec.outputs]


def test_duplicate_declarations_rejected(monkeypatch, tmp_path):
    import sys
    import types

    spec = find_plugin("RMSNorm")
    for modname in ("trtforge.plugins.decls.dup_a", "trtforge.plugins.decls.dup_b"):
        mod = types.ModuleType(modname)
        mod.SPEC = spec
        monkeypatch.setitem(sys.modules, modname, mod)
    monkeypatch.setattr(
        catalog,
        "_decl_modules",
        lambda: ["trtforge.plugins.decls.dup_a", "trtforge.plugins.decls.dup_b"],
    )
    catalog._load_with_modules.cache_clear()
    try:
        with pytest.raises(catalog.DuplicatePluginError, match="declared twice"):
            catalog.all_plugins()
    finally:
        monkeypatch.undo()
        catalog._load_with_modules.cache_clear()


def test_declaration_modules_import_only_stdlib():
    """The build's code generator imports declarations without onnx/numpy installed."""
    import subprocess
    import sys
    from pathlib import Path

    repo_plugins = Path(__file__).resolve().parents[2] / "plugins"  # the source tree
    code = (
        "import sys, types, builtins\n"
        "real = builtins.__import__\n"
        "def guard(name, *a, **k):\n"
        "    if name.split('.')[0] in ('numpy', 'onnx', 'onnxruntime', 'tensorrt',\n"
        "                              'tensorrt_rtx', 'cupy', 'torch'):\n"
        "        raise ImportError('blocked ' + name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = guard\n"
        f"sys.argv = ['codegen', '--repo', {str(repo_plugins.parent)!r}, '--out', sys.argv[1]]\n"
        f"exec(open({str(repo_plugins / '_codegen.py')!r}).read())\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([sys.executable, "-c", code, d], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert (Path(d) / "decl" / "LayerNorm_v1.h").is_file()
        assert "trtforge RMSNorm 1" in (Path(d) / "plugins.txt").read_text()
