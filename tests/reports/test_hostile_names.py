"""Untrusted text: hostile node, tensor, graph, op-type, domain and file names reach every
report format escaped for it (text: no raw control characters; Markdown: one table row per
finding, no HTML; JSON: the shipped schema; SARIF: valid), and stderr lines stay one line."""

from __future__ import annotations

import json
import re

import pytest
from onnx import TensorProto, helper

from trtforge.analyzer import check
from trtforge.analyzer.cli import check as check_cli
from trtforge.analyzer.reports import render
from trtforge.analyzer.safe_text import printable

from .models import save
from .schema_check import validate_check_json, validate_sarif

HOSTILE = [
    "\x1b[31mred\x1b[0m",
    "line\nforged: SUPPORTED",
    "a|b|c",
    "<script>alert(1)</script>",
    "\x1b]0;title\x07",
    "cr\rback\x08",
    "\u202eevil",
    "nul\x00byte",
    "`code` **bold** [x](http://e)",
    "\x9bcsi",
]


def hostile_model(name: str):
    """TopK with a runtime k (unsupported), a custom-domain op and a Relu, all named `name`."""
    graph = helper.make_graph(
        [
            helper.make_node("TopK", ["x", "k"], ["v", "i"], name=name, axis=-1),
            helper.make_node(name or "X", ["v"], ["w"], name=name + "2", domain=name or "d"),
            helper.make_node("Relu", ["w"], [name + "out"], name=name + "3"),
        ],
        name,
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8]),
            helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
        ],
        [
            helper.make_tensor_value_info(name + "out", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("i", TensorProto.INT64, None),
        ],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid(name or "d", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=8)


@pytest.fixture(params=HOSTILE, ids=[repr(h)[:12] for h in HOSTILE])
def report(request, tmp_path):
    name = request.param
    path = save(hostile_model(name), tmp_path / "m.onnx")
    return name, check(path, target="trt-10", backend="static")


def _raw_controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F]


@pytest.mark.parametrize("color", [False, True])
def test_text_report_has_no_raw_control_characters(report, color):
    name, rep = report
    text = render(rep, "text", color=color)
    if color:  # only our own SGR colour sequences
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert not _raw_controls(text)
    assert "\u202e" not in text
    assert printable(name) in text or len(name) > 60


def test_markdown_rows_stay_rows(report):
    _, rep = report
    text = render(rep, "markdown")
    assert not _raw_controls(text)
    assert "<script" not in re.sub(r"`[^`\n]*`", "", text)  # only inside code spans
    rows = [line for line in text.splitlines() if line.startswith("| ") and "|---" not in line]
    table = [r for r in rows if not r.startswith(("| status", "| supported", "| unsupported"))]
    widths = {_cells(r) for r in table if not r.startswith(("| plugin", "| **total"))}
    assert len(widths) <= 2  # the op-type table and the findings table, nothing broken
    assert "forged: SUPPORTED\n" not in text


def _cells(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_json_and_sarif_validate(report):
    _, rep = report
    validate_check_json(json.loads(render(rep, "json")))
    validate_sarif(json.loads(render(rep, "sarif")))


def test_stderr_and_stdout_of_the_cli(tmp_path, capsys):
    name = "\x1b[2J\x1b[31mboom\nHint: forged"
    path = save(hostile_model(name), tmp_path / "m\x1b[1m.onnx")
    assert check_cli.main([path, "--backend", "static", "--target", "trt-10"]) == 1
    out, err = capsys.readouterr()
    assert "\x1b" not in out and "\x1b" not in err
    assert "Hint: forged" not in out.replace("\\nHint: forged", "")
    missing = str(tmp_path / "no\x1b[31mpe\n.onnx")
    assert check_cli.main([missing]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and len(err.strip().splitlines()) == 2


def test_undecodable_path_bytes(tmp_path, capsys):
    """A file name that is not UTF-8 (surrogate-escaped by Python) prints without an error."""
    raw = tmp_path / "m\udcff.onnx"
    save(hostile_model("n"), raw)
    for fmt in ("text", "json", "markdown", "sarif"):
        code = check_cli.main([str(raw), "--backend", "static", "--format", fmt])
        assert code == 1
        out = capsys.readouterr().out
        assert ("%FF" if fmt == "sarif" else "\\udcff") in out  # SARIF: a percent-encoded URI
        if fmt == "json":
            validate_check_json(json.loads(out))


@pytest.mark.parametrize("tweak", ["opset 0", "opset -1", "empty op_type"])
def test_invalid_models_still_give_schema_valid_json(tmp_path, tweak):
    """What the model declares is reported as it is (and the model is not supported), and the
    JSON still validates against the shipped schema."""
    model = hostile_model("n")
    if tweak.startswith("opset"):
        model.opset_import[0].version = int(tweak.split()[1])
    else:
        model.graph.node[2].op_type = ""
    rep = check(save(model, tmp_path / "m.onnx"), target="trt-10", backend="static")
    assert not rep.supported
    validate_check_json(json.loads(render(rep, "json")))


def test_a_markdown_cell_escapes_html_markdown_and_pipes_once():
    """Each character is escaped once, whatever follows it: `&` before the entities it makes,
    Markdown's characters with a backslash, pipes, and control characters made visible."""
    from trtforge.analyzer.reports.markdown_report import _cell

    assert _cell("a&lt;b <i>|x_y*\n") == "a&amp;lt;b &lt;i&gt;\\|x\\_y\\*\\\\n"
    assert _cell("&&>") == "&amp;&amp;&gt;"
