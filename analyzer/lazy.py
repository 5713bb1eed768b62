"""Heavy third-party modules imported on first use, so that `-h` and discovery stay instant.

Every rewrite pass is imported when trt-rewrite builds its parser (passes declare their
options) and when trt-check asks which passes remove a node, but neither needs
onnx-graphsurgeon until a graph is actually rewritten. A pass module therefore writes

    from trtforge.analyzer.lazy import lazy_import

    gs = lazy_import("onnx_graphsurgeon")

and uses `gs.Node`, `gs.Constant`, ... as usual: the first attribute read imports the module.
Annotations cost nothing (every module uses `from __future__ import annotations`).

A package re-exporting names of its modules does the same with `lazy_exports` (PEP 562):

    __getattr__, __dir__ = lazy_exports(__name__, {"check": "trtforge.analyzer.api"})

The stand-in is never put in `sys.modules`, so `"onnx_graphsurgeon" in sys.modules` keeps
telling the truth (tests/reports/test_cli.py relies on it).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


class _LazyModule:
    """Stands in for module `name` until an attribute is read, then copies the module's
    namespace into itself so later reads cost what a plain module attribute costs."""

    def __init__(self, name: str) -> None:
        self.__dict__["_lazy_name"] = name

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__dict__["_lazy_name"])
        self.__dict__.update(vars(module))
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_lazy_name']!r}>"


def lazy_import(name: str) -> Any:
    """A stand-in for `import name` that imports `name` on its first attribute read.

    A missing module raises `ModuleNotFoundError` at that first read, not here.
    """
    return _LazyModule(name)


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's module-level `__getattr__` and `__dir__` (PEP 562) that import each name of
    `exports` (name -> defining module) on first use and keep it in the package.

    Any other name raises AttributeError, so `from package import submodule` still imports
    the submodule.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
