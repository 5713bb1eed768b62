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

A third-party module that another package imports at its top but uses only inside functions
(onnx's `serialization` imports protobuf's JSON and text formats, ~35 ms that a check never
uses) is deferred for the whole process by `defer_imports`, before that package is imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
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


#: modules onnx imports at start-up and uses only to print or parse a model as text or JSON
#: (`onnx.serialization`): ~35 ms of every command's start, none of whose work a check does
ONNX_TEXT_FORMATS = ("google.protobuf.text_format", "google.protobuf.json_format")


class _Deferred(types.ModuleType):
    """Stands in `sys.modules` for a module not yet run (`defer_imports`). It holds the
    attributes the import system reads (`__spec__`, `__name__`, ...), so `import` of it
    costs nothing; reading any other attribute runs the module, puts it in `sys.modules`
    and on its package, and copies its namespace here for those who hold the stand-in.
    (`importlib.util.LazyLoader` runs the module as soon as an `import` of it reads
    `__spec__`: onnx's own import would run it.)"""

    def __getattr__(self, attr: str) -> Any:
        name = self.__name__
        module = sys.modules.get(name)
        if module is None:  # blocked since (`sys.modules[name] = None`), as `import` says
            raise ModuleNotFoundError(f"import of {name} halted; None in sys.modules", name=name)
        if module is self:
            spec = self.__spec__
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # (as `import` does while the module runs)
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules[name] = self
                raise
            package, _, leaf = name.rpartition(".")
            if package in sys.modules:
                setattr(sys.modules[package], leaf, module)
        self.__dict__.update(vars(module))
        return getattr(module, attr)


def defer_imports(names: tuple[str, ...] = ONNX_TEXT_FORMATS) -> None:
    """Puts a stand-in (`_Deferred`) in `sys.modules` and on its package for each module of
    `names` not yet imported: an `import` of it elsewhere costs nothing until one of its
    attributes is read. A console entry point calls this before importing onnx; a module
    that cannot be found is left alone (its importer meets the error as before)."""
    for name in names:
        if name in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or spec.loader is None:
            continue
        stand_in = _Deferred(name)
        stand_in.__spec__, stand_in.__loader__ = spec, spec.loader
        stand_in.__file__ = spec.origin
        stand_in.__package__ = name.rpartition(".")[0]
        sys.modules[name] = stand_in
        package, _, leaf = name.rpartition(".")
        if package:
            setattr(sys.modules[package], leaf, stand_in)
