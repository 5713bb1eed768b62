"""A read-only view of an ONNX graph: what each tensor is, without loading any weights.

Rules ask three questions of a tensor: its element type, its shape (rank, static dims), and
whether it is a *build-time constant* (an initializer, a Constant, or computed only from those).
Types come from the model's type table (`inference.TypeTable`: ONNX shape inference, run once
per version of a model by `session.ModelSession`).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat

import numpy as np
import onnx
from onnx import numpy_helper

from trtforge.analyzer._shallow_graph import InitializerHeads, _wire, node_columns
from trtforge.analyzer.inference import (
    MAX_SHALLOW_BYTES,
    Dim,
    TypeTable,
    _type_of,
    dtype_name,
)

try:  # every tensor's producer distance in one pass (csrc/analyzer/producer_hops.cpp)
    from trtforge.analyzer import _producer_hops
except ImportError:  # pragma: no cover - a build without a C++ compiler: walks instead
    _producer_hops = None

try:  # node signatures numbered in C (csrc/analyzer/memo_keys.cpp), when it was built
    from trtforge.analyzer import _memo_keys
except ImportError:  # pragma: no cover - a build without a C++ compiler
    _memo_keys = None

log = logging.getLogger("trtforge.graph")

#: a tensor attribute whose sound data (raw_data, or its element type's typed field, as
#: onnx.helper writes it) holds at least this many bytes is keyed without its values
#: (`NodeFields.attribute_keys`); smaller ones (a ConstantOfShape's fill value, a
#: Reshape's shape in a Constant) keep them, and with them verdicts that may read them.
ELIDED_VALUE_BYTES = 64

#: a graph with this many node signatures or more has them grouped by form
#: (`NodeFields.forms`); fewer are judged one by one at no cost worth the grouping.
FORMS_FROM = 256

#: analyses of a graph's structure alone — its nodes, constants and declared inputs, which the
#: inferred types never change — by name, registered by the modules that define them
#: (`structural_analysis`): a GraphView keeps their results across `use_types`, and the static
#: backend computes them while it waits for the types (`GraphView.prepare_structural`).
_STRUCTURAL: dict[str, Callable[[GraphView], object]] = {}


def structural_analysis(name: str):
    """Registers `function(graph)` as the structural analysis `name` (a decorator)."""

    def register(function):
        _STRUCTURAL[name] = function
        return function

    return register


#: ops whose outputs are not functions of their inputs alone.
NONDETERMINISTIC = frozenset(
    {
        "RandomNormal",
        "RandomNormalLike",
        "RandomUniform",
        "RandomUniformLike",
        "Multinomial",
        "Bernoulli",
    }
)
#: ops that never produce a build-time constant even from constant inputs.
_NO_FOLD = NONDETERMINISTIC | {"If", "Loop", "Scan"}


def draws_random(op: str, domain: str | None, training_mode: float | None = 0.0) -> bool:
    """Whether a node draws random numbers on every run: a random op, or a Dropout in
    training mode (`training_mode`: the value of its training_mode input, 0.0 where it has
    none, None where it is not a known constant)."""
    if domain not in ("", "ai.onnx", None):
        return False
    return op in NONDETERMINISTIC or (op == "Dropout" and training_mode != 0.0)


#: small constant tensors are decoded on demand; larger ones are never read.
MAX_DECODED_ELEMENTS = 4096


#: the ops that quantize and dequantize (onnx's, and onnxruntime's com.microsoft ones).
QUANTIZATION_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})


@dataclass(frozen=True)
class TensorInfo:
    """What is known about one tensor at analysis time.

    Attributes:
        name: the tensor's name.
        dtype: the ONNX element type name (e.g. "FLOAT"), "UNDEFINED" when unknown,
            or "SEQUENCE"/"MAP"/"OPTIONAL" for non-tensor values.
        shape: dims (int, symbolic name, or None) or None when the rank is unknown.
        is_initializer: an initializer of this graph or an enclosing one.
        is_constant: a build-time constant (initializer, Constant, or folded from those).
        is_graph_input: an input of the top-level graph.
    """

    name: str
    dtype: str
    shape: tuple[Dim, ...] | None
    is_initializer: bool = False
    is_constant: bool = False
    is_graph_input: bool = False

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def static_shape(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) and d >= 0 for d in self.shape)


#: (dtype, shape, is_initializer, is_constant, is_graph_input): a TensorInfo without its name.
TensorFacts = tuple[str, tuple[Dim, ...] | None, bool, bool, bool]


class NodeFields:
    """The fields of every node of one graph, as columns (index i: node i).

    Read from the protobuf once: each field access of an onnx `NodeProto` costs ~0.2 µs in
    Python protobuf, which adds up on models of 100,000 nodes. Graphs up to
    `MAX_SHALLOW_BYTES` (serialized) are read through `_shallow_graph.node_fields`: one parse
    and one slice per repeated field, attributes kept serialized; larger graphs (large
    embedded weights, which serializing would copy) node by node, with the same result.

    Attributes:
        nodes: the onnx `NodeProto`s.
        names, ops, domains: each node's name, op_type and domain (text that is not UTF-8:
            bytes, as protobuf hands it over).
        inputs, outputs: each node's input and output names (lists).
        attributes: each node's attributes, each serialized (`AttributeProto` bytes).
        attribute_keys: each node's attributes as its signature holds them
            (`attribute_keys`).
    """

    __slots__ = (
        "_nodes",
        "_node_source",
        "names",
        "ops",
        "domains",
        "inputs",
        "outputs",
        "attributes",
        "_attribute_keys",
        "_signatures",
        "_forms",
        "_producer_index",
    )

    def __init__(self, nodes, names, ops, domains, inputs, outputs, attributes) -> None:
        #: the NodeProtos: a list, or the graph's repeated field, listed on first use (a
        #: check reads few of them: ~0.03 s for 100,000 wrappers)
        self._nodes: list[onnx.NodeProto] | None = nodes if isinstance(nodes, list) else None
        self._node_source = nodes
        self.names: list[str] = names
        self.ops: list[str] = ops
        self.domains: list[str] = domains
        self.inputs: list[list[str]] = inputs
        self.outputs: list[list[str]] = outputs
        self.attributes: list[list[bytes]] = attributes
        self._attribute_keys: list | None = None
        self._signatures: tuple[list[int], list[int]] | None = None
        self._forms: tuple[list[int], list[int]] | bool | None = None
        self._producer_index: dict[str, int] | None = None

    @property
    def nodes(self) -> list[onnx.NodeProto]:
        if self._nodes is None:
            self._nodes = list(self._node_source)
        return self._nodes

    def node(self, index: int) -> onnx.NodeProto:
        """The NodeProto at `index` (without listing them all)."""
        if self._nodes is not None:
            return self._nodes[index]
        return self._node_source[index]

    def rows(self) -> list[tuple[onnx.NodeProto, str, str, list[str], list[str]]]:
        """(node, op_type, domain, inputs, outputs) for each node, in order."""
        return list(zip(self.nodes, self.ops, self.domains, self.inputs, self.outputs, strict=True))

    def producer_index(self) -> dict[str, int]:
        """Output name -> index of the node producing it (the last one, if several; "" is no
        name), computed once."""
        if self._producer_index is None:
            index = None
            if _producer_hops is not None:
                with contextlib.suppress(TypeError):  # not lists: in Python
                    index = _producer_hops.producer_index(self.outputs)
            if index is None:
                index = {out: i for i, outs in enumerate(self.outputs) for out in outs}
                index.pop("", None)
            self._producer_index = index
        return self._producer_index

    @property
    def attribute_keys(self) -> list:
        """Each node's attributes as its signature and verdict key hold them, computed once:
        its `attributes` list, or, when it has a tensor attribute of ELIDED_VALUE_BYTES or
        more whose data is sound (in raw_data or in the typed field of its element type), a
        tuple in which each such attribute stands for its tensor without the values
        (`_wire.attribute_keys`: (None, ...), element type, dims and every other field kept).
        A model that stores its weights in Constant nodes then has a few signatures instead
        of one per weight. What a node's values decide, nothing judged per
        signature reads: a sound tensor has no problem for validity to find, and a rule that
        reads a tensor attribute of a node keyed so makes its verdict the node's own
        (`NodeContext.attrs`). Any other tensor attribute with a name or a doc string stands
        for its tensor without those ((1, ...): values kept), which the parser builds alike:
        a model made with onnx.helper names each Constant's tensor, and its equal shape
        constants share a key, a rule reading the tensor making its verdict the node's own
        as well. Without the native module, the attributes themselves."""
        if self._attribute_keys is None:
            keys = self.attributes
            if _wire is not None and any(map(len, self.attributes)):
                from trtforge.analyzer.validity import raw_data_bits

                keys = _wire.attribute_keys(self.attributes, raw_data_bits(), ELIDED_VALUE_BYTES)
            self._attribute_keys = keys
        return self._attribute_keys

    def elided(self, index: int) -> bool:
        """Whether node `index`'s key leaves tensor values, or a tensor's name and doc
        string, out (`attribute_keys`)."""
        return self.attribute_keys[index] is not self.attributes[index]

    def signatures(self) -> tuple[list[int], list[int]]:
        """(each node's signature number, the first node of each signature), computed once.

        Nodes of one signature have the same op_type, domain, serialized attributes (but the
        values of large sound tensors: `attribute_keys`), input and output counts and empty
        inputs: everything of a node but its name, the names of its tensors and its weights.
        What depends only on that (a schema check, the type-free part of a verdict) is judged
        once per signature. Large models have a few dozen signatures.
        """
        if self._signatures is None:
            native = getattr(_memo_keys, "signatures", None)
            if native is not None:
                try:
                    self._signatures = native(
                        self.ops, self.domains, self.attribute_keys, self.inputs, self.outputs
                    )
                    return self._signatures
                except TypeError:  # columns that are not lists (a caller of our own API)
                    pass
            self._signatures = self._signatures_python()
        return self._signatures

    def forms(self) -> tuple[list[int], list[int]] | None:
        """(each signature's form number, the first signature of each form), computed once;
        None when the signatures are fewer than FORMS_FROM (or the native modules are not
        built).

        Signatures of one form differ at most in the values of their number, string and
        list attributes (`_wire.attribute_forms`): not in which attributes they hold, their
        types, which of those hold something, their tensors or bodies. What validity checks
        of a node's attributes is the same for all of them, and a verdict key may hold such
        attributes without their values (`backends.static.VerdictMemo.kinds`): 100,000
        LeakyRelus, each with its own `alpha`, are 100,000 signatures of one form.
        """
        if self._forms is None:
            self._forms = False
            numbers, first = self.signatures()
            native = getattr(_wire, "attribute_forms", None)
            if len(first) >= FORMS_FROM and native is not None and _memo_keys is not None:
                keys = self.attribute_keys
                ops, domains, inputs, outputs = self.ops, self.domains, self.inputs, self.outputs
                try:
                    self._forms = _memo_keys.signatures(
                        [ops[i] for i in first],
                        [domains[i] for i in first],
                        native([keys[i] for i in first]),
                        [inputs[i] for i in first],
                        [outputs[i] for i in first],
                    )
                except TypeError:  # columns that are not lists (a caller of our own API)
                    pass
        return self._forms or None

    def _signatures_python(self) -> tuple[list[int], list[int]]:
        """`signatures` in Python: the reference of `_memo_keys.signatures` (held equal by
        tests/perf/test_verdict_memo.py), and the path without the native module."""
        table: dict[tuple, int] = {}
        first: list[int] = []
        numbers = []
        for index, key in enumerate(
            zip(
                self.ops,
                self.domains,
                map(tuple, self.attribute_keys),
                map(len, self.inputs),
                map(len, self.outputs),
                [None if "" not in i else tuple([n == "" for n in i]) for i in self.inputs],
                strict=True,
            )
        ):
            number = table.get(key)
            if number is None:
                number = table[key] = len(first)
                first.append(index)
            numbers.append(number)
        return numbers, first

    @classmethod
    def read(cls, graph: onnx.GraphProto, serialized=None) -> NodeFields:
        """The fields of `graph`'s nodes; `serialized`: the graph's bytes, if at hand (as the
        file holds them: `LoadedModel.graph_bytes`), else it is serialized again."""
        count = len(graph.node)
        if not count:
            return cls([], [], [], [], [], [], [])
        nodes = graph.node
        if serialized is not None:
            columns = node_columns(serialized, count)
            if len(columns[0]) == count:
                return cls(nodes, *columns)
        serialized = _serialized_if_small(graph)
        if serialized is not None:
            return cls(nodes, *node_columns(serialized, count))
        rows = [
            (
                n.name,
                n.op_type,
                n.domain,
                n.input[:],
                n.output[:],
                [a.SerializeToString() for a in n.attribute],
            )
            for n in nodes
        ]
        return cls(nodes, *map(list, zip(*rows, strict=True)))


def holds_graph(serialized_attribute: bytes) -> bool:
    """Whether a serialized AttributeProto (`NodeFields.attributes`) holds a graph (`g` or
    `graphs`), whatever its declared type."""
    attr = onnx.AttributeProto.FromString(serialized_attribute)
    return attr.HasField("g") or len(attr.graphs) > 0


def _serialized_if_small(graph: onnx.GraphProto) -> bytes | None:
    """`graph` serialized when that takes at most MAX_SHALLOW_BYTES (large embedded weights
    are not copied); None otherwise. The initializers are measured first (each in O(1));
    the rest (nodes, tensor attributes) only by serializing, which a graph over the limit
    wastes: `ByteSize` of the whole graph would walk every node (~0.035 s for 100,000)."""
    weights = sum(t.ByteSize() for t in graph.initializer) + sum(
        t.ByteSize() for t in graph.sparse_initializer
    )
    if weights > MAX_SHALLOW_BYTES:
        return None
    try:
        serialized = graph.SerializeToString()
    except (ValueError, OverflowError):  # over protobuf's 2 GiB
        return None
    return serialized if len(serialized) <= MAX_SHALLOW_BYTES else None


def _decoder(types: Mapping[str, onnx.TypeProto]):
    """`TypeTable.decoded` for any name -> TypeProto mapping."""

    def decoded(name: str) -> tuple[str, tuple[Dim, ...] | None] | None:
        value = types.get(name)
        return None if value is None else _type_of(value)

    return decoded


class GraphView:
    """Tensors, producers and constness of one graph (and, for bodies, its enclosing graphs).

    Args:
        graph: the graph.
        types: name -> ValueInfo type, from shape inference over the whole model.
        outer: the enclosing graph's view, for If/Loop/Scan bodies.
        path: a display path for inner nodes (e.g. "loop_0/body").
        serialized: `graph`'s bytes as read from its file, if at hand
            (`LoadedModel.graph_bytes`): the node fields are read from them.
        initializer_heads: the name, element type and dims of each of `graph`'s
            initializers as read from its file (`LoadedModel.initializer_heads`), if at
            hand: the initializers are then found by name without a wrapper for each.
        weights: position -> the initializer at that position of `graph` with its data, for
            one `graph` holds without it (a lean load's structure: `LoadedModel.weight_at`),
            else None; `constant_value` reads a small one's values from it.
    """

    def __init__(
        self,
        graph: onnx.GraphProto,
        types: Mapping[str, onnx.TypeProto],
        outer: GraphView | None = None,
        path: str = "",
        serialized=None,
        initializer_heads: InitializerHeads | None = None,
        weights: Callable[[int], onnx.TensorProto | None] | None = None,
    ) -> None:
        self.graph = graph
        self._weights = weights
        self._positions: dict[str, int] | None = None
        self.outer = outer
        self.path = path
        self._serialized_graph = serialized
        self._info: dict[str, TensorInfo] = {}
        self._facts: dict[str, TensorFacts] = {}
        self._serialized_input_types: list[bytes] | None = None
        self._declared_input_types: dict[str, bytes] | None = None
        self._analyses: dict[str, dict] = {}
        self._structural: dict[str, object] = {}
        self.use_types(types)
        heads = initializer_heads
        if heads is not None and (
            len(heads.names) != len(graph.initializer) or len(graph.sparse_initializer)
        ):
            heads = None  # not this graph's
        #: name -> TensorProto of the graph's initializers (the last of a name)
        self._initializers: Mapping[str, onnx.TensorProto]
        if heads is not None:
            self._initializers = _InitializersByName(graph.initializer, heads.names)
        else:
            self._initializers = {t.name: t for t in graph.initializer}
            for sparse in graph.sparse_initializer:
                self._initializers[sparse.values.name] = sparse.values
        self._initializer_heads = heads
        self._inputs = {vi.name: vi for vi in graph.input}
        self._outputs = {vi.name for vi in graph.output}

    @classmethod
    def of_loaded(cls, loaded, types: Mapping[str, onnx.TypeProto]) -> GraphView:
        """The view of a loaded model's top-level graph (`loading.LoadedModel`) as the static
        check reads it: its `structure`, with the file's graph bytes and initializer heads,
        and a weight it holds without data read when asked for (`weight_at`)."""
        return cls(
            loaded.structure.graph,
            types,
            serialized=loaded.graph_bytes,
            initializer_heads=loaded.initializer_heads,
            weights=loaded.weight_at,
        )

    def use_types(
        self, types: Mapping[str, onnx.TypeProto], changed: Iterable[str] | None = None
    ) -> None:
        """Sets the name -> type mapping (types may arrive after the structural caches such as
        `rows` and `producer_index` were built; see `background.py`). `changed`: where the new
        table differs from the one in use only by types for these names, which had none —
        what was read of the other tensors is kept."""
        self._types = types
        self._decoded = types.decoded if isinstance(types, TypeTable) else _decoder(types)
        self._serialized = types.serialized if isinstance(types, TypeTable) else None
        if changed is None:
            self._info.clear()
            self._facts.clear()
        else:
            for name in changed:
                self._info.pop(name, None)
                self._facts.pop(name, None)
        self._analyses.clear()

    def analysis(self, name: str) -> dict:
        """The results of the graph-wide analysis `name` (keyed as it likes), kept while the
        types are: a walk up the producers that many nodes start from (a shape computation
        feeding every block's Reshape) is made once per tensor instead of once per node."""
        return self._analyses.setdefault(name, {})

    def structural(self, name: str) -> object:
        """The result of the structural analysis `name` (`structural_analysis`) for this
        graph, computed once."""
        if name not in self._structural:
            self._structural[name] = _STRUCTURAL[name](self)
        return self._structural[name]

    def prepare_structural(self) -> None:
        """Computes every registered structural analysis now (for a time the caller would
        otherwise spend waiting)."""
        for name in list(_STRUCTURAL):
            self.structural(name)

    def producer_hops(
        self, sources: Iterable[str], stop_ops: frozenset[str], cap: int
    ) -> dict[str, int] | None:
        """name -> the least number of producer steps, below `cap`, from one of `sources` to
        that tensor (a source: 0), through nodes whose op is not in `stop_ops` and never into a
        build-time constant or a graph input. A walk up the producers at most d steps deep
        from a tensor meets a source exactly when the tensor's hops are below d: this answers
        every such walk at once, in C (`trtforge.analyzer._producer_hops`). None for a body
        graph (whose walks reach outer values) or without the native module: walk instead."""
        if _producer_hops is None or self.outer is not None:
            return None
        f = self.fields
        blocked = self._constants.union(self._inputs)  # (initializers are constants)
        return _producer_hops.hops_from(
            dict.fromkeys(sources, 0), f.ops, f.inputs, f.outputs, stop_ops,
            self.producer_index, blocked, cap,
        )  # fmt: skip

    def read_structure(self) -> None:
        """Builds the caches that need no types (`rows`, `producer_index`, constants) now."""
        self._constants  # noqa: B018 - reads rows and producer_index too

    @cached_property
    def fields(self) -> NodeFields:
        """Every node's fields, read from the protobuf once (`NodeFields`)."""
        return NodeFields.read(self.graph, self._serialized_graph)

    @cached_property
    def rows(self) -> list[tuple[onnx.NodeProto, str, str, list[str], list[str]]]:
        """(node, op_type, domain, inputs, outputs) for each node, in order (`fields`)."""
        return self.fields.rows()

    @cached_property
    def producer_index(self) -> dict[str, int]:
        """Output name -> index of the node producing it (the last one, if several)."""
        return self.fields.producer_index()

    def producer(self, name: str) -> onnx.NodeProto | None:
        """The node producing `name` in this graph (the last one, if several), or None: one
        wrapper made, where a table of them all would make 100,000 for a large model."""
        index = self.producer_index.get(name)
        return None if index is None else self.fields.node(index)

    @cached_property
    def input_dim_params(self) -> frozenset[str]:
        """The symbolic dim names of the network's inputs (the top-level graph's, for a body
        too): a computed tensor's dim that ONNX's inference names so was traced to a dynamic
        input dim, which TensorRT's layers see as -1 at build time."""
        if self.outer is not None:
            return self.outer.input_dim_params
        return frozenset(
            dim.dim_param
            for value in self.graph.input
            if value.type.HasField("tensor_type")
            for dim in value.type.tensor_type.shape.dim
            if dim.dim_param
        )

    @cached_property
    def has_quantization(self) -> bool:
        """Whether a node of this graph (not its bodies) is a QuantizeLinear or
        DequantizeLinear, of any domain."""
        return not QUANTIZATION_OPS.isdisjoint(self.fields.ops)

    @cached_property
    def consumers(self) -> dict[str, list[onnx.NodeProto]]:
        result: dict[str, list[onnx.NodeProto]] = {}
        for node, _, _, inputs, _ in self.rows:
            for name in inputs:
                if name:
                    result.setdefault(name, []).append(node)
        return result

    @cached_property
    def _constants(self) -> set[str]:
        """Names computed at build time: initializers, Constant outputs, and folds of them
        (of a top-level graph in one native pass, `_producer_hops.folded_constants`)."""
        constant: set[str] = set(self._initializers)
        graph_inputs, producers, outer = self._inputs, self.producer_index, self.outer
        f = self.fields
        if outer is None and _producer_hops is not None:
            try:
                return _producer_hops.folded_constants(
                    f.ops, f.inputs, f.outputs, constant, _NO_FOLD
                )
            except TypeError:  # not lists (a caller of our own API): in Python
                pass
        for op, inputs, outputs in zip(f.ops, f.inputs, f.outputs, strict=True):  # in order
            if op in _NO_FOLD:
                continue
            if op != "Constant":
                folds = False  # true once a named input is seen and all so far are constant
                for name in inputs:
                    if not name:
                        continue
                    if name in constant:
                        folds = True
                    elif (
                        name in graph_inputs
                        or name in producers
                        or outer is None
                        or not outer.is_constant(name)
                    ):
                        folds = False
                        break
                    else:
                        folds = True
                if not folds:
                    continue
            constant.update(o for o in outputs if o)
        return constant

    @cached_property
    def _node_positions(self) -> tuple[list[onnx.NodeProto], dict[int, int]]:
        nodes = list(self.graph.node)  # holding the wrappers keeps their ids unique
        return nodes, {id(node): i for i, node in enumerate(nodes)}

    def node_index(self, node: onnx.NodeProto) -> int:
        """Position of `node` in this graph's node list (-1 if it is not one of them)."""
        nodes, positions = self._node_positions
        i = positions.get(id(node), -1)
        if i >= 0 and nodes[i] is node:
            return i
        for i, other in enumerate(self.graph.node):  # a wrapper made after the index
            if other is node:
                return i
        return -1

    def is_graph_output(self, name: str) -> bool:
        return name in self._outputs

    def initializer_names(self) -> Iterable[str]:
        """The names of this graph's own initializers (sparse ones' values included)."""
        return self._initializers.keys()

    def initializer_items(self) -> Iterable[tuple[str, onnx.TensorProto]]:
        """(name, TensorProto) of this graph's own initializers, as `initializer_names`."""
        return self._initializers.items()

    def initializer_heads(self) -> InitializerHeads | None:
        """The name, element type and dims of each of this graph's initializers, read from
        the file's bytes (`LoadedModel.initializer_heads`); None when the view was not given
        them."""
        return self._initializer_heads

    def output_names(self) -> set[str]:
        """The names of this graph's outputs (read-only)."""
        return self._outputs

    def input_names(self) -> Iterable[str]:
        """The names of this graph's inputs."""
        return self._inputs.keys()

    def serialized_input_types(self) -> list[bytes]:
        """The serialized declared type of each of this graph's inputs, in order (equal
        types: equal bytes, by which a model of 50,000 inputs is judged once per type).
        Read once."""
        if self._serialized_input_types is None:
            self._serialized_input_types = [v.type.SerializeToString() for v in self.graph.input]
        return self._serialized_input_types

    def declared_input_types(self) -> dict[str, bytes]:
        """name -> serialized declared type of each input of this graph that is not one of
        its initializers (the last of a name, as `_find_facts` reads it): its `facts` are
        those of that type alone, so two such inputs of one type have the same facts (a
        model of 50,000 inputs keys them by type). Read once."""
        if self._declared_input_types is None:
            initializers = self._initializers
            pairs = zip(self.graph.input, self.serialized_input_types(), strict=True)
            self._declared_input_types = {
                value.name: raw for value, raw in pairs if value.name not in initializers
            }
        return self._declared_input_types

    def is_initializer(self, name: str) -> bool:
        if name in self._initializers:
            return True
        if name in self._inputs or name in self.producer_index:
            return False
        return self.outer.is_initializer(name) if self.outer else False

    def is_external(self, name: str) -> bool:
        """Whether `name` is an initializer (of this graph or an enclosing one) whose data
        sits in an external data file."""
        init = self._initializers.get(name)
        if init is not None:
            return init.data_location == onnx.TensorProto.EXTERNAL
        return self.outer.is_external(name) if self.outer is not None else False

    def is_constant(self, name: str) -> bool:
        if name in self._initializers:
            return True
        if name in self._inputs:
            return False
        if name in self.producer_index:
            return name in self._constants
        return self.outer.is_constant(name) if self.outer else False

    def value_info(self, name: str) -> onnx.ValueInfoProto:
        """`name` as a ValueInfoProto of the element type and shape this view knows (element
        type 0 where it knows none): a node's input declared in a small model of its own."""
        info = self.tensor(name)
        known = info.dtype in onnx.TensorProto.DataType.keys() and info.dtype != "UNDEFINED"
        elem = onnx.TensorProto.DataType.Value(info.dtype) if known else 0
        return onnx.helper.make_tensor_value_info(name, elem, info.shape)

    def tensor(self, name: str) -> TensorInfo:
        """Everything known about tensor `name`."""
        info = self._info.get(name)
        if info is None:
            info = self._info[name] = TensorInfo(name, *self.facts(name))
        return info

    def facts(self, name: str) -> TensorFacts:
        """`tensor(name)` less the name: (dtype, shape, is_initializer, is_constant,
        is_graph_input). Tensors of a large model share a few of these; comparing them is
        how the static backend recognises nodes it has already judged."""
        known = self._facts.get(name)
        if known is None:
            known = self._facts[name] = self._find_facts(name)
        return known

    def tensors_not_typed_alike(self) -> set[str] | None:
        """The tensors whose `facts` and `is_graph_output` may differ from those of another
        tensor with the same serialized type (`serialized_type`): initializers, graph inputs
        and outputs, build-time constants. Every other tensor of the graph has the facts of
        its type. None when that does not hold for any tensor (an If/Loop/Scan body, or no
        TypeTable).

        The static backend's verdict memo reads this to spare decoding the facts of each of
        100,000 tensors.
        """
        if self.outer is not None or self._serialized is None:
            return None
        return self._constants.union(self._inputs, self._outputs)  # (initializers: constants)

    def constants_typed_alike(self) -> set[str]:
        """Among `tensors_not_typed_alike`, the build-time constants this graph's nodes
        compute (not initializers, graph inputs or outputs): their `facts` are those of
        their type with `is_constant` set, so two of them with one serialized type have the
        same facts (a model's many Constant nodes are keyed by type, not one by one). Empty
        where `tensors_not_typed_alike` is None."""
        if self.outer is not None or self._serialized is None:
            return set()
        return self._constants.difference(self._initializers, self._inputs, self._outputs)

    def body_values_typed_alike(self) -> set[str]:
        """In a body (an If/Loop/Scan graph), the values its nodes compute that are not its
        initializers, build-time constants or outputs: their `facts` are those of their type
        alone, so two of one serialized type have the same facts (a body holding a whole
        network keys them by type). Empty at the top level (`tensors_not_typed_alike` tells
        there) and without a TypeTable."""
        if self.outer is None or self._serialized is None:
            return set()
        return set(self.producer_index).difference(
            self._initializers, self._constants, self._outputs
        )

    def outputs_typed_alike(self) -> tuple[set[str], set[str]]:
        """Among `tensors_not_typed_alike`, the graph outputs this graph's nodes compute (not
        initializers or graph inputs): (those that are not build-time constants, those that
        are). Each is a graph output, and its `facts` are those of its type with
        `is_constant` set or not, so two of one group with one serialized type have the same
        facts (a model of 100,000 outputs keys them by type). Empty where
        `tensors_not_typed_alike` is None."""
        if self.outer is not None or self._serialized is None:
            return set(), set()
        computed = self._outputs.difference(self._initializers, self._inputs)
        constant = computed.intersection(self._constants)
        return computed - constant, constant

    def type_table(self) -> Mapping[str, bytes]:
        """Name -> serialized TypeProto of every typed tensor (equal types: the same object;
        empty without a TypeTable). Read-only."""
        return self._types.serialized_table() if self._serialized is not None else {}

    def serialized_type(self, name: str) -> bytes | None:
        """The serialized TypeProto of `name` (equal types: the same object), or None."""
        return self._serialized(name) if self._serialized is not None else None

    def _find_facts(self, name: str) -> TensorFacts:
        init = self._initializers.get(name)
        if init is not None:
            return (dtype_name(init.data_type), tuple(init.dims), True, True, False)
        value = self._inputs.get(name)
        if value is not None:
            dtype, shape = _type_of(value.type)
            return (dtype, shape, False, False, self.outer is None)
        typed = self._decoded(name)
        if typed is not None:
            dtype, shape = typed
        elif self.outer is not None and name not in self.producer_index:
            return self.outer.facts(name)
        else:
            dtype, shape = "UNDEFINED", None
        if self.outer is None and name in self.producer_index:  # the common case, in short
            return (dtype, shape, False, name in self._constants, False)
        return (dtype, shape, self.is_initializer(name), self.is_constant(name), False)

    def constant_value(self, name: str) -> np.ndarray | None:
        """The value of a small constant embedded in the model, else None.

        Never reads external data and never decodes tensors larger than
        MAX_DECODED_ELEMENTS elements.
        """
        tensor = self._initializers.get(name)
        if tensor is None:
            node = self.producer(name)
            if node is not None and node.op_type == "Constant":
                return _constant_node_value(node)
            if node is None and self.outer is not None and name not in self._inputs:
                return self.outer.constant_value(name)
            return None
        if self._weights is not None and _element_count(tensor) <= MAX_DECODED_ELEMENTS:
            position = self._position(name)
            whole = None if position is None else self._weights(position)
            if whole is not None:
                tensor = whole
        return _decode(tensor)

    def constant_rows(self, names: Iterable[str]) -> list[tuple[str, list[str], np.ndarray]]:
        """The values `constant_value` reads for those of `names` that are initializers of a
        numeric type with their raw data embedded, read together: per group of tensors of
        one element type and element count, (the type's name, the names, an array with one
        row of elements per name, in order; BFLOAT16 as the exact FLOAT). One buffer per group
        instead of an array per tensor: a quantized model has a scale and a zero point per
        node. Empty tensors and names in no group are read one by one (`constant_value`)."""
        names = list(names)
        grouped = self._raw_data_rows(names)
        if grouped is None:  # each read from its initializer's proto
            grouped = {}
            for name, data_type, count, raw in self._raw_data(names):
                group = grouped.setdefault((data_type, count), ([], []))
                group[0].append(name)
                group[1].append(raw)
            grouped = [
                (key, group_names, b"".join(raws)) for key, (group_names, raws) in grouped.items()
            ]
        rows = []
        for (data_type, count), group_names, joined in grouped:
            values = np.frombuffer(joined, _ROWS_AS[data_type]).reshape(-1, count)
            if data_type == onnx.TensorProto.BFLOAT16:  # the high half of a FLOAT
                values = (values.astype(np.uint32) << 16).view(np.float32)
            rows.append((dtype_name(data_type), group_names, values))
        return rows

    def _raw_data(self, names: list[str]) -> Iterator[tuple[str, int, int, bytes]]:
        """(name, element type, element count, raw data) of each of `names` that
        `constant_rows` groups, read from the initializers' protos."""
        for name in names:
            tensor = self._initializers.get(name)
            if tensor is None or tensor.data_location == onnx.TensorProto.EXTERNAL:
                continue
            as_is = _ROWS_AS.get(tensor.data_type)
            if as_is is None or not tensor.HasField("raw_data") or tensor.HasField("segment"):
                continue
            count, raw = _element_count(tensor), tensor.raw_data
            if 0 < count <= MAX_DECODED_ELEMENTS and len(raw) == count * as_is.itemsize:
                yield name, tensor.data_type, count, raw

    def _raw_data_rows(
        self, names: list[str]
    ) -> list[tuple[tuple[int, int], list[str], bytes]] | None:
        """The groups of `constant_rows` as ((element type, element count), names, their raw
        data joined), read from the graph's bytes (`_wire.raw_data_rows`: grouped and joined
        in C, by the initializers' heads read at load; a group per kind of head, so two of one
        element count but other dims may come apart). None where the view has no such bytes
        (then each is read as a tensor).

        The bytes hold what the proto was parsed from (`LoadedModel.graph_bytes`); a payload a
        sparse read left as zeros is over MAX_INFERENCE_INITIALIZER_BYTES, and so has more
        than MAX_DECODED_ELEMENTS elements: never read here."""
        heads, index = self._initializer_heads, self._initializers
        if heads is None or self._serialized_graph is None or _wire is None:
            return None
        if not isinstance(index, _InitializersByName):
            return None
        kinds: list[tuple[int, int]] = []  # kind -> (element type, element count)
        sizes: list[int] = []  # kind -> the bytes of its raw data, or -1: not grouped
        for data_type, dims in heads.table:
            as_is, count = _ROWS_AS.get(data_type), math.prod(dims)
            grouped = as_is is not None and 0 < count <= MAX_DECODED_ELEMENTS
            kinds.append((data_type, count))
            sizes.append(count * as_is.itemsize if grouped else -1)
        positions = index.positions(names)
        read = _wire.raw_data_rows(self._serialized_graph, positions, heads.kinds, sizes)
        if read is None or read[0] != len(heads.names):
            return None
        return [
            (kinds[kind], [names[i] for i in places], joined) for kind, places, joined in read[1]
        ]

    def _position(self, name: str) -> int | None:
        """The position in `graph.initializer` of the initializer `constant_value` finds by
        `name` (the last of that name; None for a sparse initializer's values)."""
        if isinstance(self._initializers, _InitializersByName):
            return self._initializers.position(name)
        if self._positions is None:
            positions = {t.name: i for i, t in enumerate(self.graph.initializer)}
            for sparse in self.graph.sparse_initializer:
                positions.pop(sparse.values.name, None)
            self._positions = positions
        return self._positions.get(name)

    def nodes(self) -> Iterator[tuple[int, onnx.NodeProto]]:
        return enumerate(self.graph.node)


class _InitializersByName(Mapping):
    """Name -> TensorProto of a graph's initializers (the last of a name), each wrapper made
    when it is asked for: 50,000 per-layer weights cost a dict of names instead."""

    __slots__ = ("_tensors", "_index")

    def __init__(self, tensors, names: list[str]) -> None:
        self._tensors = tensors
        self._index = dict(zip(names, range(len(names)), strict=True))

    def __getitem__(self, name: str) -> onnx.TensorProto:
        return self._tensors[self._index[name]]

    def get(self, name, default=None):
        index = self._index.get(name)
        return default if index is None else self._tensors[index]

    def position(self, name: str) -> int | None:
        """The position of the initializer of `name` (the last of it), or None."""
        return self._index.get(name)

    def positions(self, names: list[str]) -> list[int]:
        """`position` of each of `names`, -1 for None."""
        return list(map(self._index.get, names, repeat(-1)))

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def keys(self):
        return self._index.keys()


def _element_count(tensor: onnx.TensorProto) -> int:
    return math.prod(tensor.dims)  # (exact: numpy's product of huge dims wraps around)


#: element types whose raw_data is the little-endian array as numpy reads it: what
#: `numpy_helper.to_array` does for them, without its per-call lookups (a quantized model
#: decodes a scale and a zero point per node)
_RAW_AS_IS = {
    onnx.TensorProto.FLOAT: np.dtype("<f4"),
    onnx.TensorProto.FLOAT16: np.dtype("<f2"),
    onnx.TensorProto.DOUBLE: np.dtype("<f8"),
    onnx.TensorProto.INT8: np.dtype("i1"),
    onnx.TensorProto.UINT8: np.dtype("u1"),
    onnx.TensorProto.INT16: np.dtype("<i2"),
    onnx.TensorProto.UINT16: np.dtype("<u2"),
    onnx.TensorProto.INT32: np.dtype("<i4"),
    onnx.TensorProto.UINT32: np.dtype("<u4"),
    onnx.TensorProto.INT64: np.dtype("<i8"),
    onnx.TensorProto.UINT64: np.dtype("<u8"),
    onnx.TensorProto.BOOL: np.dtype("?"),
}


#: how `GraphView.constant_rows` reads raw data: the types `_RAW_AS_IS` reads, and BFLOAT16
#: as its 16 bits
_ROWS_AS = {**_RAW_AS_IS, onnx.TensorProto.BFLOAT16: np.dtype("<u2")}


def _decode(tensor: onnx.TensorProto) -> np.ndarray | None:
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        return None
    if _element_count(tensor) > MAX_DECODED_ELEMENTS:
        return None
    as_is = _RAW_AS_IS.get(tensor.data_type)
    if as_is is not None and tensor.HasField("raw_data") and not tensor.HasField("segment"):
        try:
            return np.frombuffer(tensor.raw_data, as_is).reshape(tensor.dims)
        except ValueError:  # a size that does not match the dims
            return None
    try:
        return numpy_helper.to_array(tensor)
    except Exception:  # damaged or exotic tensor: treat as unknown
        return None


def _constant_node_value(node: onnx.NodeProto) -> np.ndarray | None:
    for attr in node.attribute:
        if attr.name == "value" and attr.HasField("t"):
            return _decode(attr.t)
        if attr.name == "value_float":
            return np.array(attr.f, dtype=np.float32)
        if attr.name == "value_int":
            return np.array(attr.i, dtype=np.int64)
        if attr.name == "value_floats":
            return np.array(list(attr.floats), dtype=np.float32)
        if attr.name == "value_ints":
            return np.array(list(attr.ints), dtype=np.int64)
    return None
