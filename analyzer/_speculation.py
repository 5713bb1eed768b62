"""The speculative shape-inference run on a serialized model, without importing onnx.

`import onnx` costs ~0.17 s (onnx's Python helpers, numpy, ml_dtypes), and the child process
that infers a large model's types while trt-check imports its modules (`background.prefetch`)
needs none of it: ONNX's inference is its C++ extension, which loads on its own in ~5 ms
(`cpp_shape_inference`), and the model's fields it reads are read by the native wire reader
(`trtforge.analyzer._wire`; through `_shallow_graph`'s message types when it is not built).

`lean_inferred` makes the run of `inference.speculative_table` (`strict_run`, on short names
where long ones would slow ONNX down), and `table_state` reads its types (`inferred_types`:
the graph's, then its If/Loop/Scan bodies'), for the models where that is the whole story:
they decline (None) wherever the full path would do more (external tensors other than
top-level initializers, which they leave out first as `inference._weightless` does with
large, external and weight ones; rank-1 tensors too large for data propagation; a model the
native reader is not built for or does not understand),
and the caller then runs the full path. The limits and the memory cap are defined here,
once, for both paths.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import importlib.util
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping

from trtforge.analyzer import _split_inference

try:  # the native wire reader (csrc/analyzer/wire.cpp): no protobuf import on the lean path
    from trtforge.analyzer import _wire
except ImportError:  # pragma: no cover - a build without a C++ compiler
    _wire = None

try:  # ONNX's inference of plain graphs of common ops, natively (csrc/analyzer/infer.cpp)
    from trtforge.analyzer import _infer
except ImportError:  # pragma: no cover - a build without a C++ compiler
    _infer = None

#: the onnx releases (major.minor) whose shape inference `_infer` was checked against
#: (tests/perf/test_native_inference.py): with another, ONNX always runs.
NATIVE_INFERENCE_ONNX = frozenset({"1.23"})

#: initializers larger than this (serialized bytes) are left out of shape inference.
MAX_INFERENCE_INITIALIZER_BYTES = 64 * 1024

#: the element types (INT32, INT64) of the only initializers of rank 2 or more whose values
#: shape inference may read, but for those INFERENCE_READS_ANY_RANK_OF reads; the others
#: (weights) are left out of it too, whatever their size. In onnx 1.23, data propagation
#: reads rank-0/1 INT32/INT64 tensors only, and an op's inference reads the values of inputs
#: the op defines as scalars or 1-D (shapes, axes, pads, sizes, K, ...) but for these:
INFERENCE_READS_VALUES_OF = frozenset({6, 7})

#: ops whose inference may read the values of an input of another rank or element type: a
#: OneHot before opset 11 its indices (any rank, FLOAT among them), Resize and Upsample their
#: FLOAT scales (1-D by the spec: an invalid rank changes the inferred dims), and Loop, which
#: hands its initial values on to its body as data. Their top-level inputs are kept.
INFERENCE_READS_ANY_RANK_OF = frozenset({"OneHot", "Resize", "Upsample", "Loop"})

#: what the native readers take to tell the initializers shape inference runs without
#: (`_wire.weightless`, `_wire.lean_model`): the byte limit, the element types and the ops
#: above, as `inference._is_heavy` reads them
WEIGHT_RULE = (
    MAX_INFERENCE_INITIALIZER_BYTES,
    sorted(INFERENCE_READS_VALUES_OF),
    sorted(INFERENCE_READS_ANY_RANK_OF),
)

#: bits per element in raw_data of each ONNX element type, by number (0: none): onnx 1.23's
#: table (`validity.raw_data_bits`, read from onnx, equals it: tests/perf/test_lean_load.py),
#: here for the lean structure (`lean_structure`), which a prefetching child makes without
#: importing onnx. An element type missing here is only never left out of a structure.
RAW_DATA_BITS = (0, 32, 8, 8, 16, 16, 32, 64, 0, 8, 16, 64, 32, 64, 64, 128, 16, 8, 8, 8, 8, 4, 4,
                 4, 8, 2, 2, 8, 8)  # fmt: skip

#: a lean structure leaves out the raw data of sound weights of more elements than this: the
#: per-layer weights of a 100,000-node model (50,000 of 32x32) are most of its bytes, and
#: the few a check reads the values of are read from the file's bytes
#: (`GraphView.constant_value`, through `LoadedModel.weight_at`).
LEAN_MIN_ELEMENTS = 16

#: data propagation expands every rank-0/1 tensor into per-element shape data (about 200 bytes
#: per element in onnx 1.23, whatever the dtype): it only runs when none has more elements.
MAX_DATA_PROP_ELEMENTS = 1 << 16

#: how much a capped speculative inference may grow the address space (a 100,000-node
#: model's inference needs ~100 MB; data propagation over a rank-1 tensor of 2.5 million
#: elements would exceed it).
SPECULATION_MEMORY = 512 << 20

#: ops whose attributes hold subgraphs (whose value_info shape inference fills too).
CONTROL_FLOW = frozenset({"If", "Loop", "Scan"})


def bodies_of(node) -> list:
    """The GraphProtos an If/Loop/Scan node holds (each attribute's `g`, then its `graphs`),
    in attribute order; [] for any other node."""
    if node.op_type not in CONTROL_FLOW:
        return []
    bodies = []
    for attr in node.attribute:
        if attr.HasField("g"):
            bodies.append(attr.g)
        bodies.extend(attr.graphs)
    return bodies


def node_count(graph, enough: int) -> int:
    """The nodes of the GraphProto `graph`, those of its If/Loop/Scan bodies (nested ones
    too) counted: what inference, judging and a graphsurgeon import cost grows with (a
    scripted model's If around a whole network is one top-level node). Counting stops once
    past `enough`."""
    count = len(graph.node)
    pending = [graph]
    while pending and count <= enough:
        for node in pending.pop().node:
            for body in bodies_of(node):
                count += len(body.node)
                pending.append(body)
    return count


def serialized_node_count(serialized_model, ops: list[str]) -> int:
    """`node_count` of a serialized model whose top-level op types are `ops`
    (`model_types`), read natively (`_wire.body_nodes`); the top-level nodes alone where
    the native reader is not built or does not understand the bytes."""
    if CONTROL_FLOW.isdisjoint(ops) or _wire is None:
        return len(ops)
    return len(ops) + (_wire.body_nodes(serialized_model) or 0)


#: the domains whose ops ONNX's inference computes the outputs of: a value_info entry for
#: such an output declares no static dim to inference (`declared_dims_cleared`).
COMPUTED_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training")

#: ops whose output shape depends on the *values* of an input (a shape, axes, sizes, ...):
#: the only places where data propagation can add shape information.
SHAPE_CONSUMERS = frozenset(
    {
        "Reshape", "Expand", "Tile", "Slice", "Pad", "Resize", "Upsample", "Range",
        "ConstantOfShape", "OneHot", "TopK", "Squeeze", "Unsqueeze", "ReduceMean", "ReduceSum",
        "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
        "ReduceLogSumExp", "ReduceSumSquare", "Split", "CenterCropPad", "Col2Im", "DFT",
    }
)  # fmt: skip

#: every op whose inference may read an input's values (onnx 1.23's inference functions
#: that call `getInputData`: the SHAPE_CONSUMERS, Range among them, the ops above, the
#: bodies' ops, and the signal ops and SplitToSequence, whose sizes are inputs). Where no
#: top-level node has one of them and the model has no local function (whose body might),
#: inference reads no initializer's values, and propagates no data (`propagates`): every
#: initializer not declared as an input is then run as a typed graph input instead
#: (`inference._weightless`, `_wire.weightless`), the same types with ~40% less ONNX time
#: (a quantized model of 100,000 nodes and 83,000 scales, zero points and biases: 0.49 ->
#: 0.32 s; ONNX copies every initializer it is given).
VALUE_READERS = (
    SHAPE_CONSUMERS
    | CONTROL_FLOW
    | INFERENCE_READS_ANY_RANK_OF
    | {"STFT", "MelWeightMatrix", "BlackmanWindow", "HannWindow", "HammingWindow"}
    | {"SplitToSequence", "DFT", "Col2Im", "TopK", "Range"}
)

#: a field-1 varint (a Dimension's dim_value, a tensor's elem_type) of 16,384 or more: a
#: serialized type without one has no dim over MAX_DATA_PROP_ELEMENTS.
LARGE_FIELD_1 = re.compile(rb"\x08[\x80-\xff][\x80-\xff]")

#: mean serialized bytes per node from which inference runs on short names (`strict_run`);
#: below it, renaming costs more than it saves.
SHORT_NAMES_FROM = 100

#: the share of a graph's nodes that are Constants from which inference runs on the short copy
#: whatever its names (`strict_run`): the copy merges equal Constants, and each left out
#: spares inference a node.
SHORT_NAMES_FOR_CONSTANTS = 0.2

#: `TensorProto.EXTERNAL`
_EXTERNAL = 1


def too_large_for_data_prop(serialized_types) -> bool:
    """Whether one of the serialized TypeProtos is a rank-1 tensor of more than
    MAX_DATA_PROP_ELEMENTS elements (only those holding a large varint are decoded)."""
    serialized_types = list(serialized_types)
    if not LARGE_FIELD_1.search(b"\0".join(serialized_types)):
        return False  # one search over all (the usual answer): no varint that large anywhere
    for serialized in serialized_types:
        if LARGE_FIELD_1.search(serialized):
            from trtforge.analyzer._shallow_graph import decoded_tensor_dims

            dims = decoded_tensor_dims(serialized)
            if dims is not None and len(dims) == 1 and dims[0] > MAX_DATA_PROP_ELEMENTS:
                return True
    return False


def first_types(shallow, value_info: tuple[list, list]) -> dict[str, bytes]:
    """name -> serialized type of the entries of a `_shallow_graph` graph (`value_info`: its
    value_info entries' names and types, `_shallow_graph.merged_columns`): each name gets its
    first type in the order value_info, outputs, inputs (dict updates, inputs first, each
    container reversed so that its first entry of a name is the one kept). Equal types share
    one bytes object (its hash computed once; a pickled table holds each type once)."""
    fresh: dict[str, bytes] = {}
    for values in (shallow.input, shallow.output):
        if len(values):
            names, types = zip(*[(value.name, value.type) for value in values], strict=True)
            fresh.update(zip(reversed(names), reversed(types), strict=True))
    names, types = value_info
    fresh.update(zip(reversed(names), reversed(types), strict=True))
    shared = {t: t for t in fresh.values()}
    return dict(zip(fresh, map(shared.__getitem__, fresh.values()), strict=True))


def model_types(serialized_model: bytes) -> tuple[list[str], dict[str, bytes]]:
    """(the op_type of each top-level node, `first_types` of the graph) of a serialized
    ModelProto: read by the native reader (`trtforge.analyzer._wire`) when it is built and
    understands the bytes, else through `_shallow_graph`'s message types."""
    if _wire is not None:
        read = _wire.model_types(serialized_model)
        if read is not None:
            return read
    from trtforge.analyzer._shallow_graph import merged_columns, shallow_model_graph

    shallow = shallow_model_graph(serialized_model)
    ops, *value_info = merged_columns(serialized_model, shallow, model=True)
    return ops, first_types(shallow, value_info)


def inferred_types(serialized_model: bytes) -> tuple[list[str], dict[str, bytes]] | None:
    """(the op_type of each top-level node, name -> serialized type) of a serialized (inferred)
    model, its If/Loop/Scan bodies' types included: the entries `inference.TypeTable.add_graph`
    reads from the parsed model, read natively. None when a body has to be read that way
    (the native reader is not built, or does not understand the bytes).

    The graph's types come first (`model_types`), then each body's as the table adds them:
    a name already present keeps its type, and a body's entries go before those already
    present (`TypeTable.add_graph`); here in one pass over the bodies, last first. (Within
    one graph, the order is the native reader's: nothing reads the table's order.)
    """
    ops, types = model_types(serialized_model)
    if CONTROL_FLOW.isdisjoint(ops):
        return ops, types
    bodies = _wire.body_types(serialized_model) if _wire is not None else None
    if bodies is None:
        return None
    table: dict[str, bytes] = {}
    for body in reversed(bodies):  # a name's place: the last body's first, ...
        table.update(body)  # ... its type: the first body's (updated last)
    table.update(types)  # the graph's types win; its other names follow
    return ops, table


def propagates(ops: Iterable[str]) -> bool:
    """Whether inference of a graph whose top-level nodes have the op types `ops` may gain
    from data propagation: where one of them is a SHAPE_CONSUMER or holds bodies (If, Loop,
    Scan: a body may hold a consumer). The policy (`inference.infer_all`) propagates only
    then (`_needs_data_prop`), and so does the speculative run: the same types, and for a
    graph without them ~20% sooner (a quantized model of 100,000 nodes: 0.76 -> 0.61 s),
    with no rank-1 tensor to rule out as too large for propagation."""
    kinds = set(ops)
    return not (SHAPE_CONSUMERS.isdisjoint(kinds) and CONTROL_FLOW.isdisjoint(kinds))


def shape_consumers(ops: list[str]) -> list[int]:
    """Indices of the nodes whose op is in SHAPE_CONSUMERS."""
    return [i for i, op in enumerate(ops) if op in SHAPE_CONSUMERS]


def cpp_shape_inference():
    """ONNX's C++ shape inference (`onnx.onnx_cpp2py_export.shape_inference`), loaded without
    running `onnx/__init__.py` when onnx is not imported yet."""
    loaded = sys.modules.get("onnx.onnx_cpp2py_export")
    if loaded is None and "onnx" not in sys.modules:
        loaded = _load_extension()
    if loaded is None:
        from onnx.onnx_cpp2py_export import shape_inference

        return shape_inference
    return loaded.shape_inference


def import_onnx():
    """`import onnx`, in a process that may have loaded onnx's extension on its own first
    (`cpp_shape_inference`): the package then finds the loaded module, and gets it back as
    its attribute `onnx_cpp2py_export` (which an import of the package sets only when it
    loads the extension itself)."""
    import onnx

    loaded = sys.modules.get("onnx.onnx_cpp2py_export")
    if loaded is not None and getattr(onnx, "onnx_cpp2py_export", None) is not loaded:
        onnx.onnx_cpp2py_export = loaded
    return onnx


def _load_extension():
    """The onnx_cpp2py_export extension module, loaded from onnx's folder under its own name;
    None when it cannot be found there."""
    spec = importlib.util.find_spec("onnx")
    folders = spec.submodule_search_locations if spec is not None else None
    if not folders:
        return None
    found = glob.glob(os.path.join(glob.escape(folders[0]), "onnx_cpp2py_export*.so"))
    if len(found) != 1:
        return None
    name = "onnx.onnx_cpp2py_export"
    extension = importlib.util.spec_from_file_location(name, found[0])
    if extension is None or extension.loader is None:
        return None
    module = importlib.util.module_from_spec(extension)
    extension.loader.exec_module(module)
    # registered: an extension module initializes once per process, and a later `import onnx`
    # (the full path, in the same child) must find this one
    sys.modules[name] = module
    return module


@contextlib.contextmanager
def address_space_cap(model_bytes: int | None):
    """Lowers the soft RLIMIT_AS to the current address space plus SPECULATION_MEMORY (and 16
    times `model_bytes`) for the duration; nothing when `model_bytes` is None or the limit
    cannot be read or set (not Linux)."""
    if model_bytes is None:
        yield
        return
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as statm:
            in_use = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        cap = in_use + SPECULATION_MEMORY + 16 * model_bytes
        if soft != resource.RLIM_INFINITY and soft <= cap:
            cap = None
        if hard != resource.RLIM_INFINITY and cap is not None and cap > hard:
            cap = None
        if cap is not None:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, OSError, ValueError):
        cap = None
    try:
        yield
    finally:
        if cap is not None:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


#: what strict inference raises where a node's output type contradicts its declaration
#: (onnx's checkShapesAndTypes; `inference` prunes such declarations and infers again)
ELEMENT_TYPE_CONFLICT = "Inferred elem type differs from existing elem type"


class SpeculationFailed(Exception):
    """The speculative run failed (strict inference raised, or ran out of its memory cap) or
    its result cannot stand for the policy's (a rank-1 tensor too large for data
    propagation): the full path's speculation would fail alike, and the caller runs the
    policy step by step.

    `checked_types`: where `lean_inferred` checked the model's declared static dims before
    its run failed, the types of the model without them (name -> serialized type): what the
    policy's check (`inference._checked_declarations`) would infer again. `checked_model`:
    the serialized model that run failed on (without weights, its declarations checked), and
    `ops` its top-level op types, from which `lean_policy` makes the policy's table.
    `strict_error`: where that run was the policy's own strict run — one run of that model
    without data propagation (a graph without shape consumers or bodies: `propagates`) —
    what it raised, which the policy then need not raise again (`inference.infer_table`); a
    model that fails it fails every later node alike (an op inference cannot follow: each
    node after it "expected to have type"), and ONNX's run of a 100,000-node graph of
    heavier ops (Einsum, CumSum, Hardmax, ...) takes ~0.8 s."""

    def __init__(
        self,
        message: str,
        checked_types: Mapping[str, bytes] | None = None,
        checked_model: bytes | None = None,
        ops: list[str] | None = None,
        strict_error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.checked_types = checked_types
        self.checked_model = checked_model
        self.ops = ops
        self.strict_error = strict_error


def weight_facts(serialized_model: bytes) -> tuple[int, bool, bool]:
    """(the largest top-level initializer's serialized size, whether a tensor the check
    would load is stored externally, in the graph or its bodies, and whether some node has a
    graph attribute) of a serialized ModelProto: by the native reader when it is built and
    understands the bytes, else through `_shallow_graph` (which says False to the last)."""
    if _wire is not None:
        facts = _wire.weight_facts(serialized_model)
        if facts is not None:
            return facts
    from trtforge.analyzer._shallow_graph import data_locations, initializer_bytes

    largest = max(map(len, initializer_bytes(serialized_model)), default=0)
    return largest, _EXTERNAL in data_locations(serialized_model), False


def lean_structure(serialized_model) -> tuple[bytes, list[tuple[int, int, int]]] | None:
    """The serialized model without the raw data of its large sound top-level weights (sound
    by RAW_DATA_BITS, of more than LEAN_MIN_ELEMENTS elements, and ones shape inference runs
    without: `_wire.lean_model`), and (position, start, size) of each raw data left out;
    None without the native reader, or when it leaves nothing out or does not understand
    the bytes. What `LoadedModel.structure` is parsed from."""
    if _wire is None:
        return None
    made = _wire.lean_model(serialized_model, RAW_DATA_BITS, LEAN_MIN_ELEMENTS, *WEIGHT_RULE)
    return None if made is None or made[0] is None else made


def structure_digest(serialized_model) -> str:
    """The SHA-256 (hex) of `lean_structure(serialized_model)`'s bytes, or of the model's
    own when it makes none: what a prefetching child binds the types of a file it maps to.
    They are a function of those bytes (the weights left out are inputs of inference), and
    a command that loads the file lean has them already (`LoadedModel.inference_sha256`),
    where making the model without its weights only to hash it would cost it ~0.1 s."""
    made = lean_structure(serialized_model)
    return hashlib.sha256(made[0] if made is not None else serialized_model).hexdigest()


def declared_dims_cleared(serialized_model: bytes, bodies: bool = True) -> bytes | None:
    """The serialized model with the value_info of each top-level tensor a node of
    COMPUTED_DOMAINS makes declaring no static dim (`_wire.declared_dims_cleared`: what
    `inference._without_declared_dims` gives the parsed model); the bytes themselves where
    there is none (then no declaration needs checking: `inference._checked_declarations`);
    None without the native reader or when it does not understand them. `bodies`: the
    If/Loop/Scan bodies too (False where the model has no such node)."""
    if _wire is None:
        return None
    return _wire.declared_dims_cleared(serialized_model, COMPUTED_DOMAINS, bodies)


def checked_declarations(serialized_model: bytes, run, bodies: bool = True) -> bytes | None:
    """`inference._checked_declarations` of a serialized model, made by the native reader:
    the model without its declared static dims (`declared_dims_cleared`) is inferred by
    `run` (serialized model -> name -> serialized type), and each static dim the model
    declares where that run gives a symbolic dim of the graph's inputs is declared as that
    symbol (`_wire.declared_dims_checked`). The bytes themselves where nothing is declared
    so (no run is made where nothing is cleared); None without the native reader or when it
    does not understand them (`bodies`: as `declared_dims_cleared`'s)."""
    cleared = declared_dims_cleared(serialized_model, bodies)
    if cleared is None or cleared is serialized_model:
        return cleared
    computed = run(cleared)
    return _wire.declared_dims_checked(serialized_model, dict(computed), COMPUTED_DOMAINS, bodies)


def _weightless(serialized_model: bytes) -> tuple[bytes, list[tuple[str, bytes]]] | None:
    """The serialized model without its top-level initializers stored externally, serialized
    in more than MAX_INFERENCE_INITIALIZER_BYTES, or of rank 2 or more and another element
    type than INFERENCE_READS_VALUES_OF (unless an op of INFERENCE_READS_ANY_RANK_OF reads
    it) — every initializer not declared as an input where inference reads no values
    (VALUE_READERS) — each a typed graph input instead (`_wire.weightless`:
    what `inference._weightless` gives the parsed model), and (name, serialized type) of
    the inputs it added; None without the native reader or when it does not understand the
    bytes."""
    if _wire is None:
        return None
    return _wire.weightless(serialized_model, *WEIGHT_RULE, sorted(VALUE_READERS))


def lean_inferred(
    serialized_model: bytes,
    declared: tuple[list[str], dict[str, bytes]] | None = None,
    in_parallel: bool = False,
) -> bytes | None:
    """The inferred types of a serialized model (`strict_run`: one strict run of ONNX's
    inference with data propagation), its memory capped — the run
    `inference.speculative_table` makes — without importing onnx; None when this model needs
    the full path (module docstring). `serialized_model`: bytes, or a buffer (a mapped
    file); `declared`: `model_types(serialized_model)`, if at hand; `in_parallel`: as
    `strict_run`'s (a process that may fork). Its table: `table_state`.

    Raises:
        SpeculationFailed: the run failed (with the check's types, where it made them).
    """
    ops, types = declared if declared is not None else model_types(serialized_model)
    largest, external, _ = weight_facts(serialized_model)
    # the types the model declares, graph inputs among them
    declared_types = set(types.values())
    # run without the weights, declared as graph inputs instead (`inference._weightless` on
    # the parsed model); external tensors left elsewhere need the full path
    light, added = _lean_input(serialized_model)
    if added is not None:
        if external and weight_facts(light)[1]:
            return None
        declared_types.update(serialized for _, serialized in added)
    elif largest > MAX_INFERENCE_INITIALIZER_BYTES or external:
        return None
    serialized_model = bytes(light)  # a mapped file (`background`): ONNX takes bytes
    if "Identity" in ops:  # Identities of integer constants as Casts, as the policy infers
        cast = None if _wire is None else _wire.identities_as_casts(serialized_model)
        if cast is None:
            return None  # the full path makes that copy (`inference._identities_as_casts`)
        serialized_model = cast
    if _wire is None and not CONTROL_FLOW.isdisjoint(ops):  # bodies' types: read natively only
        return None
    data_prop = propagates(ops)
    if data_prop and too_large_for_data_prop(declared_types):  # the weights' too: inputs now
        return None

    # the check's run, made strictly (`_strict_check_run`): (its inferred model, its types,
    # the model it ran on)
    strict_check: list[tuple[bytes, dict[str, bytes], bytes]] = []
    plain_graph = CONTROL_FLOW.isdisjoint(ops)

    # the check's types, handed to the policy where the model's run fails (`SpeculationFailed`)
    checked_types: list[dict[str, bytes]] = []

    def run(cleared: bytes) -> dict[str, bytes]:  # (as `inference._run_without_declared_dims`)
        if plain_graph:
            made = _strict_check_run(cleared, data_prop, len(ops), ops.count("Constant"))
        else:
            made = _native_check_run(cleared, data_prop)
        if made is not None:
            if plain_graph:  # (bodies' declarations are not among those `merges_unchanged`
                strict_check.append((*made, cleared))  # reads: the model's run is its own)
            checked_types.append(made[1])
            return made[1]
        checked_types.append(_lenient_check_run(cleared, data_prop))
        return checked_types[-1]

    try:
        checked = checked_declarations(serialized_model, run, not plain_graph)
    except Exception as err:  # noqa: BLE001 - the full path runs it again, and decides
        raise SpeculationFailed(str(err)) from err
    if checked is None:
        return None  # the full path checks them (`inference._checked_declarations`)
    # the check's strict run failed (a stale declaration, as onnxruntime-genai's builder
    # writes): the model's run will most likely fail alike, and the policy then asks for the
    # run without propagation too (`lean_policy`); both are made now, at once
    if plain_graph and not strict_check and checked_types and data_prop:
        with address_space_cap(len(checked)):
            native_lenient_pair(checked)
    if strict_check:
        inferred, computed, cleared = strict_check[0]
        if _wire.declared_once(checked) and (
            (checked is serialized_model and _wire.merges_unchanged(types, computed))
            or _merged_as_cleared(
                checked, cleared, computed, types if checked is serialized_model else None
            )
        ):
            # every declaration merges into what inference computes unchanged (it is that
            # type, or leaves unknown what it computes): merging the static dims the check
            # cleared changes nothing, and the check's strict run is the model's run
            return inferred
    serialized_model = checked
    bodies = sum(op in CONTROL_FLOW for op in ops)
    constants = ops.count("Constant")
    try:
        with address_space_cap(len(serialized_model)):
            return strict_run(serialized_model, len(ops), bodies, in_parallel, data_prop, constants)
    except Exception as err:  # noqa: BLE001 - strict failure, MemoryError
        checked = checked_types[0] if checked_types else None
        policy_run = False  # (the policy's strict run: without propagation, ONNX's error)
        if not data_prop:
            with contextlib.suppress(Exception):  # (no onnx to load: not that run's error)
                policy_run = isinstance(
                    err, cpp_shape_inference().InferenceError
                ) and raised_as_one_run(serialized_model, len(ops), bodies, constants, data_prop)
        raise SpeculationFailed(
            str(err), checked, serialized_model, ops, str(err) if policy_run else None
        ) from err


def lean_policy(failed: SpeculationFailed) -> tuple[dict[str, bytes], list[int], str] | None:
    """The state of the policy's table (`inference.infer_table`: types by name, the
    shape-consuming node indices, the strict run's error) for the model whose lean run
    failed strictly (`failed`: a stale declaration, which onnxruntime-genai's builder writes
    in every model), made from the model that run failed on by the native lenient runs —
    without onnx, the parsed model or its weightless copy, which the policy makes again
    (~1.4 s for 100,000 nodes); None where they do not model it, or where the policy would do
    more (an element type contradicting a declaration: it infers again without those).

    The policy runs without data propagation, then with it where a shape-consuming node's
    output is unresolved: run with it here wherever the graph has such a node (and no rank-1
    tensor is too large for it), since propagation changes nothing a node resolved without it
    (`inference.speculative_table` relies on the same)."""
    if failed.checked_model is None or failed.ops is None:
        return None
    plain = native_lenient(failed.checked_model, False)
    if plain is None or ELEMENT_TYPE_CONFLICT in plain[1]:
        return None
    inferred, strict_error = plain
    with_propagation = None
    if propagates(failed.ops):
        # the propagated run's types, where the plain run has no rank-1 tensor too large for
        # propagation; propagation only adds shape facts, so where the propagated types show
        # none, the plain run has none either and its types are not read (~0.04 s for
        # 100,000 declarations)
        propagated = native_lenient(failed.checked_model, True)
        with_propagation = None if propagated is None else inferred_types(propagated[0])
        if with_propagation is not None:
            ops, raw = with_propagation
            if not too_large_for_data_prop(set(raw.values())):
                return raw, shape_consumers(ops), strict_error
    read = inferred_types(inferred)
    if read is None:
        return None
    ops, raw = read
    if propagates(failed.ops) and not too_large_for_data_prop(set(raw.values())):
        if with_propagation is None:
            return None
        ops, raw = with_propagation
    return raw, shape_consumers(ops), strict_error


def _lenient_check_run(cleared: bytes, data_prop: bool) -> dict[str, bytes]:
    """The run `checked_declarations` makes in a lean child (as the policy's,
    `inference._run_without_declared_dims`): ONNX's inference, lenient, its memory capped,
    giving name -> serialized type.

    The policy runs without propagation, then with it unless a rank-1 tensor is too large:
    propagated values only add shape facts, so where the run with them shows no such tensor,
    the run without would not have either, and the policy's result is this run's — one run
    of the whole graph instead of two."""

    def types_of(propagate: bool) -> dict[str, bytes]:
        native = native_lenient(cleared, propagate)
        if native is not None:
            inferred = native[0]
        else:
            with address_space_cap(len(cleared)):
                inferred = cpp_shape_inference().infer_shapes(cleared, False, False, propagate)
        read = inferred_types(inferred)
        if read is None:
            raise SpeculationFailed("the types of bodies are read from the parsed model only")
        return read[1]

    if not data_prop:
        return types_of(False)
    propagated = None
    with contextlib.suppress(MemoryError):
        propagated = types_of(True)
        if not too_large_for_data_prop(set(propagated.values())):
            return propagated
    plain = types_of(False)
    if too_large_for_data_prop(set(plain.values())):
        return plain
    return propagated if propagated is not None else types_of(True)


def _strict_check_run(
    cleared: bytes, data_prop: bool, nodes: int, constants: int
) -> tuple[bytes, dict[str, bytes]] | None:
    """`_lenient_check_run`'s run made strictly (a run that passes strictly gives what the
    lenient one gives) by `strict_run` (a graph of `nodes` nodes, `constants` of them
    Constants, and no If, Loop or Scan), its memory capped: (its inferred model, its types);
    None where it raised or a rank-1 tensor is too large for data propagation (the lenient
    run decides).

    A model saved after shape inference declares every tensor as inference computes it, and
    an exporter's value_info (PyTorch's dynamo exporter) leaves unknown what it does not
    know: the static dims the check clears come back from the nodes, a merge changes nothing
    the nodes computed (`_wire.merges_unchanged`), and this run is the model's own
    (`lean_inferred` keeps it, one run instead of two)."""
    try:
        with address_space_cap(len(cleared)):
            inferred = strict_run(cleared, nodes, 0, False, data_prop, constants)
    except Exception:  # noqa: BLE001 - strict failure, MemoryError: the lenient run decides
        return None
    read = inferred_types(inferred)
    if read is None or (data_prop and too_large_for_data_prop(set(read[1].values()))):
        return None
    return inferred, read[1]


def _merged_as_cleared(
    checked: bytes,
    cleared: bytes,
    computed: Mapping[str, bytes],
    declared: Mapping[str, bytes] | None = None,
) -> bool:
    """Whether a run of `checked` gives `computed`, the types a run of `cleared` (the same
    model, some static dims it declares left unknown: `declared_dims_cleared`) gave: where
    each declaration the two differ in merges into what that run computed unchanged
    (`_wire.merges_unchanged`). The others are merged alike in both runs, so each node
    infers in one what it inferred in the other. A model saved after ONNX's inference
    without data propagation declares made-up symbols (`unk__4`) where a run with it
    computes a dim (4): merged alike, and one run instead of two (GPT-2 saved so, side by
    side to 100,000 nodes: ~0.25 s). `declared`: `model_types(checked)`'s types, if at hand
    (the file's, where `checked` is its lean copy: the inputs that copy adds for the weights
    are declared alike in both)."""
    if declared is None:
        declared = model_types(checked)[1]
    before = model_types(cleared)[1]
    differ = {name: t for name, t in declared.items() if before.get(name) != t}
    return _wire.merges_unchanged(differ, computed)


def _native_check_run(cleared: bytes, data_prop: bool) -> tuple[bytes, dict[str, bytes]] | None:
    """`_lenient_check_run`'s run, made strictly by the native inference
    (`native_inferred`) for a graph with If/Loop/Scan bodies, which its lenient runs do not
    model (a graph of 2,000 Ifs: ~0.12 s against ONNX's lenient run's ~0.4 s): (its inferred
    model, its types) where that run passes, and so gives what the lenient one gives; None
    where it declines (a strict failure among them) or a rank-1 tensor is too large for data
    propagation: the lenient run decides."""
    inferred = native_inferred(cleared, data_prop)
    read = None if inferred is None else inferred_types(inferred)
    if read is None or (data_prop and too_large_for_data_prop(set(read[1].values()))):
        return None
    return inferred, read[1]


def _lean_input(serialized_model) -> tuple[bytes, list[tuple[str, bytes]] | None]:
    """What a lean run infers of a serialized model (bytes or a buffer): the model without
    its weights and the inputs added for them (`_weightless`), and without what inference
    never reads (`unread_dropped`); or, where the native reader does not make that, the
    model itself (a buffer, not copied) and None."""
    made = _weightless(serialized_model)
    if made is None:
        return serialized_model, None
    light, added = made
    return unread_dropped(light), added


def unread_dropped(serialized_model: bytes) -> bytes:
    """The serialized model without what ONNX's inference never reads: the top-level nodes'
    doc_string and metadata_props, and those of the graph's inputs, outputs and value_info
    (`_wire.unread_dropped`); the bytes themselves where there is none, or without the
    native reader. PyTorch's dynamo exporter writes a stack trace and the FX node on every
    node, ~90% of a transformer's bytes without its weights, which each run of ONNX's
    inference would parse, copy and write again: the same types, in ~1/3 of the time."""
    if _wire is None:
        return serialized_model
    made = _wire.unread_dropped(serialized_model)
    return serialized_model if made is None else made


def strict_run(
    serialized_model: bytes,
    nodes: int,
    bodies: int = 0,
    in_parallel: bool = False,
    data_prop: bool = True,
    constants: int = 0,
) -> bytes:
    """One strict run of ONNX's inference (with data propagation unless `data_prop` is
    False: `propagates`) on a serialized model of `nodes` top-level nodes, `bodies` of which
    are If/Loop/Scan: a serialized model whose graph holds the node op_types and the typed
    inputs, outputs and value_info (what the type table reads), or raises what the run raised.

    Where many bodies would each copy a large scope, the run is made as two whose bodies
    see small ones (`_split_inference`; `in_parallel`: at once, the second in a forked
    child): the same types.

    Where names are most of the graph (SHORT_NAMES_FROM bytes a node and more: exported
    transformers' `/encoder/layer.11/attention/...` names), the run is made on a copy with
    short names (`_wire.short_names`) and its types are given back their names
    (`_wire.restored_types`): ONNX's inference copies, hashes and compares names at every
    node, and a 100,000-node export infers ~25% faster. The types are the same (the renaming
    is one-to-one, and inference reads names only to connect tensors:
    `tests/perf/test_short_names.py`). The copy also merges equal top-level Constant nodes,
    so it is made too where `constants` (the graph's Constant nodes) are a fifth of its
    nodes or more (SHORT_NAMES_FOR_CONSTANTS): a TorchScript export's dynamic reshapes, a
    Constant for each axis and piece of a shape, infer in ~55% of the time.

    A graph the native inference models but for a stale declaration (a merge ONNX's run
    fails) raises the error ONNX's run would raise, from the native lenient run's errors
    (`native_lenient`): onnxruntime-genai's builder declares one in every model it writes."""
    infer = cpp_shape_inference()
    if bodies == 0:  # one native run: its errors, if any, are the strict run's
        lenient = native_lenient(serialized_model, data_prop)
        if lenient is not None:
            if lenient[1]:  # a stale declaration: ONNX's run would raise this
                raise infer.InferenceError(lenient[1])
            return lenient[0]
    native = native_inferred(serialized_model, data_prop)
    if native is not None:
        return native

    def run(model: bytes) -> bytes:
        return infer.infer_shapes(model, False, True, data_prop)

    failures = (infer.InferenceError,)  # the model fails strict inference

    renamed = None
    if _renames(serialized_model, nodes, constants):
        renamed = _wire.short_names(serialized_model)
    if renamed is not None:
        short, renaming = renamed
        inferred = _split_inference.inferred(short, run, nodes, bodies, in_parallel, failures)
        restored = _wire.restored_types(inferred, renaming)
        if restored is not None:
            return restored
    return _split_inference.inferred(serialized_model, run, nodes, bodies, in_parallel, failures)


def _renames(serialized_model: bytes, nodes: int, constants: int) -> bool:
    """Whether `strict_run` infers a copy of the model with short names (its docstring)."""
    long_names = len(serialized_model) >= SHORT_NAMES_FROM * nodes
    return (
        _wire is not None
        and nodes > 0
        and (long_names or constants >= nodes * SHORT_NAMES_FOR_CONSTANTS)
    )


def raised_as_one_run(
    serialized_model: bytes, nodes: int, bodies: int, constants: int, data_prop: bool
) -> bool:
    """Whether what `strict_run` raised for these arguments is the text ONNX's one strict run
    of the model raises: no bodies (no runs A and B: `_split_inference`), and either the
    native lenient run raised it (it gives ONNX's text) or ONNX ran on the model under its
    own names (no short-named copy: `_renames`)."""
    if bodies:
        return False
    if native_lenient(serialized_model, data_prop) is not None:  # (remembered: no new run)
        return True
    return not _renames(serialized_model, nodes, constants)  # (strict native runs raise none)


def native_inferred(serialized_model: bytes, data_prop: bool = True) -> bytes | None:
    """What `strict_run` would give, computed by `trtforge.analyzer._infer` for the graphs it
    models (plain graphs of common ops: ~10x sooner than ONNX's run); None where it does not
    model the graph, or where the installed onnx is not a release it was checked against
    (NATIVE_INFERENCE_ONNX): ONNX runs then."""
    if _infer is None or not _native_inference_matches_onnx():
        return None
    return _infer.inferred(serialized_model, data_prop)


def native_lenient(serialized_model: bytes, data_prop: bool) -> tuple[bytes, str] | None:
    """What a lenient run of ONNX's inference would give (`native_inferred`'s, made with the
    errors of stale declarations noted as ONNX notes them): (the inferred model, the error
    ONNX's strict run would raise, "" for none: then the strict run's result); None where
    the native inference does not model the graph (If bodies among it) or an op's own
    failure. The last two runs are remembered: a strict run that fails and the lenient check
    after it ask for the same one (`lean_inferred`), and so do the model's strict run and the
    policy's propagated run after its plain one (`lean_policy`: a stale genai LLM's four
    runs of 100,000 nodes are three); two, to hold no more than two models' bytes."""
    if _infer is None or not _native_inference_matches_onnx():
        return None
    return _native_lenient(bytes(serialized_model), data_prop)


def native_lenient_pair(serialized_model: bytes) -> None:
    """Makes `native_lenient`'s runs of a model with and without data propagation at once,
    one in a thread of its own (the native inference lets go of the GIL while it runs), and
    remembers both: where the prefetching child makes them, the parent waits on it with the
    other CPU idle (a stale genai LLM: ~0.3 s sooner)."""
    if _infer is None or not _native_inference_matches_onnx():
        return
    serialized_model = bytes(serialized_model)
    other = threading.Thread(target=_native_lenient, args=(serialized_model, False))
    other.start()
    try:
        _native_lenient(serialized_model, True)
    finally:
        other.join()


@functools.lru_cache(maxsize=2)
def _native_lenient(serialized_model: bytes, data_prop: bool) -> tuple[bytes, str] | None:
    made = _infer.inferred(serialized_model, data_prop, False)
    return None if made is None else (made[0], strict_error_of(made[1]))


def strict_error_of(errors: list[str]) -> str:
    """The text of the error ONNX's strict run raises for the node errors `errors` ("" for
    none): what `inference` keeps as a table's `strict_error`."""
    if not errors:
        return ""
    return "[ShapeInferenceError] Inference error(s): " + "".join(e + "\n" for e in errors)


@functools.cache
def _native_inference_matches_onnx() -> bool:
    """Whether the installed onnx is a release `_infer` was checked against: read from its
    distribution's folder name, without importing onnx (whose import costs ~0.17 s)."""
    spec = importlib.util.find_spec("onnx")
    folders = spec.submodule_search_locations if spec is not None else None
    if not folders:
        return False
    found = glob.glob(os.path.join(glob.escape(os.path.dirname(folders[0])), "onnx-*.dist-info"))
    if len(found) != 1:
        return False
    version = os.path.basename(found[0])[len("onnx-") : -len(".dist-info")]
    return ".".join(version.split(".")[:2]) in NATIVE_INFERENCE_ONNX


def table_state(inferred: bytes) -> tuple[dict[str, bytes], list[int]] | None:
    """(name -> serialized type, shape-consuming node indices) of a model `lean_inferred`
    gave: the state of the `inference.TypeTable` that `inference.speculative_table` would
    give; None when its bodies cannot be read natively (`inferred_types`: the full path).

    Raises:
        SpeculationFailed: a rank-1 tensor is too large for data propagation (the policy,
            which runs without it where it must, is needed).
    """
    read = inferred_types(inferred)
    if read is None:
        return None
    ops, raw = read
    consumers = shape_consumers(ops)
    if propagates(ops) and too_large_for_data_prop(set(raw.values())):
        raise SpeculationFailed("a rank-1 tensor is too large for data propagation")
    return raw, consumers
