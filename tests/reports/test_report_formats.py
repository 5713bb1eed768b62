"""The four report formats on real models and on hand-built reports covering every section."""

from __future__ import annotations

import json
import re

import pytest

from trtforge.analyzer import check
from trtforge.analyzer.findings import Finding, Fix
from trtforge.analyzer.report import ModelInfo, NodeVerdict, PluginRef, Report
from trtforge.analyzer.reports import render
from trtforge.analyzer.reports._summary import fix_plan, rewritten_path, unsupported_op_types

from .models import custom_op_model, nonzero_model, save, topk_model
from .schema_check import validate_check_json, validate_sarif

ANSI = re.compile(r"\x1b\[")


def _finding(code, message, hint="", fixes=(), severity="error", inner=""):
    return Finding(code, message, hint, tuple(fixes), "test", severity, inner)


def rich_report(path: str = "models/net.onnx") -> Report:
    """A report with every kind of content: unsupported nodes with and without fixes, a
    plugin node (available and not), a warning, an inner body node and a graph finding."""
    fold = Fix("rewrite", "fold-constants")
    contrib = Fix("rewrite", "decompose-contrib")
    nodes = [
        NodeVerdict(0, "embed/Gather", "Gather", ""),
        NodeVerdict(
            1,
            "mlp/FastGelu",
            "FastGelu",
            "com.microsoft",
            "unsupported",
            [
                _finding(
                    "custom-domain-op",
                    "FastGelu node 'mlp/FastGelu': no importer",
                    "decompose it",
                    [contrib],
                )
            ],
        ),
        NodeVerdict(
            2,
            "head/TopK",
            "TopK",
            "",
            "unsupported",
            [
                _finding(
                    "input-not-constant",
                    "TopK node 'head/TopK': input 1 ('k') must be a build-time constant",
                    "fold it",
                    [fold],
                )
            ],
        ),
        NodeVerdict(
            3,
            "ln/LayerNorm",
            "LayerNorm",
            "trtforge",
            "plugin",
            [],
            PluginRef("LayerNorm", "1", "trtforge", True),
        ),
        NodeVerdict(
            4,
            "rms|norm",
            "RMSNorm",
            "trtforge",
            "plugin",
            [
                _finding(
                    "plugin-not-registered",
                    "RMSNorm node 'rms|norm': plugin not built",
                    "install with nvcc",
                    [Fix("plugin", "RMSNorm")],
                )
            ],
            PluginRef("RMSNorm", "1", "trtforge", False),
        ),
        NodeVerdict(
            5,
            "cast",
            "Cast",
            "",
            "supported",
            [
                _finding(
                    "cast/int64-narrowed", "Cast node 'cast': INT64 is narrowed", severity="warning"
                )
            ],
        ),
        NodeVerdict(
            6,
            "loop",
            "Loop",
            "",
            "unsupported",
            [
                _finding(
                    "unique/data-dependent",
                    "Loop node 'loop': body node 'loop/body/u' is not supported",
                    inner="loop/body/u",
                )
            ],
        ),
        NodeVerdict(
            7,
            "mlp2/FastGelu",
            "FastGelu",
            "com.microsoft",
            "unsupported",
            [
                _finding(
                    "custom-domain-op",
                    "FastGelu node 'mlp2/FastGelu': no importer",
                    "decompose it",
                    [contrib],
                )
            ],
        ),
    ]
    info = ModelInfo(path, "ab" * 32, 8, {"": 17, "com.microsoft": 1}, len(nodes))
    graph = [
        _finding(
            "graph/dynamic-input",
            "input 'x' has a dynamic dim without bounds",
            "give an optimization profile",
            severity="warning",
        )
    ]
    return Report(info, "trt-10.16", "static", nodes, graph, notes=["backend: test, 1 parse(s)"])


# -- summary logic ---------------------------------------------------------------------------
def test_fix_plan_orders_passes_by_nodes_fixed_and_counts_coverage():
    plan = fix_plan(rich_report())
    assert plan.passes == ("decompose-contrib", "fold-constants")
    assert plan.command == (
        "trt-rewrite models/net.onnx -o models/net.trt.onnx --decompose-contrib --fold-constants"
    )
    assert (plan.fixed, plan.total) == (3, 5)  # the loop and the unbuilt plugin have no pass
    assert plan.plugins == (("RMSNorm", 1),)


