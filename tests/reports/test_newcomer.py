"""What a first run shows: which target and backend were chosen and why, "not judged" nodes
counted alike by both backends, no "Fix 0 of 0", and trt-build's early, consistent refusals."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import requires_parser, run_cli
from trtforge.analyzer import api, check
from trtforge.analyzer.findings import Finding
from trtforge.analyzer.report import ModelInfo, NodeVerdict, Report
from trtforge.analyzer.reports import render
from trtforge.analyzer.reports._summary import fix_plan, not_judged, verdict_line

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "transformer_block.onnx"


def test_the_header_says_why_this_target_and_backend():
    report = check(EXAMPLE, target="trt-10", backend="static")
    assert report.selection == "target trt-10.16 (--target) · backend static (--backend static)"
    assert report.selection in render(report, "text") and report.selection in render(
        report, "markdown"
    )


def test_without_tensorrt_the_header_says_so(monkeypatch):
    from trtforge.analyzer import targets

    monkeypatch.setattr(api, "parser_available", lambda: False)  # what resolve_backend asks
    monkeypatch.setattr(targets, "_installed_version", lambda *args: None)
    report = check(EXAMPLE)
    assert report.backend == "static" and report.target == "trt-11.4"
    assert "no TensorRT installed" in report.selection
    assert "pip install tensorrt-rtx" in report.selection


def test_help_ends_with_what_runs_here():
    proc = run_cli("trtforge.analyzer.cli.check", "-h")
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("Without --target/--backend, here: target ")
    assert " · backend " in last


@requires_parser
def test_installed_parser_is_named_as_the_reason():
    report = check(EXAMPLE)
    assert report.backend == "parser"
    assert "installed; --backend static for the knowledge base" in report.selection


def _report(reasons_per_node):
    nodes = [
        NodeVerdict(i, f"n{i}", "Relu", "", reasons=list(reasons))
        for i, reasons in enumerate(reasons_per_node)
    ]
    info = ModelInfo("m.onnx", "0", 8, {"": 17}, len(nodes))
    return Report(info, "trt-10.16", "static", nodes)


def test_not_judged_nodes_count_as_supported_and_are_said():
    warn = Finding("parser/not-judged", "not judged: …", severity="warning")
    other = Finding("x/y", "caveat", severity="warning")
    report = _report([[], [warn], [other], [warn]])
    assert not_judged(report) == 2
    assert verdict_line(report) == (
        "SUPPORTED: all 4 nodes build (4 supported (incl. 2 not judged), 0 unsupported, "
        "0 plugin); 3 warnings"
    )


@requires_parser
def test_both_backends_count_the_example_the_same_way():
    static = check(EXAMPLE, target="rtx-1", backend="static", advice=False)
    parser = check(EXAMPLE, backend="parser", advice=False)
    assert static.summary == parser.summary
    unjudged = not_judged(parser)  # (none since the parser backend types contrib outputs)
    assert (f"(incl. {unjudged} not judged)" in verdict_line(parser)) == (unjudged > 0)


LAYERNORM = """<ir_version: 8, opset_import: ["" : 17]>
g (float[2,8] x) => (float[2,8] z) <float two = {2.0}, float eps = {1e-5}> {
 mean = ReduceMean<axes=[-1]>(x)
 d = Sub(x, mean)
 p = Pow(d, two)
 var = ReduceMean<axes=[-1]>(p)
 e = Add(var, eps)
 s = Sqrt(e)
 y = Div(d, s)
 z = Relu(y)
}"""


def test_a_supported_model_gets_no_fix_0_of_0(tmp_path):
    path = tmp_path / "ln.onnx"
    onnx.save(onnx.parser.parse_model(LAYERNORM), str(path))
    report = check(path, target="trt-10", backend="static")
    assert report.supported
    plan = fix_plan(report)
    assert plan.total == 0 and plan.command
    text = render(report, "text")
    assert "Fix 0 of 0" not in text and "Apply the performance advice with:" in text
    assert "Fix 0 of 0" not in render(report, "markdown")


def _dynamic_model(path: Path, extra: onnx.NodeProto | None = None) -> Path:
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    out = "y"
    if extra is not None:
        nodes.append(extra)
        out = extra.output[0]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        ir_version=9,
    )
    onnx.save(model, str(path))
    return path


@pytest.fixture
def no_tensorrt(monkeypatch):
    """trt-build must decide these cases without importing TensorRT."""
    from trtforge.plugins import _trt

    def refuse(*args, **kwargs):
        raise AssertionError("TensorRT was imported")

    monkeypatch.setattr(_trt, "import_trt", refuse)
    monkeypatch.setattr(_trt, "ensure_rtx_loadable", refuse)


def test_trt_build_rejects_dynamic_inputs_before_tensorrt(tmp_path, no_tensorrt, capsys):
    from trtforge.plugins.cli.build import main

    model = _dynamic_model(tmp_path / "m.onnx")
    assert main([str(model), "-o", str(tmp_path / "m.plan")]) == 2  # no_tensorrt: before it
    err = capsys.readouterr().err
    assert "input 'x' has dynamic shape [-1, 8] and no --shapes" in err
    assert "Hint: add --shapes x:MIN,OPT,MAX" in err and "--dims batch=MIN:OPT:MAX" in err
    assert main([str(model), "-o", str(tmp_path / "m.plan"), "--shapes", "y:1x8,2x8,4x8"]) == 2
    assert "unknown input(s) ['y']" in capsys.readouterr().err
    assert not (tmp_path / "m.plan").exists()


def test_trt_build_hints_what_trt_check_fixes_with(tmp_path, no_tensorrt, capsys):
    from trtforge.plugins.cli.build import main

    gelu = helper.make_node("FastGelu", ["y"], ["z"], name="act", domain="com.microsoft")
    model = _dynamic_model(tmp_path / "m.onnx", gelu)
    code = main([str(model), "-o", str(tmp_path / "m.plan"), "--shapes", "x:1x8,2x8,4x8"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "FastGelu node 'act'" in err and "is not registered" in err
    fixes = {f.name for n in check(model, target="rtx-1", backend="static").nodes for f in n.fixes}
    assert fixes == {"decompose-contrib"}
    assert "--decompose-contrib" in err and "as trt-check suggests" in err
