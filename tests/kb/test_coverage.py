"""The knowledge base covers every operator the installed onnx defines, for every target."""

from __future__ import annotations

import onnx.defs
import pytest

from trtforge.analyzer.kb import all_rules, find_rule
from trtforge.analyzer.targets import NEWEST_MINOR, parse_target

DEFAULT_DOMAIN_OPS = sorted(
    {s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain in ("", "ai.onnx")}
)
TARGETS = [parse_target(line) for line in NEWEST_MINOR]


def test_every_default_domain_op_has_a_rule() -> None:
    missing = [op for op in DEFAULT_DOMAIN_OPS if find_rule("", op) is None]
    assert not missing, f"{len(missing)} ONNX ops have no rule: {', '.join(missing)}"


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_every_rule_decides_for_every_target(target) -> None:
    """Each rule says, for each target, whether the parser has the op (no silent gaps)."""
    for op in DEFAULT_DOMAIN_OPS:
        rule = find_rule("", op)
        if rule is None:
            continue  # reported by the test above
        first = rule.since.first(target)
        assert first is None or isinstance(first, tuple), f"{op}: bad Since for {target}"
        if first is None:
            assert rule.since.reason or rule.hint, f"{op}: unavailable on {target} without a reason"


def test_every_rule_names_its_source() -> None:
    unsourced = [f"{r.domain or 'ai.onnx'}::{r.op}" for r in all_rules() if not r.source.strip()]
    assert not unsourced, f"rules without a source: {unsourced}"


def test_opset_ranges_are_sane() -> None:
    for rule in all_rules():
        if rule.opsets is None:
            continue
        low, high = rule.opsets
        assert low >= 1 and (high is None or high >= low), f"{rule.op}: opsets {rule.opsets}"
