"""Calls to model-local functions are judged by their bodies, as the parser imports them."""

from __future__ import annotations

import onnx.parser
import pytest
from _oracle import HAS_RTX, parse_models
from oracle_cases_local_functions import CASES

from trtforge.analyzer import check


def _nonzero_plugin_built() -> bool:
    from trtforge.plugins import catalog

    return catalog.is_available(catalog.find_plugin("NonZero", "1", ""))


@pytest.mark.parametrize("name", sorted(CASES))
def test_static_verdict(name):
    text, parses = CASES[name]
    if name == "fn_nonzero" and _nonzero_plugin_built():
        parses = True  # the body's NonZero runs through trtforge's NonZero plugin on RTX
    report = check(onnx.parser.parse_model(text), target="rtx-1", backend="static")
    assert report.supported == parses, [
        (n.op_type, [f.code for f in n.errors]) for n in report.nodes
    ]
    assert "custom-domain-op" not in {f.code for n in report.nodes for f in n.reasons}


def test_the_body_node_at_fault_is_named():
    text, _ = CASES["fn_nonzero"]
    text = text.replace("NonZero", "Unique")  # no importer and no plugin on RTX
    (call,) = check(onnx.parser.parse_model(text), target="rtx-1", backend="static").nodes
    (finding,) = call.errors
    assert finding.inner == "F/F/Unique" and "body node" in finding.message


@pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")
def test_rtx_parser_agrees():
    results = parse_models(
        {name: onnx.parser.parse_model(text) for name, (text, _) in CASES.items()}
    )
    wrong = {
        name: results[name] for name, (_, parses) in CASES.items() if results[name].ok != parses
    }
    assert not wrong, wrong


def test_a_fix_for_a_node_inside_a_function_is_not_promised():
    """No pass rewrites function bodies: a body node's fix (decompose-contrib for a FastGelu)
    is named as what to run after inlining, not as a fix --auto would make."""
    text = """<ir_version: 8, opset_import: ["": 17, "local": 1, "com.microsoft": 1]>
        g (float[2,4] x) => (float[2,4] y) { y = local.F(x) }
        <domain: "local", opset_import: ["": 17, "com.microsoft": 1]>
        F (a) => (b) { b = com.microsoft.FastGelu(a) }"""
    (call,) = check(onnx.parser.parse_model(text), target="rtx-1", backend="static").nodes
    (finding,) = call.errors
    assert not finding.fixes
    assert "inline the functions first" in finding.hint and "--decompose-contrib" in finding.hint


def test_a_call_of_a_function_without_nodes_is_supported():
    """Its outputs are its inputs: the parser takes it (the check stopped with "the model's
    graph has no nodes", naming no file)."""
    text = """<ir_version: 8, opset_import: ["": 17, "local": 1]>
        g (float[2,4] x) => (float[2,4] y) { y = local.F(x) }
        <domain: "local", opset_import: ["": 17]>
        F (a) => (a) { }"""
    model = onnx.parser.parse_model(text)
    assert check(model, target="rtx-1", backend="static").supported
