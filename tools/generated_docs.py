"""Doc sections generated from a registry: the text between two markers in a Markdown file is
replaced by what a function renders, and a test fails when the file is stale.

Used by `tools.pass_table` (rewrite passes, docs/trt-rewrite.md) and `tools.plugin_table`
(plugin declarations, docs/plugins.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


@dataclass(frozen=True)
class Section:
    """One generated section: `render()` goes between `begin` and `end` in `doc`."""

    doc: Path
    begin: str
    end: str
    render: Callable[[], str]

    def fresh(self, text: str) -> str:
        """`text` with the section replaced by the current rendering.

        Raises:
            ValueError: a marker is missing.
        """
        start, stop = text.index(self.begin) + len(self.begin), text.index(self.end)
        return text[:start] + "\n" + self.render() + "\n" + text[stop:]

    def is_stale(self) -> bool:
        text = self.doc.read_text(encoding="utf-8")
        return self.fresh(text) != text


def cell(text: str) -> str:
    """`text` as one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def main(section: Section, prog: str, argv: list[str] | None = None) -> int:
    """`python -m <prog> [--check]`: rewrite the section, or exit 1 when it is stale."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the docs are stale")
    args = parser.parse_args(argv)
    text = section.doc.read_text(encoding="utf-8")
    fresh = section.fresh(text)
    if args.check:
        if fresh != text:
            print(f"{section.doc} is stale: run python -m {prog}", file=sys.stderr)
            return 1
        return 0
    section.doc.write_text(fresh, encoding="utf-8")
    return 0
