"""The parser backend (`--backend parser`) and the TensorRT adapter, against the real parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from _parser_helpers import HAS_RTX, requires_parser, run_cli, save_text_model

from trtforge.analyzer.api import check

pytestmark = [requires_parser, pytest.mark.parser]

CHECK = "trtforge.analyzer.cli.check"

#: Add, Det (no importer: the parser's checker rejects it), Relu, an unknown custom op (no
#: plugin), Sigmoid. The parser stops at Det; the nodes after it still need verdicts.
TWO_FAILURES = """
<ir_version: 8, opset_import: ["" : 17, "my.ops" : 1]>
g (float[2,3,3] x, float[2,3,3] y) => (float[2] z, float[2,3,3] w)
{
  a = Add(x, y)
  z = Det(a)
  b = Relu(a)
  c = my.ops.NoSuchOp(b)
  w = Sigmoid(b)
}
"""

IF_BODY = """
<ir_version: 8, opset_import: ["" : 17, "my.ops" : 1]>
g (bool cond, float[2,3] x) => (float[2,3] z)
{
  a = Relu(x)
  z = If(cond) <
    then_branch = t () => (float[2,3] o) { o = my.ops.NoSuchOp(a) },
    else_branch = e () => (float[2,3] o) { o = Tanh(a) }
  >
}
"""

UINT16_INPUT = """
<ir_version: 8, opset_import: ["" : 17]>
g (uint16[4] x) => (uint16[4] y)
{
  y = Identity(x)
}
"""

GOOD = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[2,3] x) => (float[2,3] y)
{
  a = Relu(x)
  y = Sigmoid(a)
}
"""


def _save(tmp_path: Path, text: str, name: str = "m.onnx") -> Path:
    return save_text_model(tmp_path, text, name)


def _check(path: Path):
    from trtforge.analyzer.api import check

    return check(path, backend="parser")


# -- the adapter -----------------------------------------------------------------------------


def test_adapter_names_the_installed_parser():
    from trtforge.analyzer import trt

    target = trt.target()
    assert target is not None and target.line in ("trt-10", "trt-11", "rtx-1")
    assert trt.version() and trt.version().split(".")[0] == str(target.major)
    assert trt.parser_name().endswith("ONNX parser")
    assert ".".join(trt.version().split(".")[:2]) in trt.parser_name()


@pytest.mark.skipif(not HAS_RTX, reason="TensorRT-RTX only")
def test_rtx_library_fix_makes_unversioned_name_loadable(tmp_path):
    from trtforge.analyzer import trt

    if trt.flavour() != "rtx":
        pytest.skip("tensorrt is preferred over tensorrt_rtx here")
    folder = trt.rtx_lib_dir()
    if folder is None:
        pytest.skip("this tensorrt-rtx wheel already ships libtensorrt_rtx.so")
    link = folder / trt.RTX_LINK
    assert link.is_symlink() and link.resolve().name == trt.RTX_SONAME
    assert "site-packages" not in str(folder)
    env = trt.child_env()
    assert env["LD_LIBRARY_PATH"].split(os.pathsep)[0] == str(folder)
    probe = "import ctypes; ctypes.CDLL('libtensorrt_rtx.so'); print('ok')"
    fixed = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert fixed.returncode == 0 and fixed.stdout.strip() == "ok", fixed.stderr
    bare = dict(env)
    bare["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in env["LD_LIBRARY_PATH"].split(os.pathsep) if p != str(folder)
    )
    broken = subprocess.run([sys.executable, "-c", probe], env=bare, capture_output=True)
    assert broken.returncode != 0  # what the parser's dlopen would hit without the fix


# -- per-node verdicts -----------------------------------------------------------------------


def test_every_node_gets_a_verdict_after_the_first_failure(tmp_path):
    report = _check(_save(tmp_path, TWO_FAILURES))
    assert report.backend == "parser"
    assert [n.status for n in report.nodes] == [
        "supported",
        "unsupported",
        "supported",
        "unsupported",
        "supported",
    ]
    det, custom = report.nodes[1], report.nodes[3]
    assert [f.code for f in det.errors] == ["parser/UNSUPPORTED_NODE"]
    assert "checkDet" in det.errors[0].message
    assert custom.errors[0].code == "parser/INVALID_NODE"
    assert "Plugin not found" in custom.errors[0].message
    assert "ONNX parser" in custom.errors[0].source
    assert report.supported is False and report.exit_code == 1


