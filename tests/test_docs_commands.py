"""The README's and docs' shown commands run, and print what the docs show.

Two conventions in README.md and docs/*.md, checked for every occurrence (no list to edit):

* `<!-- output-of: CMD -->` before a fenced block: the block shows CMD's output. CMD is run
  (from the repository root) and every line of the block must appear in its output, in order
  (leading/trailing spaces ignored, `…` lines skip any number of lines, a rule line `Name ───`
  matches any rule width);
* a ```bash block with a line `CMD   # exit N`: its trtforge commands are run in order (`/tmp/`
  is a scratch folder) and each such CMD must exit with N.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MODULES = {
    "trt-check": "trtforge.analyzer.cli.check",
    "trt-rewrite": "trtforge.analyzer.cli.rewrite",
    "trt-build": "trtforge.plugins.cli.build",
    "trt-plugin": "trtforge.plugins.cli.plugin",
}
OUTPUT_OF = re.compile(r"<!-- output-of: (.+?) -->\s*```[a-z]*\n(.*?)\n```", re.S)
BASH_BLOCK = re.compile(r"```bash\n(.*?)\n```", re.S)
EXIT = re.compile(r"\s+# exit (\d)\s*$")


def _shown_outputs() -> list[tuple[str, str, str]]:
    found = []
    for doc in DOCS:
        found += [(doc.name, cmd, body) for cmd, body in OUTPUT_OF.findall(doc.read_text("utf-8"))]
    return found


def _blocks_with_exits() -> list[tuple[str, list[tuple[str, int | None]]]]:
    """(doc, [(command, expected exit or None)]) for each bash block that states an exit."""
    found = []
    for doc in DOCS:
        for block in BASH_BLOCK.findall(doc.read_text("utf-8")):
            steps = []
            for line in block.splitlines():
                if not line.startswith("trt-"):
                    continue
                code = EXIT.search(line)
                command = line[: code.start()] if code else line.split("  #")[0]
                steps.append((command.strip(), int(code[1]) if code else None))
            if any(c is not None for _, c in steps):
                found.append((doc.name, steps))
    return found


def _run(command: str, tmp_path: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(command.replace("/tmp/", f"{tmp_path}/"))
    assert argv[0] in MODULES, f"not a trtforge command: {command}"
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-m", MODULES[argv[0]], *argv[1:]],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _norm(line: str) -> str:
    line = line.strip()
    return re.sub(r"\s*─+$", " ─", line)


def assert_lines_in_order(shown: str, actual: str) -> None:
    lines = [_norm(x) for x in actual.splitlines()]
    at = 0
    for want in (_norm(x) for x in shown.splitlines()):
        if not want or want == "…":
            continue
        try:
            at = lines.index(want, at) + 1
        except ValueError:
            raise AssertionError(
                f"the docs show a line the command does not print (in this order):\n  {want}\n"
                f"actual output:\n{actual}"
            ) from None


SHOWN = _shown_outputs()
EXITS = _blocks_with_exits()


def test_the_docs_show_commands_with_their_output():
    docs = {doc for doc, _, _ in SHOWN}
    assert {"README.md", "trt-check.md"} <= docs
    assert EXITS


@pytest.mark.parametrize("doc,command,body", SHOWN, ids=[f"{d}:{c}" for d, c, _ in SHOWN])
def test_shown_output_is_what_the_command_prints(doc, command, body, tmp_path):
    proc = _run(command, tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert_lines_in_order(body, proc.stdout + proc.stderr)


@pytest.mark.parametrize("doc,steps", EXITS, ids=[f"{d}:{s[0][0]}" for d, s in EXITS])
def test_shown_exit_status(doc, steps, tmp_path):
    for command, code in steps:
        proc = _run(command, tmp_path)
        assert proc.returncode == (0 if code is None else code), f"{command}: {proc.stderr}"


def test_the_comparison_fails_on_a_line_the_tool_does_not_print():
    with pytest.raises(AssertionError, match="does not print"):
        assert_lines_in_order("a\nc\nb", "a\nb\nc")
    assert_lines_in_order("a\n…\nc\nRule ───", "a\nb\nc\nRule ──────────")
