"""Discovers rewrite passes by declaration: every module in `rewrite.passes` defining `PASS`.

One module holds one pass; two passes with the same id are an error.
"""

from __future__ import annotations

from functools import cache

from trtforge.analyzer.discovery import declarations
from trtforge.analyzer.rewrite.base import PassOption, RewritePass


class DuplicatePassError(RuntimeError):
    """Two modules declare a pass with the same id."""


@cache
def _passes_by_id() -> dict[str, type[RewritePass]]:
    from trtforge.analyzer.rewrite import passes

    found: dict[str, type[RewritePass]] = {}
    origin: dict[str, str] = {}
    for module, declared in declarations(passes, "PASS"):
        register(found, origin, declared, module)
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))


def register(
    found: dict[str, type[RewritePass]],
    origin: dict[str, str],
    declared: type[RewritePass],
    module: str,
) -> None:
    """Adds one pass class to `found`, rejecting a malformed or duplicate declaration."""
    if not (isinstance(declared, type) and issubclass(declared, RewritePass)):
        raise TypeError(f"{module}.PASS is not a RewritePass subclass")
    if not declared.id:
        raise TypeError(f"{module}.PASS has no id")
    for option in declared.options:
        if not (isinstance(option, PassOption) and option.name.isidentifier()):
            raise TypeError(f"{module}.PASS.options: {option!r} is not a PassOption")
    if declared.id in found:
        raise DuplicatePassError(
            f"rewrite pass '{declared.id}' declared twice: {origin[declared.id]} and {module}"
        )
    found[declared.id] = declared
    origin[declared.id] = module


def all_passes() -> list[str]:
    """Every pass id, in the order passes run."""
    return list(_passes_by_id())


def get_pass(pass_id: str) -> type[RewritePass]:
    """The pass class of `pass_id`.

    Raises:
        KeyError: no such pass.
    """
    return _passes_by_id()[pass_id]


def pass_classes() -> list[type[RewritePass]]:
    return list(_passes_by_id().values())


def declared_options() -> dict[str, PassOption]:
    """Every option the passes declare, by name, in pass order.

    Raises:
        DuplicatePassError: two passes declare different options under one name (two passes
            may share an option by declaring the same `PassOption`).
    """
    options: dict[str, PassOption] = {}
    owner: dict[str, str] = {}
    for pid, cls in _passes_by_id().items():
        for option in cls.options:
            if option.name in options and options[option.name] != option:
                raise DuplicatePassError(
                    f"rewrite option '{option.name}' declared differently by passes "
                    f"'{owner[option.name]}' and '{pid}'"
                )
            options.setdefault(option.name, option)
            owner.setdefault(option.name, pid)
    return options


def advised_passes() -> dict[str, type[RewritePass]]:
    """The passes trt-check advises (those declaring `advice`), by id, in pass order."""
    return {pid: cls for pid, cls in _passes_by_id().items() if cls.advice is not None}


def passes_removing(domain: str, op_type: str) -> list[str]:
    """Ids of the passes that replace nodes of `op_type` in the custom `domain`."""
    key = ("" if domain == "ai.onnx" else domain, op_type)
    return list(_removers().get(key, ()))


#: (the pass table `_removers` indexed, that index): rebuilt for another table
_REMOVERS: tuple[object, dict] = (None, {})


def _removers() -> dict[tuple[str, str], list[str]]:
    """(domain, op_type) -> the ids of the passes that replace such nodes, in pass order,
    from the pass table now (asked for each node of a custom op: a scan of every pass for
    each of 100,000)."""
    global _REMOVERS
    table = _passes_by_id()
    if _REMOVERS[0] is not table:
        index: dict[tuple[str, str], list[str]] = {}
        for pid, cls in table.items():
            for key in cls.removes:
                index.setdefault(key, []).append(pid)
        _REMOVERS = (table, index)
    return _REMOVERS[1]


def node_fixing_passes() -> list[type[RewritePass]]:
    """The passes that declare the standard-op nodes they fix (`RewritePass.fixes`), in pass
    order."""
    default = RewritePass.fixes.__func__
    return [cls for cls in _passes_by_id().values() if cls.fixes.__func__ is not default]