def test_error_inside_an_if_body_names_the_inner_node(tmp_path):
    report = _check(_save(tmp_path, IF_BODY))
    relu, if_node = report.nodes
    assert relu.status == "supported"
    assert if_node.status == "unsupported"
    assert [f.inner for f in if_node.errors] == ["If/then_branch/NoSuchOp"]


def test_graph_level_error_leaves_nodes_unjudged(tmp_path):
    report = _check(_save(tmp_path, UINT16_INPUT))
    assert report.supported is False
    assert any("importInput" in f.message for f in report.graph_findings)
    assert [f.code for f in report.nodes[0].reasons] == ["parser/not-judged"]
    assert report.nodes[0].reasons[0].severity == "warning"


#: com.microsoft FastGelu (no importer on TensorRT-RTX: "Plugin not found"), read by a packed
#: com.microsoft Attention (which the parser refuses) and a Relu. ONNX's inference types
#: nothing after FastGelu.
AFTER_A_CONTRIB_OP = """
<ir_version: 8, opset_import: ["" : 17, "com.microsoft" : 1]>
g (float[1,8,32] x) => (float[1,8,32] a, float[1,8,32] r)
  <float[32,96] w = {{{}}}, float[96] b = {{{}}}, float[32] gb = {{{}}}>
{{
  g = com.microsoft.FastGelu(x, gb)
  a = com.microsoft.Attention<num_heads = 4>(g, w, b)
  r = Relu(g)
}}
""".format(",".join(["0.01"] * 3072), ",".join(["0.0"] * 96), ",".join(["0.0"] * 32))


def test_nodes_after_a_refused_contrib_op_are_judged(tmp_path):
    """The outputs of onnxruntime's com.microsoft ops are untyped for ONNX, so the nodes
    reading a refused one's output could not stand in the next parse: "not judged", counted
    supported — an onnxruntime-optimized BigBird's Attention, which the parser refuses. The
    types now come from onnxruntime's symbolic shape inference where ONNX has none."""
    pytest.importorskip("onnxruntime")
    if not HAS_RTX:
        pytest.skip("FastGelu's refusal is TensorRT-RTX's")
    report = check(_save(tmp_path, AFTER_A_CONTRIB_OP), target="rtx-1", backend="parser")
    fastgelu, attention, relu = report.nodes
    assert fastgelu.status == attention.status == "unsupported"
    assert "nbDims" in attention.errors[0].message
    assert relu.status == "supported" and not relu.reasons


def test_cli_parser_backend_json(tmp_path):
    bad = run_cli(
        CHECK, str(_save(tmp_path, TWO_FAILURES)), "--backend", "parser", "--format", "json"
    )
    assert bad.returncode == 1, bad.stderr
    data = json.loads(bad.stdout)
    assert data["backend"] == "parser"
    assert data["target"].split(".")[0] in ("rtx-1", "trt-10", "trt-11")
    assert [n["status"] for n in data["nodes"]].count("unsupported") == 2
    good = run_cli(
        CHECK, str(_save(tmp_path, GOOD, "good.onnx")), "--backend", "parser", "--format", "json"
    )
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["supported"] is True


def test_external_data_is_read_by_the_parser_not_by_trt_check(tmp_path):
    import numpy as np
    from onnx import helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 64])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 64])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "ext.onnx"
    onnx.save(
        model,
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="ext.bin",
        size_threshold=0,
    )
    report = _check(path)
    assert report.supported is True
    assert report.nodes[0].status == "supported"


# -- failures of the parser process ----------------------------------------------------------


def test_parser_abort_is_recorded_and_the_pool_goes_on(tmp_path, monkeypatch):
    from trtforge.analyzer.backends.parser import ParserPool

    crash = _save(tmp_path, GOOD, "abort-me.onnx")
    good = _save(tmp_path, TWO_FAILURES, "fine.onnx")
    monkeypatch.setenv("TRTFORGE_TEST_WORKER_ABORT", "abort-me")
    with ParserPool(1) as pool:
        results = pool.run([crash, good])
    died = results[str(crash)]
    assert died.crash.startswith("parser process died (signal 6")
    assert died.supported is False
    assert all(n["status"] == "unknown" for n in died.nodes)
    assert results[str(good)].crash == ""
    assert [n["status"] for n in results[str(good)].nodes].count("unsupported") == 2


def test_crash_becomes_a_graph_finding_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("TRTFORGE_TEST_WORKER_ABORT", "abort-me")
    proc = run_cli(
        CHECK,
        str(_save(tmp_path, GOOD, "abort-me.onnx")),
        "--backend",
        "parser",
        "--format",
        "json",
    )
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert [r["code"] for r in data["graph"]["reasons"]] == ["parser/crash"]
    assert "Traceback" not in proc.stderr


