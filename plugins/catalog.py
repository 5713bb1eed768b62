"""The plugins this installation knows: auto-discovered declarations, no central list.

Every module in ``trtforge.plugins.decls`` that defines ``SPEC`` (a :class:`PluginSpec`) or
``SPECS`` (a sequence of them) contributes; two declarations with the same
``(name, version, namespace)`` are an error. ``is_available`` answers cheaply (file checks, no
TensorRT import) whether a plugin can be registered in this process.
"""

from __future__ import annotations

import functools
import importlib
import logging
import pkgutil
from pathlib import Path

from trtforge.plugins.spec import PluginSpec

logger = logging.getLogger("trtforge.plugins")


class DuplicatePluginError(RuntimeError):
    """Two declarations claim the same (name, version, namespace)."""


def _decl_modules() -> list[str]:
    import trtforge.plugins.decls as decls

    return sorted(
        f"{decls.__name__}.{m.name}"
        for m in pkgutil.iter_modules(decls.__path__)
        if not m.name.startswith("_")
    )


@functools.lru_cache(maxsize=1)
def _load_with_modules() -> tuple[tuple[PluginSpec, str], ...]:
    seen: dict[tuple[str, str, str], str] = {}
    specs: list[tuple[PluginSpec, str]] = []
    for modname in _decl_modules():
        mod = importlib.import_module(modname)
        found = list(getattr(mod, "SPECS", ()))
        if getattr(mod, "SPEC", None) is not None:
            found.append(mod.SPEC)
        if not found:
            logger.warning("plugin declaration module %s defines no SPEC", modname)
        for spec in found:
            if not isinstance(spec, PluginSpec):
                raise TypeError(f"{modname}: SPEC must be a PluginSpec, got {type(spec).__name__}")
            if spec.key in seen:
                raise DuplicatePluginError(
                    f"plugin {spec.qualified_name} is declared twice: in {seen[spec.key]} "
                    f"and in {modname}"
                )
            seen[spec.key] = modname
            specs.append((spec, modname))
    return tuple(specs)


def _load() -> tuple[PluginSpec, ...]:
    return tuple(s for s, _ in _load_with_modules())


def declaration_module(spec: PluginSpec) -> str:
    """The short name of the module declaring ``spec`` (= its folder name under ``csrc/``)."""
    for s, modname in _load_with_modules():
        if s.key == spec.key:
            return modname.rsplit(".", 1)[-1]
    raise KeyError(spec.key)


def all_plugins() -> list[PluginSpec]:
    """Every declared plugin, sorted by (namespace, name, version)."""
    return sorted(_load(), key=lambda s: (s.namespace, s.name, s.version))


def find_plugin(op_type: str, version: str = "1", namespace: str = "trtforge") -> PluginSpec | None:
    """The declaration for ``(op_type, version, namespace)``, or ``None``."""
    return _by_key().get((op_type, version, namespace))


#: (the declarations `_by_key` indexed, that index): rebuilt when they are loaded again
_INDEX: tuple[object, dict] = (None, {})


def _by_key() -> dict[tuple[str, str, str], PluginSpec]:
    """Every declaration by its key, from the declarations loaded now (looked up for each
    node of a model whose ops have no importer: a scan of them all for each of 100,000)."""
    global _INDEX
    loaded = _load_with_modules()
    if _INDEX[0] is not loaded:
        _INDEX = (loaded, {spec.key: spec for spec, _ in loaded})
    return _INDEX[1]


def find_for_node(node, target=None) -> PluginSpec | None:
    """The declaration `target`'s ONNX parser creates for ``node``, or ``None`` (the rule:
    ``trtforge.analyzer.plugin_lookup``; ``target=None`` means the newest parsers)."""
    from trtforge.analyzer.plugin_lookup import find_declared

    return find_declared(node, target)


def package_dirs() -> list[Path]:
    """The ``trtforge`` namespace package's directories (where ``_C*.so`` and ``lib/`` live)."""
    import trtforge

    return [Path(p) for p in trtforge.__path__]


def native_library_path() -> Path | None:
    """Path of ``libtrtforge_plugins.so`` if it was built, else ``None``."""
    import os

    env = os.environ.get("TRTFORGE_PLUGIN_LIBRARY")
    if env:
        p = Path(env)
        return p if p.is_file() else None
    for d in package_dirs():
        p = d / "lib" / "libtrtforge_plugins.so"
        if p.is_file():
            return p
    return None


def extension_path() -> Path | None:
    """Path of the ``trtforge._C`` extension if it was built, else ``None``."""
    import importlib.machinery

    for d in package_dirs():
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            p = d / f"_C{suffix}"
            if p.is_file():
                return p
    return None


@functools.lru_cache(maxsize=1)
def _built_keys() -> frozenset[tuple[str, str, str]] | None:
    """Keys compiled into the native library, from the manifest written beside it."""
    lib = native_library_path()
    if lib is None:
        return None
    manifest = lib.with_name("plugins.txt")
    if not manifest.is_file():
        return None
    keys = set()
    for line in manifest.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            ns = "" if parts[0] == '""' else parts[0]  # namespace name version
            keys.add((parts[1], parts[2], ns))
    return frozenset(keys)


def is_available(spec: PluginSpec) -> bool:
    """True when ``spec``'s kernels were built, so it can be registered in this process.

    Cheap: looks at the files the build installed (the native library and its manifest of
    compiled plugins); imports neither TensorRT nor the extension.
    """
    keys = _built_keys()
    if keys is None:
        return False
    return spec.key in keys