def test_a_node_keeping_an_error_no_pass_removes_is_fixed_only_in_part():
    """A dilated MaxPool whose window is also wider than its input: undilate-pool removes the
    dilation, not the invalid window — the node is not counted fixed, and the heading says so."""
    undilate = Fix("rewrite", "undilate-pool")
    pool = NodeVerdict(
        0,
        "p",
        "MaxPool",
        "",
        "unsupported",
        [
            _finding("maxpool/dilations", "MaxPool node 'p': dilations", "undilate", [undilate]),
            _finding("maxpool/shapes-mismatch", "MaxPool node 'p': window", "no fix", []),
        ],
    )
    report = Report(ModelInfo("m.onnx", "ab" * 32, 8, {"": 17}, 1), "rtx-1.7", "static", [pool])
    plan = fix_plan(report)
    assert (plan.passes, plan.fixed, plan.partly, plan.total) == (("undilate-pool",), 0, 1, 1)
    text = render(report, "text")
    assert "Fix 0 of 1 unsupported nodes, and 1 in part (an error no pass removes stays)" in text
    pool.reasons.pop()  # the dilation alone: fixed
    assert (fix_plan(report).fixed, fix_plan(report).partly) == (1, 0)


def test_the_fix_heading_counts_the_graph_level_problems_the_command_fixes():
    """A command that comes from a graph-level error (an initializer the parser cannot
    import: fold-constants drops it) says so, instead of "Fix 0 of N unsupported nodes";
    with nodes fixed too, it names both; a graph-level warning's fix is performance
    advice."""
    from trtforge.analyzer.reports._summary import FixPlan

    fold = Fix("rewrite", "fold-constants")
    bad = NodeVerdict(0, "n0", "BitShift", "", "unsupported", [_finding("not-available", "x")])
    fixable = NodeVerdict(1, "n1", "TopK", "", "unsupported", [_finding("k", "y", "", [fold])])
    error = _finding("graph/initializer-dtype", "initializer 's'", "", [fold])
    advice = _finding("advice/fuse", "fuse", "", [fold], severity="warning")
    report = rich_report()
    report.nodes[:] = [bad]
    report.graph_findings[:] = [error]
    assert fix_plan(report).heading == (
        "Fix 1 graph-level problem (none of the 1 unsupported nodes) with"
    )
    report.nodes[:] = [bad, fixable]
    assert fix_plan(report).heading == (
        "Fix 1 of 2 unsupported nodes, and 1 graph-level problem, with"
    )
    report.nodes[:] = [NodeVerdict(0, "n0", "Relu", "")]
    assert fix_plan(report).heading == "Fix 1 graph-level problem with"
    report.graph_findings[:] = [advice]
    assert fix_plan(report).heading == "Apply the performance advice with"
    assert FixPlan((), "", 0, 3, ()).heading == "Fix 0 of 3 unsupported nodes with"


def test_fix_plan_quotes_paths_with_spaces():
    plan = fix_plan(rich_report("my models/net v2.onnx"))
    assert plan.command.startswith(
        "trt-rewrite 'my models/net v2.onnx' -o 'my models/net v2.trt.onnx'"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [("m.onnx", "m.trt.onnx"), ("a/b.c.onnx", "a/b.c.trt.onnx"), ("model", "model.trt.onnx")],
)
def test_rewritten_path(given, expected):
    assert rewritten_path(given) == expected


def test_unsupported_op_types_are_counted_most_frequent_first():
    rows = unsupported_op_types(rich_report())
    assert [(r.label, r.count) for r in rows][0] == ("FastGelu (com.microsoft)", 2)
    assert {r.op_type for r in rows} == {"FastGelu", "TopK", "RMSNorm", "Loop"}


# -- text ------------------------------------------------------------------------------------
def test_text_report_has_summary_first_then_every_section():
    text = render(rich_report(), "text")
    assert not ANSI.search(text)
    lines = text.splitlines()
    assert lines[0].startswith("trt-check models/net.onnx")
    assert lines[1].startswith("NOT SUPPORTED: 5 of 8 nodes will not build")
    command = (
        "trt-rewrite models/net.onnx -o models/net.trt.onnx --decompose-contrib --fold-constants"
    )
    assert "  " + command in lines  # on its own line, never wrapped
    assert (
        text.index("FastGelu (com.microsoft)")
        < text.index(command)
        < text.index("Unsupported nodes")
    )
    assert "Fix 3 of 5 unsupported nodes with:" in text
    for section in ("Unsupported nodes", "Nodes that run through plugins", "Warnings", "Graph"):
        assert section in text
    assert "Hint: fold it" in text and "Fix: trt-rewrite --fold-constants" in text
    assert "at: loop/body/u" in text
    assert "trtforge::LayerNorm v1" in text
    assert "cast/int64-narrowed" in text
    assert lines[-1] == "Note: backend: test, 1 parse(s)"


