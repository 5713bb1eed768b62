"""A rule that finds nothing wrong must have read nothing outside the node's key.

The static backend judges one node of each key (op, attributes, facts of its tensors) and
shares a clean verdict with the others (`backends.static.VerdictMemo`), unless the rule read
something the key leaves out: the node proto, a tensor's name, a tensor attribute's values
(`NodeContext.reads_outside`). A rule that reads `ctx.node.input` to ask whether an input is
there, or a tensor attribute's values for its element type, makes every node of its op a
judgement of its own: a 100,000-node chain of Dropouts took ~1.4 s instead of ~0.5 s. This
test holds every rule to its key on ONNX's node test cases, one of each op: a rule must read
what the key holds (`ctx.has_input`, `ctx.op`, `ctx.tensor_attr_head`) for a verdict with no
finding. Only If/Loop/Scan read their bodies, which no key holds.
"""

from __future__ import annotations

import numpy as np
import pytest

from trtforge.analyzer import _speculation
from trtforge.analyzer.backends import static
from trtforge.analyzer.loading import load_model
from trtforge.analyzer.targets import parse_target


def _one_case_per_op():
    from onnx.backend.test.case import node as node_cases

    with np.errstate(all="ignore"):  # the cases compute their expected outputs
        cases = node_cases.collect_testcases(None)
    firsts = {}
    for case in cases:
        ops = {n.op_type for n in case.model.graph.node}
        if len(ops) == 1:
            firsts.setdefault(ops.pop(), case.model)
    return sorted(firsts.items())


@pytest.mark.parametrize("target", ["rtx-1", "trt-10.0"])
def test_clean_verdicts_read_only_the_nodes_key(monkeypatch, target):
    clean_outside: dict[str, set[bool]] = {}
    judge = static.StaticChecker._judge

    def watched(self, node, *args, **kwargs):
        made = judge(self, node, *args, **kwargs)
        status, findings, _, ctx = made
        if status == "supported" and not findings:
            clean_outside.setdefault(node.op_type, set()).add(ctx.reads_outside)
        return made

    monkeypatch.setattr(static.StaticChecker, "_judge", watched)
    cases = _one_case_per_op()
    assert len(cases) > 150  # ONNX's node cases: one model of each op at hand
    parsed = parse_target(target)
    for _, model in cases:
        static.check_static(load_model(model), parsed)
    assert len(clean_outside) > 100  # most ops have a clean case on either target
    outside = sorted(op for op, seen in clean_outside.items() if True in seen)
    assert [op for op in outside if op not in _speculation.CONTROL_FLOW] == []
