"""Structure rules of the repository (docs/architecture.md): development tooling stays out of
the installed packages, nothing cites files outside the repository, commands pass state by
call rather than through the environment."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INSTALLED = ("analyzer", "plugins")
SOURCES = [
    p
    for folder in (*INSTALLED, "tools", "tests", "benchmarks", "docs", "examples")
    for p in (REPO / folder).rglob("*")
    if p.suffix in (".py", ".md") and "__pycache__" not in p.parts
] + [REPO / "README.md"]


def test_development_tooling_is_not_installed():
    assert not (REPO / "analyzer" / "oracle").exists()
    assert (REPO / "tools" / "oracle" / "__main__.py").is_file()
    for package in INSTALLED:
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"^\s*(from|import) tools\b", text, re.M), path


def test_nothing_cites_files_outside_the_repository():
    for path in SOURCES:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path == Path(__file__):
            continue
        assert "DESIGN.md" not in text, path
        assert "kb.engine" not in text, path


def test_docs_link_the_architecture_and_name_real_modules():
    assert "docs/architecture.md" in (REPO / "README.md").read_text(encoding="utf-8")
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    for module in re.findall(r"`((?:analyzer|plugins|tools)/[\w/]+\.py)`", text):
        assert (REPO / module).is_file(), module


def test_trt_build_chooses_the_flavour_by_call_not_through_the_environment(monkeypatch):
    from trtforge.analyzer import trt

    monkeypatch.delenv("TRTFORGE_TRT_FLAVOUR", raising=False)
    before = dict(os.environ)
    try:
        trt.choose("rtx")
        assert trt.flavour() in ("rtx", None)  # None: tensorrt_rtx not installed here
        assert dict(os.environ) == before
    finally:
        trt.choose("")
    build = (REPO / "plugins" / "cli" / "build.py").read_text(encoding="utf-8")
    assert 'os.environ["TRTFORGE_TRT_FLAVOUR"]' not in build


@pytest.mark.parametrize("name", ["pass_table", "plugin_table"])
def test_generated_doc_sections_are_fresh(name):
    import importlib

    section = importlib.import_module(f"tools.{name}").SECTION
    assert not section.is_stale(), f"{section.doc.name} is stale: python -m tools.{name}"


def test_the_generated_tables_name_every_pass_and_plugin():
    from tools import pass_table, plugin_table
    from trtforge.analyzer.rewrite.registry import all_passes
    from trtforge.plugins import all_plugins

    for pid in all_passes():
        assert f"`--{pid}`" in pass_table.table()
    text = plugin_table.section()
    for spec in all_plugins():
        assert f"{spec.name}` v{spec.version}" in text
        assert spec.doc.strip().splitlines()[0] in text  # PluginSpec.doc is rendered


def test_a_pass_imports_no_other_pass():
    """Shared matching lives in `_`-prefixed helper modules (e.g. `passes/_norm_match.py`),
    never in another pass: a pass can then be removed or changed on its own."""
    passes = REPO / "analyzer" / "rewrite" / "passes"
    public = {p.stem for p in passes.glob("*.py") if not p.stem.startswith("_")}
    for path in passes.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        imported = set(re.findall(r"trtforge\.analyzer\.rewrite\.passes\.(\w+)", text))
        assert not imported & public, f"{path.name} imports pass {sorted(imported & public)}"
