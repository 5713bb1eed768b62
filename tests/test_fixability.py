"""Every finding the knowledge base can emit names a fix or says why there is none."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import onnx
import pytest

import trtforge.analyzer as analyzer_pkg
from trtforge.analyzer import check
from trtforge.analyzer.kb import all_rules
from trtforge.analyzer.kb.fixability import _OPSET_CODES, explain
from trtforge.analyzer.rewrite.registry import all_passes

ROOT = Path(analyzer_pkg.__file__).resolve().parent
#: codes whose findings always carry a fix (added by the engine or fixability)
ALWAYS_FIXED = {"input-not-constant", *_OPSET_CODES}


def _has_fixes(call: ast.Call) -> bool:
    """The finding call passes fixes (4th positional argument or `fixes=`), not an empty one."""
    args = [*call.args[3:4], *(kw.value for kw in call.keywords if kw.arg == "fixes")]
    return any(not (isinstance(a, (ast.Tuple, ast.List)) and not a.elts) for a in args)


def kb_codes() -> dict[str, bool]:
    """Every finding code the knowledge base and the static engine can emit, read from their
    source (literal codes of `ctx.finding(...)` / `Finding(code=...)`) and from the rules'
    attribute limits; True when every place emitting the code passes fixes."""
    files = [*ROOT.glob("kb/**/*.py"), ROOT / "backends" / "static.py"]
    files.append(ROOT / "backends" / "local_functions.py")
    codes: dict[str, bool] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            code = None
            if name == "finding" and node.args and isinstance(node.args[0], ast.Constant):
                code = str(node.args[0].value)
            for kw in node.keywords:
                if kw.arg == "code" and isinstance(kw.value, ast.Constant) and kw.value.value:
                    code = str(kw.value.value)
            if code is not None:
                codes[code] = codes.get(code, True) and _has_fixes(node)
    for rule in all_rules():
        for limit in rule.attrs:
            code = f"{rule.slug}/{limit.code or limit.name}"
            codes[code] = codes.get(code, True) and bool(limit.fixes)
    return codes


def test_every_code_has_a_fix_or_a_reason() -> None:
    codes = kb_codes()
    assert len(codes) > 50  # the scan found the knowledge base
    missing = sorted(
        c for c, fixed in codes.items() if not fixed and c not in ALWAYS_FIXED and not explain(c)
    )
    assert not missing, f"codes with neither a fix nor a 'no automatic fix' reason: {missing}"


def _fixture_models():
    sys.path.insert(0, str(Path(__file__).parent / "kb"))
    try:
        for name in ("oracle_cases_compute", "oracle_cases_tensor"):
            module = importlib.import_module(name)
            for attr in ("CASES", "TARGET_CASES"):
                for case in getattr(module, attr, []):
                    if getattr(case, "model", None) is not None:
                        yield case.model
    finally:
        sys.path.pop(0)


def test_emitted_findings_name_a_fix_or_say_why() -> None:
    """The knowledge base's own rule fixtures, checked for rtx-1: every error finding has a fix
    naming an existing pass, or a hint with 'no automatic fix: <why>'."""
    passes = set(all_passes())
    seen = 0
    for model in _fixture_models():
        report = check(model, target="rtx-1", backend="static")
        findings = [f for n in report.nodes for f in n.reasons] + list(report.graph_findings)
        for finding in findings:
            if not finding.is_error:
                continue
            seen += 1
            named = [f.name for f in finding.fixes if f.kind == "rewrite"]
            assert all(p in passes for p in named), finding
            assert finding.fixes or "no automatic fix: " in finding.hint, finding


CONSTANT_NONZERO = """<ir_version: 8, opset_import: ["" : 17]>
g (float[4] x) => (float[4] y, float[3] u) <float[4] c = {0.0, 1.0, 0.0, 2.0}> {
    u = Unique(c)
    y = Relu(x)
}"""


def test_node_of_constants_names_fold_constants(tmp_path) -> None:
    """Unique on a constant: rtx-1 has no importer for it (and no plugin serves it), yet folding
    removes it. (NonZero is no example any more: trtforge's NonZero plugin serves it.)"""
    model = onnx.parser.parse_model(CONSTANT_NONZERO)
    report = check(model, target="rtx-1", backend="static")
    (node,) = report.unsupported_nodes
    assert ("rewrite", "fold-constants") in {(f.kind, f.name) for f in node.fixes}
    from trtforge.analyzer.cli.rewrite import main

    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    out = tmp_path / "o.onnx"
    assert main([str(src), "-o", str(out), "--auto", "--target", "rtx-1", "-q"]) == 0
    assert "Unique" not in {n.op_type for n in onnx.load(out).graph.node}
    assert not check(onnx.load(out), target="rtx-1", backend="static").unsupported_nodes


@pytest.mark.parametrize("code", ["nonzero/whatever-dynamic", "conv/dilations", "graph/x"])
def test_explain_examples(code: str) -> None:
    assert explain(code)


def test_maxpool_indices_are_not_called_a_training_output():
    """SegNet-style MaxPool → MaxUnpool runs in inference: "export in eval()" was wrong."""
    from onnx import TensorProto, helper

    from trtforge.analyzer import check

    graph = helper.make_graph(
        [helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[2, 2], strides=[2, 2])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2, 2]),
            helper.make_tensor_value_info("i", TensorProto.INT64, [1, 1, 2, 2]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    (node,) = check(model, target="rtx-1", backend="static").unsupported_nodes
    hint = " ".join(r.hint for r in node.reasons)
    assert "MaxUnpool" in hint and "eval()" not in hint
