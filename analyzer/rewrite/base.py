"""The pass framework: a pass finds candidate matches, checks each (a skip reason or None), and
rewrites the ones that pass.

A pass never runs `cleanup()`/`toposort()` itself and never keeps match state on the pass
class: the manager (`rewrite.manager`) creates a fresh instance for every run, cleans the graph
once after a pass that changed it, and reruns all passes until none changes anything.

    class FuseThing(RewritePass):
        '''Before: ...  After: ...  Skips: ...'''
        id = "fuse-thing"
        summary = "one line for --help"
        options = (PassOption("thing_mode", "auto", "--thing-mode: ...", choices=("auto", "x")),)
        advice = Advice("decomposed Thing", "one Thing layer", frozenset({"Thing"}))  # optional

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
from typing import TYPE_CHECKING, Any, ClassVar

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.targets import Target

if TYPE_CHECKING:
    import onnx

np = lazy_import("numpy")
gs = lazy_import("onnx_graphsurgeon")

log = logging.getLogger("trtforge.rewrite")


@dataclass(frozen=True)
class PassOption:
    """An option a pass declares (`RewritePass.options`).

    trt-rewrite offers it as `--<name with dashes>`; the Python API takes it as a keyword of
    `RewriteOptions`; the pass reads it as `ctx.options.<name>`. Not given, it is `default`.

    Attributes:
        name: a Python identifier, unique among all passes' options.
        default: the value when the option is not given.
        help: one line for `--help` (say what each choice does and what the default picks).
        type: str, int or float (the value's type), or bool (a flag, `default` False).
        choices: the allowed values, or None for any value of `type`.
    """

    name: str
    default: Any
    help: str
    type: type = str
    choices: tuple | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def validate(self, value: Any) -> Any:
        """`value` when allowed.

        Raises:
            ValueError: not one of `choices`, or not of `type`.
        """
        if self.choices is not None and value not in self.choices:
            raise ValueError(
                f"rewrite option {self.name}={value!r}: use one of {', '.join(self.choices)}"
            )
        if not isinstance(value, self.type) and not (self.type is float and isinstance(value, int)):
            raise ValueError(f"rewrite option {self.name}={value!r} is not {self.type.__name__}")
        return value


@dataclass(frozen=True)
class Advice:
    """Declares that trt-check advises the pass (a warning `advice/<id>`) on a model it matches.

    Advice is for passes that make a model TensorRT already accepts build a faster or more
    accurate engine (fusions). trt-check runs the pass in memory, with default options, on a
    model containing one of `needs`, and reports how many matches it would rewrite.

    Attributes:
        what: what one match is, singular ("decomposed LayerNorm").
        fused: what it becomes ("one normalization layer").
        needs: op types a match always contains (a cheap filter before matching).
        why: the reason given in the advice (default: the fusion's gain).
    """

    what: str
    fused: str
    needs: frozenset[str]
    why: str = "fewer layers and kernels; better FP16 accuracy for norms"


class RewriteOptions:
    """Options every pass may read: the target and the options the passes declare.

    `RewriteOptions(target, layernorm_impl="onnx")`; `options.layernorm_impl` reads an option,
    its declared default when not given.

    Raises (constructor):
        TypeError: a keyword no pass declares.
        ValueError: a value the option does not allow.
    """

    def __init__(self, target: Target, **values: Any):
        from trtforge.analyzer.rewrite.registry import declared_options

        declared = declared_options()
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise TypeError(
                f"unknown rewrite option(s) {', '.join(unknown)}; declared: "
                f"{', '.join(declared) or 'none'}"
            )
        self.target = target
        self._values = {
            name: option.validate(values[name]) if name in values else option.default
            for name, option in declared.items()
        }

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"no rewrite option '{name}' (no pass declares it)")

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"RewriteOptions({self.target.id}{', ' if values else ''}{values})"


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
    #: the pass changed node attributes (an Einsum's equation), which the manager's
    #: fingerprint of the graph's structure does not see
    attributes_changed: bool = False
    #: graph output -> (absolute tolerance, why) for verification, where the pass changes
    #: results by design (e.g. a new quantization grid)
    allowances: dict[str, tuple[float, str]] = field(default_factory=dict)


class PassContext:
    """What a pass sees during one run: the graph, the options, and naming helpers.

    New nodes and tensors are named under the pass id (`fuse-layernorm/LayerNorm_0`), unique
    in the graph.
    """

    def __init__(
        self,
        graph: gs.Graph,
        options: RewriteOptions,
        pass_id: str,
        opsets: dict[str, int],
        unused_initializers: frozenset[str] = frozenset(),
    ):
        self.graph = graph
        self.options = options
        self.pass_id = pass_id
        self.opsets = opsets
        #: initializers of the input model that nothing reads, not yet dropped: graphsurgeon
        #: leaves them out of its graph, so only a change written out drops them (the
        #: parser imports every initializer, and one of a type it cannot import fails it)
        self.unused_initializers = unused_initializers
        self._taken: set[str] | None = None
        #: what the pass wants the user to know (`note`), message -> count
        self.notes: dict[str, int] = {}
        self._next_index: dict[str, int] = {}  # base -> the next index to try (`unique`)

    @property
    def target(self) -> Target:
        return self.options.target

    @property
    def opset(self) -> int:
        """The model's default-domain (ai.onnx) opset."""
        return self.opsets.get("", 0)

    def _names(self) -> set[str]:
        """Every node and value name of the model, bodies included (a pass may add nodes to
        a body, and a body's value must not take an outer value's name)."""
        if self._taken is None:
            taken: set[str] = set()
            for graph in [self.graph, *self.graph.subgraphs(recursive=True)]:
                taken.update(n.name for n in graph.nodes)
                taken.update(graph.tensors().keys())
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

    def note(self, message: str) -> None:
        """Records something the report should say (e.g. which form a rewrite produced);
        identical messages are counted, not repeated."""
        self.notes[message] = self.notes.get(message, 0) + 1

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
        options: the options the pass reads (`PassOption`); trt-rewrite offers each as a flag.
        advice: set (`Advice`) when trt-check should advise the pass on models it matches.
        reads_weights: the pass decodes weight values (e.g. to requantize them), so trt-rewrite
            loads the model's external data before running it (other passes keep external
            weights as references).
    """

    id: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    order: ClassVar[int] = 50
    removes: ClassVar[frozenset[tuple[str, str]]] = frozenset()
    options: ClassVar[tuple[PassOption, ...]] = ()
    advice: ClassVar[Advice | None] = None
    reads_weights: ClassVar[bool] = False

    @classmethod
    def fixes(cls, node: onnx.NodeProto, graph) -> str | None:
        """Where this pass rewrites `node` (of `graph`, the analyzer's `GraphView`) into what
        TensorRT takes though the node's op is not one the pass `removes` (a standard op in
        a form the parser refuses): the sentence trt-check adds to the hint of the node's
        errors, naming the pass as their fix; None elsewhere (the default). Judge from the
        node and what the graph holds as it comes, as `leaves` does."""
        return None

    @classmethod
    def leaves(cls, node: onnx.NodeProto, graph=None) -> str | None:
        """Why this pass leaves `node` as it is, or None, judged from the node (its
        attributes and which inputs it has) and, where given, `graph` (the analyzer's
        `GraphView` of the node's graph: the types and neighbours trt-check knows). trt-check
        then names the pass as no fix of the node and gives the reason
        (`kb/fixability.complete`): a promised fix that `--auto` would skip is a wrong
        answer. Skips that need what only the rewrite's graph knows stay in `check`."""
        return None

    @classmethod
    def required_opset(cls, options: RewriteOptions) -> int:
        """The ai.onnx opset the output needs with these options (0: any).

        The manager converts a model below it first (e.g. `--layernorm-impl onnx` on an
        opset-13 model: LayerNormalization exists from opset 17).
        """
        return 0

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