#: ScatterElements with reduction="mul": the importer refuses it from a helper that names no
#: node (error node index -1) and leaves every node inside a reported subgraph.
NAMELESS_ERROR = """
<ir_version: 8, opset_import: ["" : 18]>
g (float[3,3] x, int64[2,3] i, float[2,3] u) => (float[3,3] y)
{
  a = Relu(x)
  b = ScatterElements <reduction = "mul"> (a, i, u)
  y = Sigmoid(b)
}
"""


def test_error_that_names_no_node_goes_to_the_node_being_imported(tmp_path):
    report = _check(_save(tmp_path, NAMELESS_ERROR))
    assert [n.status for n in report.nodes] == ["supported", "unsupported", "supported"]
    assert report.nodes[1].errors[0].code == "parser/UNSUPPORTED_NODE_ATTR"
    assert not report.graph_findings


CONTRIB = """
<ir_version: 8, opset_import: ["" : 17, "com.microsoft" : 1]>
g (float[2,3] x) => (float[2,3] z)
{
  a = Relu(x)
  z = com.microsoft.FastGelu(a)
}
"""


def test_parser_findings_carry_the_knowledge_base_fixes(tmp_path):
    report = _check(_save(tmp_path, CONTRIB))
    gelu = report.nodes[1]
    assert gelu.status == "unsupported"
    assert gelu.errors[0].code == "parser/INVALID_NODE"  # the parser's verdict and words
    assert "Plugin not found" in gelu.errors[0].message
    assert ("rewrite", "decompose-contrib") in {(f.kind, f.name) for f in gelu.fixes}


NESTED_IF = """
<ir_version: 8, opset_import: ["" : 17, "my.ops" : 1]>
g (bool c, float[2,3] x) => (float[2,3] z)
{
  a = Relu(x)
  z = If(c) <
    then_branch = t () => (float[2,3] o) {
      o = If(c) <
        then_branch = t2 () => (float[2,3] p) { q = Neg(a)
                                                p = my.ops.Bad(q) },
        else_branch = e2 () => (float[2,3] p) { p = Tanh(a) }
      >
    },
    else_branch = e () => (float[2,3] o) { o = Tanh(a) }
  >
}
"""


def test_nested_body_path_matches_the_static_backend(tmp_path):
    from trtforge.analyzer.api import check

    path = _save(tmp_path, NESTED_IF)
    parser = _check(path).nodes[1]
    static = check(path, target="rtx-1", backend="static").nodes[1]
    assert [f.inner for f in parser.errors] == ["If/then_branch/If/then_branch/Bad"]
    assert [f.inner for f in parser.errors] == [f.inner for f in static.errors]


#: a Range whose start and delta are the DequantizeLinear of a UINT8 constant (onnxruntime's
#: QOperator quantization of MaskFormer's sine position embedding): TensorRT refuses the
#: UINT8 DequantizeLinear, and the Range, fed its stand-in (a float network input) as a shape
#: value, fails inside TensorRT's shape analyzer
RANGE_AFTER_A_REFUSED_DQ = """
<ir_version: 8, opset_import: ["" : 13]>
g (float[b, 4, 8] x) => (float[b, 4, n] y) <uint8 cq = {1}, float cs = {1.0}, uint8 cz = {0},
                                           int64[1] i2 = {2}> {
  one = DequantizeLinear(cq, cs, cz)
  shp = Shape(x)
  hw = Gather<axis = 0>(shp, i2)
  hws = Squeeze(hw)
  limit = Cast<to = 1>(hws)
  r = Range(one, limit, one)
  y = Add(x, r)
}
"""


def test_a_shape_computed_from_a_stand_in_is_not_judged(tmp_path):
    """A node after a refused one whose only error is about its stand-in input being used
    as a shape (no shape tensor of its type; the shape analyzer's internal assertion) is "not
    judged", not refused: the refused node's real output may well be such a value."""
    if not HAS_RTX:
        pytest.skip("the internal assertion is TensorRT-RTX's")
    report = check(_save(tmp_path, RANGE_AFTER_A_REFUSED_DQ), target="rtx-1", backend="parser")
    by_op = {n.op_type: n for n in report.nodes}
    assert by_op["DequantizeLinear"].status == "unsupported"
    assert by_op["Range"].status == "supported"
    assert [f.code for f in by_op["Range"].reasons] == ["parser/not-judged"]
    assert "refused node" in by_op["Range"].reasons[0].message
