"""The pass framework: a pass finds candidate matches, checks each (a skip reason or None), and
rewrites the ones that pass.

A pass never runs `cleanup()`/`toposort()` itself and never keeps match state on the pass
class: the manager (`rewrite.manager`) creates a fresh instance for every run, cleans the graph
once after a pass that changed it, and reruns all passes until none changes anything.

    class FuseThing(RewritePass):
        '''Before: ...  After: ...  Skips: ...'''
        id = "fuse-thing"
        summary = "one line for --help"

        def find(self, ctx):
            for node in ctx.graph.nodes:
                if node.op == "Thing":
                    yield Match(anchor=node.name, nodes=[node])

        def check(self, match, ctx):
            return None if ok else "why not"

        def rewrite(self, match, ctx):
            ...  # build nodes with ctx.node(...), ctx.constant(...)

    PASS = FuseThing
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import onnx_graphsurgeon as gs

from trtforge.analyzer.targets import Target

log = logging.getLogger("trtforge.rewrite")

LAYERNORM_IMPLS = ("auto", "onnx", "plugin")


@dataclass(frozen=True)
class RewriteOptions:
    """Options every pass may read.

    Attributes:
        target: the TensorRT target the model is rewritten for.
        layernorm_impl: "onnx" (LayerNormalization, opset >= 17), "plugin" (the trtforge
            LayerNorm plugin node), or "auto" (onnx when the model's opset is >= 17, else plugin).
        rmsnorm_impl: "onnx" (RMSNormalization, opset >= 23), "plugin" (the trtforge RMSNorm
            plugin node), or "auto" (onnx when the model's opset is >= 23 and the target's
            parser imports RMSNormalization, else plugin).
    """

    target: Target
    layernorm_impl: str = "auto"
    rmsnorm_impl: str = "auto"
    #: the opset `upgrade-opset` converts to (None: its default).
    upgrade_opset: int | None = None


@dataclass
class Match:
    """One occurrence of a pass's pattern.

    Attributes:
        anchor: a name identifying the occurrence in reports (usually a node name).
        nodes: every node the pattern covers; two matches sharing a node are never both
            rewritten in one run.
        data: whatever the pass found while matching (tensors, constants, attributes).
    """

    anchor: str
    nodes: list[gs.Node]
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    """A match a pass declined, and why."""

    anchor: str
    reason: str


@dataclass
class PassOutcome:
    """What one run of one pass did."""

    applied: int = 0
    skips: list[Skip] = field(default_factory=list)
    changed: bool = False


class PassContext:
    """What a pass sees during one run: the graph, the options, and naming helpers.

    New nodes and tensors are named under the pass id (`fuse-layernorm/LayerNorm_0`), unique
    in the graph.
    """

    def __init__(
        self, graph: gs.Graph, options: RewriteOptions, pass_id: str, opsets: dict[str, int]
    ):
        self.graph = graph
        self.options = options
        self.pass_id = pass_id
        self.opsets = opsets
        self._taken: set[str] | None = None
        self._next_index: dict[str, int] = {}  # base -> the next index to try (`unique`)

    @property
    def target(self) -> Target:
        return self.options.target

    @property
    def opset(self) -> int:
        """The model's default-domain (ai.onnx) opset."""
        return self.opsets.get("", 0)

    def _names(self) -> set[str]:
        if self._taken is None:
            taken = {n.name for n in self.graph.nodes}
            taken.update(self.graph.tensors().keys())
            self._taken = taken
        return self._taken

    def unique(self, base: str) -> str:
        """A name under the pass id that no node or tensor of the graph uses yet.

        Numbering resumes where the last name of the same base stopped: a pass rewriting
        thousands of matches must not rescan every earlier name (that was quadratic).
        """
        taken = self._names()
        index = self._next_index.get(base, 0)
        while True:
            name = f"{self.pass_id}/{base}_{index}"
            if name not in taken:
                taken.add(name)
                self._next_index[base] = index + 1
                return name
            index += 1

    def variable(self, base: str, dtype=None, shape=None) -> gs.Variable:
        return gs.Variable(self.unique(base), dtype=dtype, shape=shape)

    def constant(self, base: str, value: np.ndarray) -> gs.Constant:
        return gs.Constant(self.unique(base), np.array(value, order="C"))

    def node(
        self,
        op: str,
        inputs: Sequence[gs.Tensor],
        outputs: Sequence[gs.Tensor],
        attrs: dict[str, Any] | None = None,
        domain: str | None = None,
        base: str | None = None,
    ) -> gs.Node:
        """Adds a node named under the pass id to the graph."""
        node = gs.Node(
            op=op,
            name=self.unique(base or op),
            attrs=dict(attrs or {}),
            inputs=list(inputs),
            outputs=list(outputs),
            domain=domain,
        )
        self.graph.nodes.append(node)
        return node

    def require_domain(self, domain: str, version: int) -> None:
        """Records that the output model must import `domain` at `version` or later."""
        if self.opsets.get(domain, 0) < version:
            self.opsets[domain] = version


def detach(node: gs.Node) -> None:
    """Disconnects a node's outputs so that `cleanup()` removes it (and its dead inputs)."""
    node.outputs.clear()


class RewritePass:
    """Base class of every rewrite pass. Subclasses set `id`, `summary`, and implement
    `find`, `check` and `rewrite` (or override `run` for whole-graph passes).

    Class attributes:
        id: the pass id, also its CLI flag (`--<id>`) and its name in trt-check fixes.
        summary: one line for `--help` and the docs.
        order: passes run in ascending order within each round.
        removes: (domain, op_type) pairs of custom-domain ops this pass replaces; trt-check
            names the pass as the fix for such nodes.
        value_metavar: set when the pass's flag takes a value (read from `RewriteOptions`).
    """

    id: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    order: ClassVar[int] = 50
    removes: ClassVar[frozenset[tuple[str, str]]] = frozenset()
    #: a pass whose flag takes a value (`--upgrade-opset N`) names it here; None: a plain flag.
    value_metavar: ClassVar[str | None] = None

    def find(self, ctx: PassContext) -> Iterable[Match]:
        """Yields every candidate occurrence of the pattern. Must not mutate the graph."""
        raise NotImplementedError

    def check(self, match: Match, ctx: PassContext) -> str | None:
        """Returns why `match` must not be rewritten, or None. Must not mutate the graph."""
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        """Replaces `match`. Detaches what it replaces; the manager cleans up afterwards."""
        raise NotImplementedError

    def run(self, ctx: PassContext) -> PassOutcome:
        """Finds, checks and rewrites every non-overlapping match once."""
        outcome = PassOutcome()
        touched: set[int] = set()
        for match in list(self.find(ctx)):
            if any(id(n) in touched for n in match.nodes):
                outcome.changed = True  # found again in the next round
                continue
            reason = self.check(match, ctx)
            if reason is not None:
                outcome.skips.append(Skip(match.anchor, reason))
                log.info("%s: skipped %s: %s", self.id, match.anchor, reason)
                continue
            self.rewrite(match, ctx)
            touched.update(id(n) for n in match.nodes)
            outcome.applied += 1
            outcome.changed = True
            log.info("%s: rewrote %s", self.id, match.anchor)
        return outcome
