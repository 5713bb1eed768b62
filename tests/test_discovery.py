"""Units are discovered by declaration; a public module that declares nothing is an error."""

from __future__ import annotations

import importlib

import pytest

from trtforge.analyzer.discovery import MissingDeclarationError, declarations


def _package(tmp_path, name: str, modules: dict[str, str]):
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text("")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    return importlib.import_module(name)


def test_declarations_in_name_order_skipping_helpers(tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    package = _package(
        tmp_path, "units_ok", {"b": "UNIT = 2\n", "a": "UNIT = 1\n", "_shared": "X = 0\n"}
    )
    assert list(declarations(package, "UNIT")) == [("units_ok.a", 1), ("units_ok.b", 2)]


def test_a_module_declaring_nothing_is_an_error(tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    package = _package(tmp_path, "units_bad", {"a": "UNIT = 1\n", "b": "OTHER = 2\n"})
    with pytest.raises(MissingDeclarationError, match="units_bad.b declares no UNIT"):
        list(declarations(package, "UNIT"))
