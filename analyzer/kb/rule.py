"""The declarative shape of one op rule, and the context a rule's `check()` sees.

A rule states facts; the static backend (`backends.static.StaticChecker`) turns them into
findings:

    OpRule(
        op="TopK",
        source="onnx-tensorrt docs/operators.md (TopK); onnxOpImporters.cpp importTopK",
        types={0: FLOATS | {"INT32", "INT64"}},
        const_inputs={1: "K must be a build-time constant"},
        attrs=(AttrLimit("sorted", allowed={1}, hint="..."),),
        check=_check_topk,          # only for conditional logic
    )
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import onnx

from trtforge.analyzer.findings import Finding, Fix
from trtforge.analyzer.graph import GraphView, TensorFacts, TensorInfo
from trtforge.analyzer.targets import Target

Version = tuple[int, int]


@dataclass(frozen=True)
class Since:
    """The first release of each target family whose parser accepts the op (None: never).

    Attributes:
        trt: first TensorRT release, e.g. (10, 0). None: no TensorRT release accepts it.
        rtx: first TensorRT-RTX release, e.g. (1, 0). None: no TensorRT-RTX release accepts it.
        reason: why a family lacks it (shown when not available), e.g. "needs the NonZero
            plugin, which TensorRT-RTX does not ship".
    """

    trt: Version | None = (8, 0)
    rtx: Version | None = (1, 0)
    reason: str = ""

    def available(self, target: Target) -> bool:
        first = self.trt if target.family == "trt" else self.rtx
        return first is not None and target.version >= first

    def first(self, target: Target) -> Version | None:
        return self.trt if target.family == "trt" else self.rtx


#: every TensorRT and TensorRT-RTX release the knowledge base covers.
ALWAYS = Since()
#: no release accepts the op.
NEVER = Since(trt=None, rtx=None)


@dataclass(frozen=True)
class AttrLimit:
    """A limit on one attribute's value.

    Attributes:
        name: attribute name.
        allowed: values the parser accepts (strings compared after decoding bytes).
        default: the ONNX default, used when the attribute is absent.
        hint: what to do when the value is outside `allowed`.
        fixes: passes/plugins that resolve it.
        code: finding code suffix (defaults to the attribute name).
    """

    name: str
    allowed: frozenset | set | tuple
    default: Any = None
    hint: str = ""
    fixes: tuple[Fix, ...] = ()
    code: str = ""


@dataclass(frozen=True)
class OpRule:
    """What the parser accepts for one op (of one domain).

    Attributes:
        op: the op_type.
        source: where the facts come from (doc, release note, parser file and function).
        domain: "" for ops of the built-in importer table (dispatched by op_type whatever
            the node's domain), or a custom domain for ops handled only under that domain.
        since: which target releases accept the op at all.
        opsets: (min, max) opset versions of the node's domain the rule covers; None = any.
        types: allowed element types per input index ("*" for any input not listed).
            Inputs absent from `types` accept what the engine's default policy accepts.
        type_hints: what to do about an input of a refused element type, per input index
            (default: cast it in the exporter).
        type_fixes: passes that remove a refused element type, per input index.
        output_types: allowed element types per output index.
        const_inputs: input index -> why it must be a build-time constant.
        attrs: attribute limits.
        check: conditional logic that `types`/`attrs` cannot say; yields findings.
        fixes: what resolves "not available on this target" (passes or plugins).
        hint: the hint for "not available on this target".
        data_dependent_shape: the op's output shape depends on values (NonZero, Unique, …).
        bodies: for ops with subgraphs, returns the names of the graph attributes the parser
            actually imports (e.g. only the taken branch of an If with a constant condition);
            None: every body is checked.
        empty_inputs_refused: the input positions the importer refuses when the node names
            no tensor there (an optional input left out with an empty name: `Gemm(A, B, '')`);
            "*" for any position (variadic ops). Positions not listed take an empty name.
        empty_outputs_refused: the importer refuses the node when one of its outputs is
            given an empty name (it makes every output, and the parser then counts fewer
            names than outputs).
    """

    op: str
    source: str
    domain: str = ""
    since: Since = ALWAYS
    opsets: tuple[int, int | None] | None = None
    types: Mapping[int | str, frozenset[str] | set[str]] = field(default_factory=dict)
    type_hints: Mapping[int, str] = field(default_factory=dict)
    type_fixes: Mapping[int, tuple[Fix, ...]] = field(default_factory=dict)
    output_types: Mapping[int | str, frozenset[str] | set[str]] = field(default_factory=dict)
    const_inputs: Mapping[int, str] = field(default_factory=dict)
    attrs: tuple[AttrLimit, ...] = ()
    check: Callable[[NodeContext], Iterable[Finding]] | None = None
    fixes: tuple[Fix, ...] = ()
    hint: str = ""
    data_dependent_shape: bool = False
    bodies: Callable[[NodeContext], Iterable[str]] | None = None
    empty_inputs_refused: frozenset[int] | str = frozenset()
    empty_outputs_refused: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.domain, self.op)

    @property
    def slug(self) -> str:
        """Prefix of this rule's finding codes, e.g. `topk`."""
        return self.op.lower()


@dataclass(frozen=True)
class AttributeRead:
    """An entry of `NodeContext.values_read`: the value of the node's attribute at `position`
    (its index among the node's attributes), which the node's key leaves out
    (`backends.static.VerdictMemo.kinds`: a form of many signatures)."""

    position: int


class _AttributesWatched(dict):
    """`NodeContext.attrs` of a node keyed without some attributes' values. Reading the value
    of a tensor attribute keyed so (`tensors`) marks the context `reads_outside`; reading one
    of an attribute whose value the key leaves out (`varied`: name -> positions) notes it in
    `values_read`, as reading an input's constant value does; asking which attributes there
    are (`in`, iterating the names) does neither, and reading them all (`values`, `items`)
    marks the context."""

    def __init__(
        self,
        values: dict[str, Any],
        tensors: set[str],
        varied: dict[str, list[int]],
        context: NodeContext,
    ) -> None:
        super().__init__(values)
        self._tensors = tensors
        self._varied = varied
        self._context = context

    def _read(self, name: object) -> None:
        if name in self._tensors:
            self._context.reads_outside = True
        for position in self._varied.get(name, ()):
            read = AttributeRead(position)
            if read not in self._context.values_read:
                self._context.values_read.append(read)

    def __getitem__(self, name: str) -> Any:
        self._read(name)
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        self._read(name)
        return super().get(name, default)

    def values(self):
        self._context.reads_outside = True
        return super().values()

    def items(self):
        self._context.reads_outside = True
        return super().items()


class NodeContext:
    """What a rule sees of one node: its tensors, attributes, opset and target.

    The engine shares one verdict among nodes that look alike (same op, attributes, and
    facts of every input and output tensor; see `backends.static`). So a context notes, in
    `reads_outside`, when a check reads anything those facts leave out: the node or graph
    protos, a tensor's name, whether an output is used, the node's name; and, in
    `values_read`, which inputs' constant values it read.

    Args:
        node: the node.
        graph: the view of the graph holding the node.
        target: the target being checked.
        opset: the opset version of the node's domain in the model (0 if not imported).
        rule: the rule being applied.
        watch: hand out tensors that report reads of their `name` too (costs a little; the
            engine asks for it the first time it meets a kind of node).
        elided: the engine keyed the node without the values of its large tensor attributes,
            or without their names and doc strings (`graph.NodeFields.attribute_keys`):
            reading such an attribute (`attrs`) is reading outside the key.
        varied: the positions (among the node's attributes) of those its key holds without
            their values (`backends.static.VerdictMemo.kinds`): reading one (`attrs`) is
            noted in `values_read` (`AttributeRead`).
    """

    def __init__(
        self,
        node: onnx.NodeProto,
        graph: GraphView,
        target: Target,
        opset: int,
        rule: OpRule | None = None,
        watch: bool = False,
        elided: bool = False,
        varied: frozenset[int] = frozenset(),
    ) -> None:
        self._node = node
        self._elided = elided
        self._varied = varied
        self._graph = graph
        self.target = target
        self.opset = opset
        self.rule = rule
        self._watch = watch
        #: True once something outside the node's facts was read (see the class docstring).
        self.reads_outside = False
        #: what a check read of its inputs beyond their facts, in order: an input index (its
        #: constant value: `input_value`), (index, analysis) (`input_derived`), or an
        #: attribute whose value the key leaves out (`AttributeRead`: `varied`). A verdict
        #: that read nothing else outside the facts is shared among the nodes that look alike
        #: and read the same there (`backends.static.VerdictMemo.values_key`).
        self.values_read: list[int | tuple[int, Callable] | AttributeRead] = []

    @property
    def node(self) -> onnx.NodeProto:
        self.reads_outside = True
        return self._node

    @property
    def graph(self) -> GraphView:
        self.reads_outside = True
        return self._graph

    def is_input_dim(self, dim) -> bool:
        """Whether `dim` is the name of a network input's symbolic dim
        (`GraphView.input_dim_params`: the same for every node of the graph). A node's key
        holds its dims' names, so the answer keeps a verdict shareable, but for names like
        those inference makes up (`unk__<n>`, which tf2onnx gives input dims too): the key
        holds such a dim by which of the node's dims it equals, not its name, and the verdict
        is then the node's own."""
        from trtforge.analyzer.inference import GENERATED_DIM

        if not isinstance(dim, str):
            return False
        if dim.startswith(GENERATED_DIM):
            self.reads_outside = True
        return dim in self._graph.input_dim_params

    @property
    def graph_has_quantization(self) -> bool:
        """Whether the node's graph has QuantizeLinear/DequantizeLinear nodes. The same for
        every node of the graph, so reading it keeps a verdict shareable: a check that reads
        the graph only when this is True costs graphs without quantization nothing."""
        return self._graph.has_quantization

    @property
    def op(self) -> str:
        return self._node.op_type

    @property
    def name(self) -> str:
        self.reads_outside = True
        return self._node.name

    @cached_property
    def attrs(self) -> dict[str, Any]:
        """Attribute values, decoded (bytes → str); subgraphs and tensors left as protos.

        An attribute whose type is not the one the op's schema defines (an If whose branch
        is an int, a perm that is a float) is left out: rules may rely on the schema's types,
        and `validity.py` reports the attribute. So is one the schema at this opset does not
        define whose type is not the one another version gives it (`axis` of a
        DequantizeLinear-10 that is a string).
        """
        from trtforge.analyzer.validity import any_version_attr_types

        declared = any_version_attr_types(self._node.op_type, self._node.domain, self.opset)
        out: dict[str, Any] = {}
        tensors: set[str] = set()
        varied: dict[str, list[int]] = {}
        for position, attr in enumerate(self._node.attribute):
            if position in self._varied:
                varied.setdefault(attr.name, []).append(position)
            expected = declared.get(attr.name)
            if expected is not None and attr.type != expected:
                continue
            if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                out[attr.name] = attr.g if attr.type == onnx.AttributeProto.GRAPH else attr.graphs
                continue
            if attr.type == onnx.AttributeProto.TENSOR:
                out[attr.name] = attr.t
                tensors.add(attr.name)
                continue
            try:
                value = onnx.helper.get_attribute_value(attr)
            except (ValueError, TypeError):  # no type, or one onnx cannot read: unknown
                continue
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            elif isinstance(value, list) and value and isinstance(value[0], bytes):
                value = [v.decode("utf-8", "replace") for v in value]
            out[attr.name] = value
        if not self._elided:
            tensors.clear()
        if tensors or varied:
            return _AttributesWatched(out, tensors, varied, self)
        return out

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def tensor_attr_head(self, name: str) -> tuple[int, tuple[int, ...]] | None:
        """(element type, dims) of tensor attribute `name` (the last of that name), or None:
        what a node's key keeps of a tensor attribute it holds without its values
        (`NodeFields.attribute_keys`), so reading it keeps the verdict shareable where
        `attrs` would make it the node's own."""
        found = None
        for attr in self._node.attribute:
            if attr.name == name and attr.type == onnx.AttributeProto.TENSOR:
                found = (attr.t.data_type, tuple(attr.t.dims))
        return found

    def attr_int(self, name: str, default: int) -> int:
        """Attribute `name` as an integer; `default` when absent or not an integer (a custom
        op's attribute, whose schema onnx does not know, may be of any type)."""
        value = self.attrs.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    def attr_float(self, name: str, default: float) -> float:
        """Attribute `name` as a number (an int counts); `default` when absent or not one."""
        value = self.attrs.get(name)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if ok else default

    @property
    def num_inputs(self) -> int:
        return len(self._node.input)

    @property
    def num_outputs(self) -> int:
        return len(self._node.output)

    def has_input(self, index: int) -> bool:
        return index < len(self._node.input) and bool(self._node.input[index])

    def input(self, index: int) -> TensorInfo | None:
        """The input tensor at `index`, or None when absent (optional input left out)."""
        names = self._node.input
        if index < len(names):
            name = names[index]
            if name:
                return self._tensor(name)
        return None

    def input_facts(self) -> list[TensorFacts | None]:
        """The facts of every input (`graph.TensorFacts`: dtype, shape, …; None for an absent
        one), which the node's key holds: no name is read, and no TensorInfo is made for
        each (a Concat of 100,000 inputs reads them once)."""
        facts = self._graph.facts
        return [facts(name) if name else None for name in self._node.input]

    def output(self, index: int) -> TensorInfo | None:
        if index >= len(self._node.output) or not self._node.output[index]:
            return None
        return self._tensor(self._node.output[index])

    def _tensor(self, name: str) -> TensorInfo:
        if not self._watch:
            return self._graph.tensor(name)
        watched = _WatchedTensorInfo(name, *self._graph.facts(name))
        object.__setattr__(watched, "_context", self)
        return watched

    def input_value(self, index: int) -> np.ndarray | None:
        """The value of a small constant input, else None (weights are never loaded)."""
        if not self.has_input(index):
            return None
        if index not in self.values_read:
            self.values_read.append(index)
        return self._graph.constant_value(self._node.input[index])

    def input_derived(self, index: int, analysis: Callable[[GraphView, str], Any]) -> Any:
        """`analysis(graph, name)` of input `index`'s tensor: what a walk up its producers
        finds, say (`_tensor_common.shape_derived`). An analysis must be a deterministic
        function of the graph and the tensor, with a hashable result: a verdict that reads
        it stays shared with the nodes whose inputs give the same answer. An analysis may
        carry `many(graph, names)`, its answers for many tensors in one call, which the
        static backend reads when it compares nodes in bulk (`VerdictMemo.holding_seen`).
        None when the input is absent."""
        if not self.has_input(index):
            return None
        read = (index, analysis)
        if read not in self.values_read:
            self.values_read.append(read)
        return analysis(self._graph, self._node.input[index])

    def output_used(self, index: int) -> bool:
        """True when output `index` exists and something reads it (a node or a graph output)."""
        if index >= len(self._node.output) or not self._node.output[index]:
            return False
        self.reads_outside = True
        name = self._node.output[index]
        return bool(self._graph.consumers.get(name)) or self._graph.is_graph_output(name)

    @property
    def display(self) -> str:
        self.reads_outside = True
        return self._display()

    def _display(self) -> str:
        return display_name(self._node.name, self._node.op_type, self._index)

    def _index(self) -> int:
        return self._graph.node_index(self._node)

    def finding(
        self,
        code: str,
        what: str,
        hint: str = "",
        fixes: Iterable[Fix] = (),
        severity: str = "error",
        source: str = "",
    ) -> Finding:
        """A finding in the house style: `<op> node '<name>': <what>`.

        `code` without a slash is prefixed with the rule's slug (`k-not-constant` →
        `topk/k-not-constant`).
        """
        if "/" not in code and code not in GENERIC_CODES:
            code = f"{(self.rule.slug if self.rule else self.op.lower())}/{code}"
        return Finding(
            code=code,
            message=f"{finding_prefix(self.op, self._display())}{what}",
            hint=hint,
            fixes=tuple(fixes),
            source=source or (self.rule.source if self.rule else ""),
            severity=severity,
        )


def display_name(name: str, op: str, index: Callable[[], int]) -> str:
    """How findings name a node: its name, else `<op #index>` (`index()`: its position)."""
    return name or f"<{op} #{index()}>"


def finding_prefix(op: str, display: str) -> str:
    """The start of every node finding's message (`NodeContext.finding`): the rest of a
    message made by a check that read nothing outside its node's facts does not name the
    node, so it holds for every node alike (`backends.static` shares such findings)."""
    return f"{op} node '{display}': "


class _WatchedTensorInfo(TensorInfo):
    """A TensorInfo that marks its context's `reads_outside` when its `name` is read."""

    def __getattribute__(self, attr: str) -> Any:
        if attr == "name":
            object.__getattribute__(self, "_context").reads_outside = True
        return object.__getattribute__(self, attr)


#: finding codes that are not specific to one op.
GENERIC_CODES = frozenset(
    {
        "custom-domain-op",
        "unknown-op",
        "not-available",
        "opset-out-of-range",
        "unsupported-dtype",
        "input-not-constant",
        "attribute-value",
        "subgraph-node",
        "data-dependent-shape",
        "plugin-not-registered",
        "uint8-intermediate",
    }
)
