"""Discovers op rules by declaration: every module in `kb.ops` that defines `RULES`."""

from __future__ import annotations

from functools import cache

from trtforge.analyzer.discovery import declarations
from trtforge.analyzer.kb.rule import OpRule


class DuplicateRuleError(RuntimeError):
    """Two modules declare a rule for the same (domain, op)."""


@cache
def _rules_by_key() -> dict[tuple[str, str], OpRule]:
    from trtforge.analyzer.kb import ops

    rules: dict[tuple[str, str], OpRule] = {}
    origin: dict[tuple[str, str], str] = {}
    for module, declared in declarations(ops, "RULES"):
        for rule in declared:
            if not isinstance(rule, OpRule):
                raise TypeError(f"{module}.RULES holds a {type(rule).__name__}")
            if rule.key in rules:
                raise DuplicateRuleError(
                    f"rule for {rule.domain or 'ai.onnx'}::{rule.op} declared twice: "
                    f"{origin[rule.key]} and {module}"
                )
            rules[rule.key] = rule
            origin[rule.key] = module
    return rules


def all_rules() -> list[OpRule]:
    """Every rule, sorted by (domain, op)."""
    return [rules for _, rules in sorted(_rules_by_key().items())]


def find_rule(domain: str, op: str) -> OpRule | None:
    """The rule for `op` under `domain` exactly (use "" for the built-in importer table)."""
    if domain == "ai.onnx":
        domain = ""
    return _rules_by_key().get((domain, op))
