"""Discovery by declaration: units (op rules, rewrite passes) are modules that declare them.

Adding a unit is adding a module to its package; no central list is edited.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType


class MissingDeclarationError(RuntimeError):
    """A public module of a discovery package declares nothing."""


def declarations(package: ModuleType, attribute: str) -> Iterator[tuple[str, object]]:
    """(module name, value of `attribute`) for each public module of `package`, by name.

    Modules whose name starts with "_" are shared helpers and are skipped.

    Raises:
        MissingDeclarationError: a public module does not define `attribute`.
    """
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        declared = getattr(module, attribute, None)
        if declared is None:
            raise MissingDeclarationError(f"{module.__name__} declares no {attribute}")
        yield module.__name__, declared
