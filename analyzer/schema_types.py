"""Element types of the tensors ONNX's shape inference leaves untyped, read off op schemas.

ONNX has no schema for onnxruntime's com.microsoft ops (QLinearConv, QLinearAdd,
SkipLayerNormalization, FastGelu, …): their outputs get no type, and neither does anything
that follows them. A rule cannot check an element type it does not know, so a UINT8
Transpose after a QLinearConv, or the UINT8 DequantizeLinear that ends an onnxruntime
QOperator model, would pass as supported where TensorRT's parser refuses them.

Each node's schema binds its inputs and outputs to type variables (`T` of Add, Transpose's
`T`, a DequantizeLinear's x and zero point) or to fixed types (`tensor(float)`). A variable
that one of them shows the type of, or that allows a single type, types the others. The
schemas are ONNX's for the domains it defines, and the ones onnxruntime registers for its
own domains (read only when a model has nodes of such a domain, since importing onnxruntime
takes a few tenths of a second). Element types only: shapes stay unknown, and nothing that
inference typed, nor any graph input or initializer, is changed.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from typing import NamedTuple

import onnx

try:  # the passes in C (csrc/analyzer/type_binding.cpp); without it, in Python
    from trtforge.analyzer import _type_binding
except ImportError:  # pragma: no cover - a build without a C++ compiler
    _type_binding = None

#: domains whose schemas ship with the onnx package (others: onnxruntime's, if installed).
ONNX_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training"})

#: the domains onnxruntime defines ops of (com.microsoft, com.microsoft.nchwc,
#: com.ms.internal.nhwc, …): only a node of one of these has onnxruntime's schemas read.
ONNXRUNTIME_DOMAIN_PREFIXES = ("com.microsoft", "com.ms.")

#: passes over the nodes: the first goes forward (a producer before its consumers); a type
#: found for an input (a DequantizeLinear's x, from its zero point) reaches the input's
#: other consumers in the next.
PASSES = 3

_TENSOR_TYPES = frozenset(onnx.TensorProto.DataType.keys()) - {"UNDEFINED"}


class _Param(NamedTuple):
    type_str: str
    variadic: bool
    homogeneous: bool


class Signature(NamedTuple):
    """An op schema's type bindings: formal inputs and outputs, and the type variables
    allowed a single element type (`TF` of onnxruntime's QLinearConcat: float)."""

    inputs: tuple[_Param, ...]
    outputs: tuple[_Param, ...]
    single: Mapping[str, str]
    variables: frozenset[str]

    def binding(self, outputs: bool, index: int) -> str | None:
        """The type variable, or fixed element type (`tensor(float)`), of actual input
        (`outputs` False) or output `index`; None where the schema binds it to no type a
        neighbour shares (a heterogeneous variadic's positions, a position past the end)."""
        formal = self.outputs if outputs else self.inputs
        if not formal:
            return None
        last = formal[-1]
        if index < len(formal) and not (last.variadic and index >= len(formal) - 1):
            return formal[index].type_str
        if not last.variadic or (not last.homogeneous and last.type_str in self.variables):
            return None
        return last.type_str


def tensor_dtype(type_str: str) -> str | None:
    """`tensor(float16)` -> "FLOAT16"; None for anything else (a type variable, a
    sequence, a map)."""
    if type_str.startswith("tensor(") and type_str.endswith(")"):
        name = type_str[len("tensor(") : -1].upper()
        return name if name in _TENSOR_TYPES else None
    return None


def _signature_of(schema) -> Signature:
    """A Signature of an onnx `OpSchema` or an onnxruntime one (their attribute names
    differ: `type_str`/`typeStr`, `is_homogeneous`/`isHomogeneous`)."""

    def params(formals) -> tuple[_Param, ...]:
        return tuple(
            _Param(
                getattr(p, "type_str", None) or p.typeStr,
                p.option.name == "Variadic",
                bool(getattr(p, "is_homogeneous", getattr(p, "isHomogeneous", True))),
            )
            for p in formals
        )

    single: dict[str, str] = {}
    variables = set()
    for constraint in schema.type_constraints:
        variables.add(constraint.type_param_str)
        allowed = list(constraint.allowed_type_strs)
        dtype = tensor_dtype(allowed[0]) if len(allowed) == 1 else None
        if dtype is not None:
            single[constraint.type_param_str] = dtype
    return Signature(params(schema.inputs), params(schema.outputs), single, frozenset(variables))


@functools.cache
def signature(op: str, domain: str, opset: int) -> Signature | None:
    """The type bindings of `op` of `domain` at `opset`, or None where no schema is known."""
    domain = "" if domain == "ai.onnx" else domain
    if domain in ONNX_DOMAINS:
        try:
            return _signature_of(onnx.defs.get_schema(op, max(opset, 1), domain))
        except Exception:  # noqa: BLE001 - no schema at this opset (or at all)
            return None
    if not domain.startswith(ONNXRUNTIME_DOMAIN_PREFIXES):
        return None  # a custom op: no schema anywhere (onnxruntime is not imported for it)
    schema = _onnxruntime_schemas().get((domain, op))
    return None if schema is None else _signature_of(schema)


def read_schemas_for(domains: Iterable[str]) -> None:
    """Reads onnxruntime's schemas now where nodes of these domains will ask for them
    (`_onnxruntime_schemas`: an import of ~0.1 s, made once): work the static check does
    while it waits for the types (an onnxruntime-genai LLM, a fused BERT)."""
    if any(map(_onnxruntime_domain, set(domains))):
        _onnxruntime_schemas()


@functools.cache
def _onnxruntime_schemas() -> dict[tuple[str, str], object]:
    """(domain, op) -> the newest schema onnxruntime registers, for the domains onnx does
    not define; {} without onnxruntime."""
    try:
        from onnxruntime.capi import onnxruntime_pybind11_state as ort
    except ImportError:
        return {}
    newest: dict[tuple[str, str], object] = {}
    for schema in ort.get_all_operator_schema():
        if schema.domain in ONNX_DOMAINS:
            continue
        key = (schema.domain, schema.name)
        if key not in newest or schema.since_version > newest[key].since_version:
            newest[key] = schema
    return newest


def needs_schemas(domains: Iterable[str]) -> bool:
    """Whether nodes of these domains may leave tensors untyped for ONNX: a domain whose
    schemas onnx does not ship (onnxruntime's com.microsoft, a custom one)."""
    return not ONNX_DOMAINS.issuperset(domains)


def element_types(
    ops: Sequence[str],
    domains: Sequence[str],
    inputs: Sequence[Sequence[str]],
    outputs: Sequence[Sequence[str]],
    opsets: Mapping[str, int],
    dtype_of: Callable[[str], str],
    typed: Container[str],
    declared: Iterable[str] | None = None,
) -> dict[str, str]:
    """Name -> element type (e.g. "UINT8") of the node outputs not in `typed` (the names
    inference gave a type) that the schemas of the nodes around them bind to one.

    The nodes are given by column (op types, domains, input and output names, in the
    graph's order, which is topological); `opsets`: domain -> the model's opset;
    `dtype_of(name)`: the element type the model and inference give a tensor ("UNDEFINED":
    none); `declared`, if given: the names the model gives a type outside `typed` (its
    initializers and graph inputs), so that `dtype_of` is not asked about the others left
    untyped (a model of 50,000 custom-op nodes: 100,000 calls). Only the nodes touching an
    untyped output are looked at (a 100,000-node model with a few thousand FastGelus pays
    for those), and only such outputs get a type: graph inputs and initializers keep what
    they declare.

    ONNX's schemas are read first; onnxruntime's (an import of a few tenths of a second) only
    for what they leave untyped: a FastGelu's output read by a MatMul takes its type from the
    MatMul's weights."""
    # a node of a domain with no schema anywhere (a custom op's) binds nothing: 100,000
    # custom-op nodes, whose outputs inference leaves untyped, are not looked at one by one
    schemaless = {d for d in set(domains) if not _has_schemas(d)}
    untyped, open_rows = _open_rows(domains, inputs, outputs, typed, schemaless)
    found: dict[str, str] = {}
    if not open_rows:
        return found
    # an output neither typed nor declared has no type but what is found here
    no_type = untyped.difference(declared) if declared is not None else frozenset()
    binder = _Binder(ops, domains, inputs, outputs, opsets, dtype_of, untyped, no_type, found)
    left = binder.passes(open_rows, foreign=False)
    known = binder.known
    if any(
        _onnxruntime_domain(domains[i]) and any(n and known(n) is None for n in outputs[i])
        for i in open_rows
    ):  # an onnxruntime op whose own output is still untyped: its schema may tell
        binder.passes(left, foreign=True)
    return found


def _open_rows(domains, inputs, outputs, typed: Container[str], schemaless: set) -> tuple:
    """(the outputs not in `typed`, the rows not of a `schemaless` domain that read or write
    one of them; none where there is no such output), in C where `_type_binding` is built
    (~0.06 s in Python for 100,000 nodes, ~0.01 s in C)."""
    if _type_binding is not None:
        with contextlib.suppress(TypeError):  # columns that are not lists: Python's way
            return _type_binding.open_rows(domains, inputs, outputs, typed, schemaless)
    return _open_rows_python(domains, inputs, outputs, typed, schemaless)


def _open_rows_python(domains, inputs, outputs, typed, schemaless) -> tuple[set, list[int]]:
    """`_open_rows` in Python: the reference of `_type_binding.open_rows`."""
    # (comprehensions over the columns, not a loop of statements)
    untyped = {name for outs in outputs for name in outs if name and name not in typed}
    if not untyped:
        return untyped, []
    disjoint = untyped.isdisjoint
    rows = (
        range(len(domains))
        if not schemaless
        else [i for i, domain in enumerate(domains) if domain not in schemaless]
    )
    return untyped, [i for i in rows if not disjoint(outputs[i]) or not disjoint(inputs[i])]


def _has_schemas(domain: str) -> bool:
    """Whether ops of `domain` may have a schema: ONNX's domains and onnxruntime's (a
    domain that is not UTF-8 text, bytes, has none)."""
    return _domain(domain) in ONNX_DOMAINS or _onnxruntime_domain(domain)


def _onnxruntime_domain(domain: str) -> bool:
    """Whether `domain` is one onnxruntime defines ops of (bytes, text that is not UTF-8:
    none)."""
    return isinstance(domain, str) and domain.startswith(ONNXRUNTIME_DOMAIN_PREFIXES)


@functools.cache
def _variables(op: str, domain: str, opset: int, n_in: int, n_out: int):
    """(the single-type variables, the binding of each of `n_in` inputs then `n_out` outputs)
    of the op's schema (`Signature.binding`), or None without a schema: what `_Binder` reads
    for each node of one kind."""
    sig = signature(op, domain, opset)
    if sig is None:
        return None
    names = [sig.binding(False, k) for k in range(n_in)]
    names += [sig.binding(True, k) for k in range(n_out)]
    return sig.single, tuple(names)


def _domain(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


class _Binder:
    """Passes over node rows, typing what their schemas bind (`element_types`).

    What a row binds is a function of its schema's variables, the element types of its
    tensors and which of them are untyped outputs (`_binding`), worked out once for each such
    combination (50,000 nodes alike after a custom op are one). The passes with
    onnxruntime's schemas start from the rows those with ONNX's left open: a row they
    completed, found invalid or found no schema for binds nothing new."""

    def __init__(self, ops, domains, inputs, outputs, opsets, dtype_of, untyped, no_type, found):
        self._ops, self._domains, self._inputs, self._outputs = ops, domains, inputs, outputs
        self._opsets = opsets
        self._dtype_of = dtype_of
        self._untyped = untyped  # the outputs inference left untyped
        self._no_type = no_type  # those of them with no type but what is found here
        self._found = found
        # `dtype_of`, asked once a name (by `_given`, and by the native passes, which keep
        # their answers here too)
        self._fixed: dict[str, str | None] = {}
        self._outcomes: dict[tuple, tuple[bool, tuple[tuple[int, str], ...], bool]] = {}

    def known(self, name: str) -> str | None:
        """The element type of `name` found here or given by `dtype_of`; None if neither."""
        return self._found.get(name) or self._given(name)

    def _given(self, name: str) -> str | None:
        dtype = self._fixed.get(name, _UNASKED)
        if dtype is _UNASKED:
            dtype = None if name in self._no_type else self._dtype_of(name)
            dtype = self._fixed[name] = dtype if dtype and dtype != "UNDEFINED" else None
        return dtype

    def passes(self, rows: Sequence[int], foreign: bool) -> list[int]:
        """Up to PASSES passes over `rows` in order (`foreign`: onnxruntime's schemas too);
        the rows left with an untyped output their schema has not typed, and those of the
        other domains not looked at (`foreign` False). Made in C where `_type_binding` is
        built (a 100,000-node LLM of onnxruntime's ops: ~0.3 s in Python, ~0.1 s in C)."""
        if _type_binding is None:
            return self._python_passes(rows, foreign)
        try:
            return _type_binding.passes(
                list(rows), foreign, list(self._ops), list(self._domains), list(self._inputs),
                list(self._outputs), self._variables_of, self._given, self._untyped,
                self._no_type, self._found, _binding, ONNX_DOMAINS, PASSES, self._fixed,
            )  # fmt: skip
        except TypeError as err:  # a name that is not text, checked before anything is found
            if "not text" not in str(err):
                raise
            return self._python_passes(rows, foreign)

    def _variables_of(self, op: str, domain: str, n_in: int, n_out: int):
        """`_variables` of a node of `op` of `domain` (either spelling of ONNX's) with `n_in`
        inputs and `n_out` outputs, at the model's opset of the domain."""
        domain = _domain(domain)
        return _variables(op, domain, self._opsets.get(domain, 1), n_in, n_out)

    def _python_passes(self, rows: Sequence[int], foreign: bool) -> list[int]:
        """`passes` in Python: the reference of `_type_binding.passes`."""
        ops, domains, inputs, outputs = self._ops, self._domains, self._inputs, self._outputs
        found, outcomes, known = self._found, self._outcomes, self.known
        produced = self._untyped.__contains__
        pending = list(rows)
        for _ in range(PASSES):
            grew = False
            still = []
            for i in pending:
                domain = domains[i]
                if domain not in ONNX_DOMAINS and not foreign:
                    still.append(i)
                    continue
                ins, outs = inputs[i], outputs[i]
                variables = self._variables_of(ops[i], domain, len(ins), len(outs))
                if variables is None:
                    continue
                tensors = (*ins, *outs)
                dtypes = tuple(
                    [
                        known(name) if name and var else None
                        for name, var in zip(tensors, variables[1], strict=True)
                    ]
                )
                untyped = tuple(map(produced, tensors))
                key = (id(variables), dtypes, untyped)  # (`_variables` caches it: one object)
                outcome = outcomes.get(key)
                if outcome is None:
                    outcome = outcomes[key] = _binding(variables, dtypes, untyped)
                invalid, assigned, left = outcome
                if invalid:
                    continue  # an invalid node: validity reports it
                for slot, dtype in assigned:
                    found[tensors[slot]] = dtype
                    grew = True
                if left:
                    still.append(i)
            pending = still
            if not grew or not pending:
                break
        return pending


_UNASKED = object()


def _binding(
    variables: tuple, dtypes: tuple[str | None, ...], untyped: tuple[bool, ...]
) -> tuple[bool, tuple[tuple[int, str], ...], bool]:
    """What a node binds (`_bind`): (its types conflict — an invalid node, which validity
    reports; (slot, element type) of each untyped output its schema types; whether one is
    left untyped), from its schema's `variables` (`_variables`), its tensors' element types
    (`dtypes`, None: unknown) and which of them are untyped outputs (`untyped`)."""
    single, names = variables
    bound: dict[str, str] = dict(single)
    for var, dtype in zip(names, dtypes, strict=True):
        if dtype is not None and bound.setdefault(var, dtype) != dtype:
            return True, (), False
    assigned, left = [], False
    for slot, (var, dtype, open_) in enumerate(zip(names, dtypes, untyped, strict=True)):
        if not open_ or dtype is not None:
            continue
        if var is not None and (new := bound.get(var) or tensor_dtype(var)):
            assigned.append((slot, new))
        else:
            left = True
    return False, tuple(assigned), left