def test_text_report_colour_only_when_asked(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert ANSI.search(render(rich_report(), "text", color=True))
    assert not ANSI.search(render(rich_report(), "text", color=False))
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(render(rich_report(), "text", color=True))


def test_text_report_keeps_long_names_whole_and_collapses_repeats(tmp_path):
    long = "encoder/" + "layer_with_a_very_long_scope_name/" * 8 + "TopK"
    model = save(custom_op_model(name=long, copies=30), tmp_path / "wide.onnx")
    text = render(check(model, target="trt-10", backend="static"), "text")
    assert f"#0 {long}_0  FastGelu (com.microsoft)" in text.splitlines()
    assert "… and 25 more FastGelu nodes with the same findings" in text
    assert text.count("✗ custom-domain-op") == 5


def test_text_report_sums_up_what_is_beyond_its_limits():
    """A report of many distinct unsupported op types (a model of 100,000 custom ops, each
    its own) and many plugin nodes prints SHOWN_OP_TYPES rows, SHOWN_GROUPS groups and
    SHOWN_GROUPS × SHOWN_PER_GROUP plugin nodes, then a line summing up the rest."""
    from trtforge.analyzer.reports import text_report

    nodes = [
        NodeVerdict(
            i, f"n{i}", f"MyOp{i}", "custom", "unsupported",
            [_finding("custom-domain-op", f"MyOp{i} node 'n{i}': no importer")],
        )
        for i in range(300)
    ]  # fmt: skip
    plugin = PluginRef("LayerNorm", "1", "trtforge", True)
    nodes += [
        NodeVerdict(300 + i, f"ln{i}", "LayerNorm", "trtforge", "plugin", [], plugin)
        for i in range(text_report.SHOWN_GROUPS * text_report.SHOWN_PER_GROUP + 7)
    ]
    report = rich_report()
    report.nodes[:] = nodes
    text = render(report, "text")
    assert "MyOp29 " in text and "MyOp30 " not in text.split("Unsupported nodes")[0]
    assert f"… {300 - text_report.SHOWN_OP_TYPES} more op types" in text
    assert "MyOp39" in text and "'n40'" not in text
    assert f"… and {300 - text_report.SHOWN_GROUPS} more nodes in" in text
    assert "… and 7 more nodes through plugins" in text
    assert len(text.splitlines()) < 600


def test_text_report_of_a_supported_model(tmp_path):
    report = check(save(topk_model(), tmp_path / "ok.onnx"), target="trt-10", backend="static")
    text = render(report, "text")
    assert "SUPPORTED: all 1 nodes build (1 supported, 0 unsupported, 0 plugin)" in text
    assert "Unsupported nodes" not in text and "trt-rewrite" not in text


# -- json ------------------------------------------------------------------------------------
def _real_reports(tmp_path):
    yield check(save(topk_model(), tmp_path / "a.onnx"), target="trt-10", backend="static")
    yield check(
        save(custom_op_model(name="a|b", copies=3), tmp_path / "e.onnx"),
        target="rtx-1",
        backend="static",
    )
    yield check(
        save(topk_model(k_constant=False), tmp_path / "b.onnx"), target="trt-11", backend="static"
    )
    yield check(save(custom_op_model(), tmp_path / "c.onnx"), target="trt-10", backend="static")
    yield check(save(nonzero_model(), tmp_path / "d.onnx"), target="rtx-1", backend="static")
    yield rich_report()


def test_every_json_report_validates_against_the_shipped_schema(tmp_path):
    for report in _real_reports(tmp_path):
        doc = json.loads(render(report, "json"))
        validate_check_json(doc)
        assert doc == report.to_json()  # the fast writer says exactly what the model says
        assert list(doc) == list(report.to_json())  # in the same key order


def test_json_lines_of_nodes_with_findings_are_the_encoders_text():
    """Nodes with findings are written from parts shared among nodes alike (`_Parts`): each
    line must be the compact encoding of the node's JSON, character for character — over
    findings sharing all but their messages, fixes and plugins, names and messages with
    quotes, backslashes, control characters and non-ASCII text, and every optional field."""
    import random

    from trtforge.analyzer.reports.json_report import _compact

    rng = random.Random(11)
    texts = ["", "a", 'q"uo\\te', "tab\tnl\n\x01", "ünï ☃ 𝔁", "/m/l.0/Add_1", "'x'"]
    fixes = [(), (Fix("rewrite", "fold-constants"),), (Fix("plugin", "N", "d"), Fix("manual", "m"))]
    shared = [
        _finding("c1", "", "hint", fixes[1]),
        _finding("c2", "", "", fixes[2], "warning", "If_1/then/Add"),
    ]
    nodes = []
    for index in range(400):
        reasons = []
        for _ in range(rng.randrange(1, 4)):
            base = (
                rng.choice(shared)
                if rng.random() < 0.5
                else _finding(
                    rng.choice(texts),
                    "",
                    rng.choice(texts),
                    rng.choice(fixes),
                    rng.choice(["error", "warning"]),
                    rng.choice(texts),
                )
            )
            reasons.append(base.with_message(rng.choice(texts) + str(index)))
        plugin = PluginRef(rng.choice(texts), "1", "trtforge", rng.random() < 0.5)
        nodes.append(
            NodeVerdict(
                index,
                rng.choice(texts),
                rng.choice(texts + ["Add"]),
                rng.choice(texts),
                rng.choice(["unsupported", "plugin", "supported"]),
                reasons,
                plugin if rng.random() < 0.3 else None,
            )
        )
    report = rich_report()
    report.nodes[:] = nodes
    text = render(report, "json")
    lines = [_compact(node.to_json()) for node in nodes]
    assert ",\n    ".join(lines) in text
    assert json.loads(text) == report.to_json()


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(schema="trtforge.check/2"),
        lambda d: d["nodes"][0].update(status="maybe"),
        lambda d: d["nodes"][1]["fixes"].append({"kind": "rewrite"}),
        lambda d: d["nodes"][3].pop("plugin"),
        lambda d: d["model"].update(sha256="xyz"),
        lambda d: d.update(target="tensorrt"),
        lambda d: d["summary"].pop("plugin"),
    ],
)
def test_schema_rejects_damaged_reports(damage):
    import jsonschema

    doc = json.loads(render(rich_report(), "json"))
    damage(doc)
    with pytest.raises(jsonschema.ValidationError):
        validate_check_json(doc)


