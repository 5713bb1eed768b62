"""trt-check over several files and folders: one process, one summary, the worst exit status."""

from __future__ import annotations

import json

import jsonschema
import pytest

from trtforge.analyzer.schemas import check_many_schema, check_schema

from .models import custom_op_model, run_cli, save, topk_model

CHECK = "trtforge.analyzer.cli.check"
STATIC = ("--target", "trt-10", "--backend", "static")


@pytest.fixture
def tree(tmp_path):
    """ok.onnx (supported), nested/deeper/custom.onnx (unsupported), nested/notes.txt."""
    deeper = tmp_path / "models" / "nested" / "deeper"
    deeper.mkdir(parents=True)
    save(topk_model(), tmp_path / "models" / "ok.onnx")
    save(custom_op_model(), deeper / "custom.onnx")
    (tmp_path / "models" / "nested" / "notes.txt").write_text("not a model")
    return tmp_path / "models"


def _json(proc) -> dict:
    data = json.loads(proc.stdout)
    jsonschema.validate(data, check_many_schema())
    for row in data["models"]:
        if row["report"] is not None:
            jsonschema.validate(row["report"], check_schema())
    return data


def test_a_folder_is_searched_recursively_and_summarised(tree):
    proc = run_cli(CHECK, str(tree), *STATIC, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
    data = _json(proc)
    assert data["schema"] == "trtforge.check-many/1"
    assert [r["path"] for r in data["models"]] == [
        str(tree / "nested" / "deeper" / "custom.onnx"),
        str(tree / "ok.onnx"),
    ]
    assert [r["status"] for r in data["models"]] == ["unsupported", "supported"]
    assert data["summary"] == {"models": 2, "supported": 1, "unsupported": 1, "error": 0}
    assert data["models"][0]["report"]["schema"] == "trtforge.check/1"


def test_all_supported_exits_0_and_a_bad_file_is_an_error_row_exiting_2(tree, tmp_path):
    ok = str(tree / "ok.onnx")
    proc = run_cli(CHECK, ok, ok, *STATIC)  # the same file twice is checked once
    assert proc.returncode == 0, proc.stderr
    assert "1 model: 1 supported, 0 not supported, 0 could not be checked" in proc.stdout
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    missing = tmp_path / "missing.onnx"
    proc = run_cli(CHECK, str(tree), str(bad), str(missing), *STATIC, "--format", "json")
    assert proc.returncode == 2, proc.stderr
    data = _json(proc)
    rows = {r["path"]: r for r in data["models"]}
    assert rows[str(bad)]["status"] == "error" and rows[str(bad)]["report"] is None
    assert rows[str(bad)]["error"]["hint"]
    assert rows[str(missing)]["status"] == "error"
    assert data["summary"]["error"] == 2 and data["summary"]["unsupported"] == 1
    # --exit-zero only forgives unsupported nodes, never bad input
    assert run_cli(CHECK, str(tree), *STATIC, "--exit-zero").returncode == 0
    assert run_cli(CHECK, str(tree), str(bad), *STATIC, "--exit-zero").returncode == 2


def test_text_markdown_and_sarif_summaries(tree):
    text = run_cli(CHECK, str(tree), *STATIC)
    lines = text.stdout.splitlines()
    assert lines[0].startswith("trt-check  ·  target trt-10.16  ·  backend static")
    assert sum("NOT supported" in line for line in lines) == 1
    assert "FastGelu (com.microsoft) ×1" in text.stdout and "custom.onnx" in text.stdout
    assert "2 models: 1 supported, 1 not supported, 0 could not be checked" in text.stdout
    md = run_cli(CHECK, str(tree), *STATIC, "--format", "markdown").stdout
    assert md.startswith("## ❌ trt-check: 2 models") and "| `" in md
    sarif = json.loads(run_cli(CHECK, str(tree), *STATIC, "--format", "sarif").stdout)
    assert sarif["version"] == "2.1.0" and len(sarif["runs"]) == 2
    assert any(r["results"] for r in sarif["runs"])


def test_bad_arguments_exit_2_before_any_model(tmp_path, tree):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli(CHECK, str(tree), str(empty), *STATIC)
    assert proc.returncode == 2 and "no .onnx file" in proc.stderr and "Hint:" in proc.stderr
    proc = run_cli(CHECK, str(tree), "--target", "trt-99")
    assert proc.returncode == 2 and "unknown target" in proc.stderr and proc.stdout == ""


def test_what_a_folder_holds_under_a_model_s_name_is_never_skipped_silently(tree):
    """A FIFO or a broken link named `*.onnx` is an error row (never opened: a FIFO would
    block the run); a folder named so is searched like any other."""
    import os

    os.mkfifo(tree / "pipe.onnx")
    (tree / "gone.onnx").symlink_to(tree / "nowhere.onnx")
    (tree / "bundle.onnx").mkdir()
    save(topk_model(), tree / "bundle.onnx" / "inside.onnx")
    proc = run_cli(CHECK, str(tree), *STATIC, "--format", "json", timeout=120)
    assert proc.returncode == 2, proc.stderr
    rows = {r["path"]: r for r in _json(proc)["models"]}
    assert rows[str(tree / "bundle.onnx" / "inside.onnx")]["status"] == "supported"
    assert str(tree / "bundle.onnx") not in rows
    assert "not a regular file" in rows[str(tree / "pipe.onnx")]["error"]["message"]
    assert rows[str(tree / "gone.onnx")]["status"] == "error"
    assert _json(proc)["summary"] == {"models": 5, "supported": 2, "unsupported": 1, "error": 2}


def test_the_json_summary_is_the_batch_s_json(tree, tmp_path):
    """The JSON summary is written piecewise (each report by the single-model renderer,
    spliced into the indented summary); what it reads back as equals `BatchResult.to_json()`
    exactly: reports with findings, a name with quotes, line breaks and `"report": null` in
    it, an error row, and no model at all."""
    from trtforge.analyzer import api
    from trtforge.analyzer.batch import BatchResult, ModelResult
    from trtforge.analyzer.errors import UserError
    from trtforge.analyzer.reports.many_report import render_json

    odd = custom_op_model()
    odd.graph.node[0].name = 'a "name"\n "report": null,\n\t×'
    save(odd, tmp_path / "odd.onnx")
    reports = [
        ModelResult(str(path), 0.5, report=api.check(path, target="trt-10", backend="static"))
        for path in (tree / "ok.onnx", tree / "nested" / "deeper" / "custom.onnx")
    ]
    odd_path = tmp_path / 'odd "report": null.onnx'
    (tmp_path / "odd.onnx").rename(odd_path)
    reports.append(ModelResult(str(odd_path), 0.25, report=api.check(odd_path, target="trt-10")))
    error = ModelResult("bad.onnx", 0.0, error=UserError('bad "report": null', "re-export"))
    for batch in (BatchResult([*reports, error]), BatchResult([error]), BatchResult([])):
        data = json.loads(render_json(batch))
        assert data == batch.to_json()
        jsonschema.validate(data, check_many_schema())


def test_a_folder_nested_deeper_than_python_recurses_is_searched(tmp_path):
    """The walk keeps its own stack: a tree 1,200 folders deep (a recursion of pathlib's
    rglob past Python's limit: exit 3) is searched like any other."""
    import os

    from trtforge.analyzer.batch import collect

    deep = tmp_path / "top"
    deep.mkdir()
    save(topk_model(), deep / "m.onnx")
    folders = [str(deep)]
    for _ in range(1200):  # (os.makedirs recurses too)
        folders.append(os.path.join(folders[-1], "d"))
        os.mkdir(folders[-1])
    (deep / "loop.onnx").symlink_to(deep)  # a link to a folder, under a model's name
    try:
        assert collect([str(deep)]) == [deep / "m.onnx"]
    finally:  # pytest removes old temporary folders with a recursive rmtree
        for folder in reversed(folders[1:]):
            os.rmdir(folder)


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_file_names_are_shown_escaped_in_the_summary(tmp_path, fmt):
    """A file name is untrusted text: escape sequences, newlines and bidi overrides in it
    (or in the error that quotes it) are shown as visible escapes, never written raw."""
    folder = tmp_path / "models"
    folder.mkdir()
    save(topk_model(), folder / "esc\x1b[31mred.onnx")
    save(topk_model(), folder / "bidi\u202eflip.onnx")
    save(topk_model(), folder / "nl\ninjected.onnx")
    (folder / "bad\x1b[2J.onnx").write_bytes(b"not a model")
    proc = run_cli(CHECK, str(folder), *STATIC, "--format", fmt)
    assert proc.returncode == 2, proc.stderr
    assert "\x1b" not in proc.stdout and "\u202e" not in proc.stdout
    assert "\\x1b[31mred" in proc.stdout.replace("\\\\", "\\")
    assert "\\u202eflip" in proc.stdout.replace("\\\\", "\\")
    assert not any(line.startswith("injected") for line in proc.stdout.splitlines())
