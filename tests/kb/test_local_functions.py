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


def _calls_model() -> onnx.ModelProto:
    """Forty calls of a supported function, forty of one whose body holds an op with no
    importer (Unique), one of those with a constant input, a call passing one tensor twice
    and a call of DOUBLE data (whose body's finding quotes its input's name)."""
    calls = [f"s{i + 1} = local.Ok(s{i})" for i in range(40)]
    calls += [f"u{i + 1} = local.Bad(u{i})" for i in range(40)]
    calls += ["k = local.Bad(c)", "twice = local.Pair(s40, s40)", "d1 = local.Ok(d0)"]
    body = "\n            ".join(calls)
    return onnx.parser.parse_model(
        f"""<ir_version: 8, opset_import: ["": 17, "local": 1]>
        g (float[N, 4] s0, float[N, 4] u0, int32[N, 4] d0) => (float[N, 4] s40,
            float[N] u40, float[N] k, float[N, 4] twice, int32[N, 4] d1) {{
            c = Constant<value = float[4] {{1, 2, 3, 4}}>()
            {body}
        }}
        <domain: "local", opset_import: ["": 17]>
        Ok (a) => (b) {{ t = Relu(a) b = Sigmoid(t) }}
        <domain: "local", opset_import: ["": 17]>
        Bad (a) => (b) {{ f = Flatten(a) b = Unique(f) }}
        <domain: "local", opset_import: ["": 17]>
        Pair (a, b) => (c) {{ c = Add(a, b) }}"""
    )


def test_calls_of_one_kind_are_judged_once_and_named_each(monkeypatch):
    """Calls alike (one function, inputs of one type — dims shape inference made up renamed
    alike —, the same constants, no tensor passed twice) are judged by one check of a model
    holding one of them (`CallVerdicts`): 83 calls, six kinds. Each call's findings are
    those of a call judged on its own (its name in its findings), and a finding that quotes
    a tensor name (an INT32 input's) is made with the call's own names."""
    from trtforge.analyzer.backends import local_functions, static
    from trtforge.analyzer.graph import GraphView
    from trtforge.analyzer.inference import infer_table
    from trtforge.analyzer.loading import load_model
    from trtforge.analyzer.targets import parse_target

    model = _calls_model()
    made = []
    call_model = local_functions.call_model

    def spied(call, *args):
        made.append((call.op_type, len(args) > 2))  # (renamed, or with its own names)
        return call_model(call, *args)

    monkeypatch.setattr(local_functions, "call_model", spied)
    report = check(model, target="rtx-1", backend="static")
    renamed = [op for op, alike in made if alike]
    assert sorted(renamed) == ["Bad", "Bad", "Bad", "Ok", "Ok", "Pair"], made
    assert [op for op, alike in made if not alike] == ["Ok"]  # (the INT32 call, by its names)
    monkeypatch.setattr(local_functions, "call_model", call_model)
    target = parse_target("rtx-1")
    loaded = load_model(model)
    view = GraphView(loaded.structure.graph, infer_table(loaded.structure))

    def alone(m: onnx.ModelProto):
        return static.StaticChecker(load_model(m), target, memo=False).run()

    calls = [n for n in loaded.structure.graph.node if n.domain == "local"]
    verdicts = [v for v in report.nodes if v.domain == "local"]
    assert len(calls) == len(verdicts) == 83
    for call, verdict in zip(calls, verdicts, strict=True):
        expected = local_functions.judge_call(call, view, loaded.structure, alone)
        assert verdict.reasons == expected, call.output[0]
    assert [v.status for v in verdicts].count("unsupported") == 42
    assert "('d0') has type INT32" in verdicts[-1].reasons[0].message