# -- sarif -----------------------------------------------------------------------------------
def test_sarif_has_one_result_per_finding_located_at_its_node():
    report = rich_report()
    log = json.loads(render(report, "sarif"))
    results = validate_sarif(log)
    expected = sum(len(n.reasons) for n in report.nodes) + len(report.graph_findings)
    assert len(results) == expected
    run = log["runs"][0]
    assert run["artifacts"][0]["hashes"]["sha-256"] == "ab" * 32
    assert run["artifacts"][0]["location"]["uri"] == "models/net.onnx"
    gelu = [r for r in results if r["ruleId"] == "custom-domain-op"]
    assert [r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] for r in gelu] == [
        "graph.node[1]",
        "graph.node[7]",
    ]
    assert gelu[0]["properties"]["fixes"] == [{"kind": "rewrite", "pass": "decompose-contrib"}]
    levels = {r["ruleId"]: r["level"] for r in results}
    assert levels["cast/int64-narrowed"] == "warning" and levels["input-not-constant"] == "error"
    inner = next(r for r in results if r["ruleId"] == "unique/data-dependent")
    assert inner["locations"][0]["logicalLocations"][1]["name"] == "loop/body/u"
    assert len({r["partialFingerprints"]["trtforgeNode/v1"] for r in results}) == len(results)
    assert run["properties"]["notes"] == ["backend: test, 1 parse(s)"]


def test_sarif_of_real_models(tmp_path):
    for report in _real_reports(tmp_path):
        results = validate_sarif(json.loads(render(report, "sarif")))
        assert len(results) == sum(len(n.reasons) for n in report.nodes) + len(
            report.graph_findings
        )


def test_sarif_absolute_path_is_a_file_uri(tmp_path):
    report = check(
        save(custom_op_model(), tmp_path / "c d.onnx"), target="trt-10", backend="static"
    )
    log = json.loads(render(report, "sarif"))
    uri = log["runs"][0]["artifacts"][0]["location"]["uri"]
    assert uri.startswith("file:///") and uri.endswith("/c%20d.onnx")


# -- markdown --------------------------------------------------------------------------------
def test_markdown_has_summary_table_fix_command_and_escaped_findings():
    text = render(rich_report(), "markdown")
    assert text.startswith("## ❌ trt-check: `models/net.onnx` on `trt-10.16`")
    assert "| unsupported | 4 |" in text and "| **total** | **8** |" in text
    assert (
        "```sh\ntrt-rewrite models/net.onnx -o models/net.trt.onnx --decompose-contrib "
        "--fold-constants\n```" in text
    )
    rows = [line for line in text.splitlines() if line.startswith("| 4 |")]
    assert rows and all(row.count(" | ") == 6 for row in rows)  # the '|' in 'rms|norm' escaped
    assert "rms\\|norm" in rows[0]
    assert "`trtforge::LayerNorm` v1" in text
    assert text.rstrip().endswith("_Note: backend: test, 1 parse(s)_")


def test_markdown_collapses_long_finding_lists(tmp_path):
    model = save(custom_op_model(copies=60), tmp_path / "many.onnx")
    text = render(check(model, target="trt-10", backend="static"), "markdown")
    assert "<details><summary>10 more findings</summary>" in text
    assert text.count("\n| ") > 60


def test_large_sarif_is_compact_and_valid(tmp_path):
    from trtforge.analyzer.reports import sarif_report

    copies = sarif_report.INDENT_MAX_RESULTS + 1
    model = save(custom_op_model(copies=copies), tmp_path / "many.onnx")
    text = render(check(model, target="trt-10", backend="static"), "sarif")
    assert "\n" not in text
    assert len(validate_sarif(json.loads(text))) == copies


def test_verdict_line_counts_warnings_of_a_supported_model():
    from trtforge.analyzer.reports._summary import verdict_line

    report = rich_report()
    report.nodes = [n for n in report.nodes if n.ok]  # the supported nodes, one with a warning
    assert verdict_line(report) == (
        "SUPPORTED: all 3 nodes build (2 supported, 0 unsupported, 1 plugin); 2 warnings"
    )


def test_the_text_report_groups_many_alike_warnings_and_graph_findings():
    """Nodes that build with warnings and graph findings are shown as unsupported nodes are:
    the first SHOWN_PER_GROUP of a kind in full, the others counted (a model with 10,000
    dynamic inputs printed 10,000 findings, most of its 2.7 s); the JSON report keeps all."""
    from trtforge.analyzer.reports.text_report import SHOWN_PER_GROUP

    count = SHOWN_PER_GROUP + 7
    nodes = [
        NodeVerdict(
            i,
            f"cast{i}",
            "Cast",
            "",
            "supported",
            [_finding("cast/int64", f"Cast node 'cast{i}': INT64 narrowed", severity="warning")],
        )
        for i in range(count)
    ]
    graph = [
        _finding(
            "graph/dynamic-input",
            f"graph input 'in{i}': has dynamic dims (N)",
            "add a profile",
            severity="warning",
        )
        for i in range(count)
    ]
    graph.append(_finding("graph/other", "something else", "another hint", severity="warning"))
    info = ModelInfo("m.onnx", "ab" * 32, 8, {"": 17}, count)
    report = Report(info, "rtx-1.7", "static", nodes, graph)
    text = render(report, "text")
    shown = [f"in{i}'" for i in range(count) if f"graph input 'in{i}'" in text]
    assert len(shown) == SHOWN_PER_GROUP
    assert "… and 7 more graph/dynamic-input findings with the same hint" in text
    assert "something else" in text  # another code: a group of its own
    assert sum(f"Cast node 'cast{i}'" in text for i in range(count)) == SHOWN_PER_GROUP
    assert f"… and 7 more Cast nodes with the same warnings: #{SHOWN_PER_GROUP} cast" in text
    data = json.loads(render(report, "json"))
    assert len(data["graph"]["reasons"]) == count + 1
