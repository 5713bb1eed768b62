"""Numerical verification: the rewritten model must compute what the original computes.

Both models run on the same random inputs (each input's own dtype; dynamic dims get concrete
sizes) and every output is compared with the explicit per-dtype tolerance of `TOLERANCES`:
an element passes when `|rewritten - original| <= atol + rtol * |original|` (NaN must meet NaN).
A float output of a model that computes in a lower precision somewhere (FLOAT outputs of a
FLOAT16 model with float I/O, as onnxruntime's and most converters' fp16 conversions write
them) is compared at that precision's tolerance: a rewrite reorders arithmetic done in it.

The runner is onnxruntime with graph optimizations off. A model holding trtforge plugin nodes
(domain `trtforge`), which onnxruntime cannot run, is evaluated with `onnx.reference`, each
plugin node through its plugin's NumPy reference (`PluginSpec.reference_op()`).

Inputs come from `rewrite.inputs` (bounded token ids, 0/1 masks, sizes from the graph,
prefill and decode steps for decoders), or from the user (`--inputs`, `--data-loader-script`).
The original model is run on each candidate in turn until it runs: when it fails on all of
them, the inputs are blamed, not the rewrite. When onnxruntime has no kernel for an op of the
model (contrib ops its CPU build lacks), or the model is large, only what the passes changed is
compared (`rewrite.regional`).

External weights are not loaded here: onnxruntime reads them from the model's folder
(`folder`), or the caller passes a model whose weights its session loaded
(`ModelSession.weights`, through `loading.load_external_from`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.loading import iter_nodes
from trtforge.analyzer.outputs import interruptible

log = logging.getLogger("trtforge.rewrite.verify")

#: (rtol, atol) per ONNX element type. Integer and boolean outputs must match exactly.
TOLERANCES: dict[str, tuple[float, float]] = {
    "FLOAT": (1e-4, 1e-4),
    "DOUBLE": (1e-6, 1e-6),
    "FLOAT16": (1e-2, 1e-2),
    "BFLOAT16": (5e-2, 5e-2),
}
EXACT = (0.0, 0.0)
#: size given to a dynamic dim that `dims` does not name.
DEFAULT_DIM = 3
PLUGIN_DOMAIN = "trtforge"


class RunError(UserError):
    """onnxruntime could not run a model on the given feed."""


class NoKernelError(RunError):
    """onnxruntime has no kernel for an op of the model (e.g. a contrib op its CPU build lacks)."""


def _classify(err: Exception) -> type[RunError]:
    text = str(err)
    if (
        "NOT_IMPLEMENTED" in text
        or "Could not find an implementation" in text
        or "is not a registered function/op" in text
    ):
        return NoKernelError
    return RunError


@dataclass(frozen=True)
class OutputDiff:
    """How one output of the rewritten model compares with the original."""

    name: str
    dtype: str
    rtol: float
    atol: float
    max_abs_diff: float
    worst_index: tuple[int, ...] | None
    excess: float  # max over elements of |diff| / (atol + rtol*|ref|); <= 1 passes
    ok: bool
    note: str = ""
    #: the original's value at `worst_index` when it is not finite (NaN, ±inf): a failure
    #: there may be the inputs' doing (a degenerate model or feed) rather than a pass's
    nonfinite_reference: float | None = None

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "rtol": self.rtol,
            "atol": self.atol,
            "max_abs_diff": self.max_abs_diff,
            "worst_index": list(self.worst_index) if self.worst_index is not None else None,
            "ok": self.ok,
            "note": self.note,
        }


@dataclass
class Verification:
    """The comparison of every output."""

    outputs: list[OutputDiff] = field(default_factory=list)
    inputs: dict[str, list[int]] = field(default_factory=dict)
    seed: int = 0
    #: "model" (both whole models compared) or "regions" (only what the passes changed)
    mode: str = "model"
    #: labels of the feeds compared (one per step: "inputs", "prefill (...)", "decode (...)")
    steps: list[str] = field(default_factory=list)
    #: what the inputs assumed (from `rewrite.inputs`), and why a mode was chosen
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outputs)

    @property
    def worst(self) -> OutputDiff | None:
        if not self.outputs:
            return None
        return max(self.outputs, key=lambda o: (not o.ok, o.excess))

    def to_json(self) -> dict:
        worst = self.worst
        return {
            "ok": self.ok,
            "seed": self.seed,
            "mode": self.mode,
            "steps": list(self.steps),
            "notes": list(self.notes),
            "input_shapes": self.inputs,
            "outputs": [o.to_json() for o in self.outputs],
            "worst": worst.to_json() if worst is not None else None,
        }

    def describe_worst(self) -> str:
        worst = self.worst
        if worst is None:
            return "no outputs compared"
        where = f" at index {list(worst.worst_index)}" if worst.worst_index is not None else ""
        return (
            f"output '{worst.name}' ({worst.dtype}): max |diff| {worst.max_abs_diff:.3g}{where} "
            f"{'within' if worst.ok else 'exceeds'} atol {worst.atol:g} + rtol {worst.rtol:g}·|ref|"
            + (f" ({worst.note})" if worst.note else "")
        )


def _dtype_name(elem: int) -> str:
    return onnx.TensorProto.DataType.Name(elem)


#: how much of onnxruntime's message an error line quotes
REASON_CHARS = 240

_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : ")
_ORT_SOURCE = re.compile(r"/onnxruntime_src/\S+:\d+ (\S+\([^)]*\)( const)? )?")
_ORT_STATUS = re.compile(
    r"Non-zero status code returned while running (\S+) node\. Name:'([^']*)' Status Message: "
)


def _failures_line(failures: list[tuple[str, str]]) -> str:
    """What each input set's run raised, one line: sets that failed alike are named
    together, each reason once ("dynamic dims 3, other dynamic dims 1: <reason>")."""
    by_reason: dict[str, list[str]] = {}
    for label, reason in failures:
        by_reason.setdefault(reason, []).append(label)
    return "; ".join(f"{', '.join(labels)}: {reason}" for reason, labels in by_reason.items())


def onnxruntime_reason(err: BaseException, limit: int = REASON_CHARS) -> str:
    """onnxruntime's error as one line that keeps its cause: without the error-code prefix
    and source locations, "Non-zero status code … Name:'…' Status Message: why" as
    "Op 'name': why", and where still too long the middle cut (a builder's long node names
    would otherwise push the cause, at the end, out of the line)."""
    text = " ".join(str(err).split())
    text = _ORT_PREFIX.sub("", text)
    text = _ORT_SOURCE.sub("", text)
    text = _ORT_STATUS.sub(lambda m: f"{m[1]} '{m[2]}': ", text)
    if len(text) <= limit:
        return text
    head = limit // 3
    return f"{text[:head]}…{text[len(text) - (limit - head - 1) :]}"


def make_inputs(
    proto: onnx.ModelProto,
    seed: int = 0,
    dims: Mapping[str, int] | None = None,
    types=None,
    candidate: int = 0,
    folder: Path | None = None,
) -> dict[str, np.ndarray]:
    """Inputs for every graph input that is not an initializer: the first step of candidate
    `candidate` (the first by default; `first_runnable`) of `rewrite.inputs.candidates`
    (floats standard normal; integers bounded by the tables they index, else 0..3; masks 0/1;
    a dynamic dim takes `dims[name]` or `DEFAULT_DIM`; `types`: the model's type table, when
    the caller has one; `folder`: the model's, where a genai_config.json beside it gives a
    decoder's KV-cache dims)."""
    from trtforge.analyzer.rewrite.inputs import candidates

    return candidates(proto, seed, dims, folder=folder, types=types)[candidate].steps[0].feed


def first_runnable(
    proto: onnx.ModelProto,
    seed: int = 0,
    dims: Mapping[str, int] | None = None,
    types=None,
    folder: Path | None = None,
) -> int:
    """The index of the first candidate of `rewrite.inputs.candidates` whose inputs `proto`
    runs with in onnxruntime, as verification tries them (the first may be too small: a
    speech model's time axis under strided convolutions); 0 when none runs, so that the
    caller's own run reports onnxruntime's error."""
    from trtforge.analyzer.rewrite.inputs import candidates

    for index, candidate in enumerate(candidates(proto, seed, dims, folder=folder, types=types)):
        try:
            run_model(proto, candidate.steps[0].feed)
        except NoKernelError:
            return 0
        except RunError:
            continue
        return index
    return 0


def _plugin_spec(node: onnx.NodeProto):
    """The declaration serving a plugin node (plugin_lookup's rule, newest parsers)."""
    from trtforge.analyzer.plugin_lookup import find_declared, plugin_keys

    spec = find_declared(node)
    if spec is None:
        name, version, namespace = plugin_keys(node)[-1]
        raise UserError(
            f"{node.op_type} node '{node.name}': plugin {namespace}::{name} v{version} has no "
            "declaration here, so its output cannot be verified",
            "install trtforge with its plugins, or rewrite with --no-verify",
        )
    return spec


def _is_plugin_node(node: onnx.NodeProto) -> bool:
    """A node onnxruntime cannot run but a plugin declaration evaluates: trtforge's domain, or
    another custom domain whose node the lookup maps onto a declaration."""
    if node.domain == PLUGIN_DOMAIN:
        return True
    if node.domain in ("", "ai.onnx", "ai.onnx.ml"):
        return False
    from trtforge.analyzer.plugin_lookup import find_declared

    return find_declared(node) is not None


def _is_exact_node(node: onnx.NodeProto) -> bool:
    """A node whose onnxruntime CPU kernel is off the ONNX spec, computed here in NumPy instead:
    MatMulInteger, whose x86 kernels for a uint8 A and an int8 B sum pairs of products in
    saturating 16-bit arithmetic on CPUs without VNNI (`quantize_dynamic` with int8 weights: a
    small DistilBERT's output is off by 1.8e-3 from `onnx.reference` and exact arithmetic)."""
    return node.op_type == "MatMulInteger" and node.domain in ("", "ai.onnx")


def _matmul_integer(args: list[np.ndarray | None]) -> list[np.ndarray]:
    """MatMulInteger by the spec: (A - a_zero_point) · (B - b_zero_point) in int32, a per-row
    A zero point along A's rows, a per-column B zero point along B's columns."""
    a, b = args[0].astype(np.int64), args[1].astype(np.int64)
    a_zp = args[2] if len(args) > 2 and args[2] is not None else None
    b_zp = args[3] if len(args) > 3 and args[3] is not None else None
    if a_zp is not None:
        z = a_zp.astype(np.int64)
        a = a - (z.reshape(-1, 1) if z.ndim == 1 and z.size > 1 else z.reshape(z.shape or ()))
    if b_zp is not None:
        b = b - b_zp.astype(np.int64)
    return [np.matmul(a, b).astype(np.int32)]


def _run_plugin_node(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray]:
    """Evaluates one plugin node with onnx.reference and the plugin's NumPy reference op."""
    from onnx.reference import ReferenceEvaluator

    spec = _plugin_spec(node)
    names = [f"in{i}" if a is not None else "" for i, a in enumerate(args)]
    inputs = [
        onnx.helper.make_tensor_value_info(
            n, onnx.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape
        )
        for n, a in zip(names, args, strict=True)
        if a is not None
    ]
    outs = [f"out{i}" for i in range(len(node.output))]
    single = onnx.NodeProto()
    single.CopyFrom(node)
    del single.input[:]
    single.input.extend(names)
    del single.output[:]
    single.output.extend(outs)
    single.domain = spec.namespace  # where the reference op is registered
    graph = onnx.helper.make_graph(
        [single], "plugin", inputs, [onnx.helper.make_empty_tensor_value_info(o) for o in outs]
    )
    model = onnx.helper.make_model(
        graph,
        opset_imports=[
            onnx.helper.make_opsetid("", 17),
            onnx.helper.make_opsetid(spec.namespace, 1),
        ],
    )
    evaluator = ReferenceEvaluator(model, new_ops=[spec.reference_op()])
    feeds = {n: a for n, a in zip(names, args, strict=True) if a is not None}
    return list(evaluator.run(None, feeds))


#: models larger than this go to onnxruntime through a temporary file with external data
#: (a protobuf cannot be serialized past 2 GiB).
INLINE_LIMIT = 1 << 30


#: onnxruntime's session option naming the folder external data is read from, when the model
#: is given as bytes (it then reads the weights itself; Python never holds them).
EXTERNAL_FOLDER_KEY = "session.model_external_initializers_file_folder_path"


#: variadic ops onnxruntime (1.32) crashes on (SIGSEGV) when an input is an empty name
_CRASHING_VARIADIC = frozenset({"Max", "Min", "Sum", "Mean"})


def refuse_crashing_models(proto: onnx.ModelProto) -> None:
    """Raises UserError for a graph onnxruntime would crash on instead of refusing: a Max,
    Min, Sum or Mean with an input given as an empty name (valid ONNX; the process died
    with SIGSEGV, no message, inside verification, calibration or the FP16 check).
    trt-rewrite (when it verifies) and trt-quantize call it once, before any run."""
    from trtforge.analyzer.errors import UserError
    from trtforge.analyzer.loading import iter_nodes
    from trtforge.analyzer.safe_text import printable

    for node in iter_nodes(proto.graph.node):
        if node.op_type in _CRASHING_VARIADIC and node.domain in ("", "ai.onnx"):
            if not all(node.input):
                raise UserError(
                    f"{node.op_type} node '{printable(node.name)}' has an input given as an "
                    "empty name, which onnxruntime crashes on (TensorRT refuses it too)",
                    "drop the empty input (trt-rewrite --trim-empty-inputs --no-verify drops "
                    "trailing ones) or name it, then run this again",
                )


def _session(proto: onnx.ModelProto, options, folder=None):
    import onnxruntime as ort

    if folder is not None:
        options.add_session_config_entry(EXTERNAL_FOLDER_KEY, str(folder))
    if proto.ByteSize() < INLINE_LIMIT:
        return ort.InferenceSession(
            proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="trtforge-verify-") as tmp:
        path = Path(tmp) / "model.onnx"
        copy = onnx.ModelProto()
        copy.CopyFrom(proto)
        onnx.save(
            copy, path, save_as_external_data=True, location="model.onnx.data", size_threshold=1024
        )
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


#: onnxruntime's seed for unseeded random ops, set before every verification run
RANDOM_SEED = 0


def _ort_run(
    proto: onnx.ModelProto, feeds: Mapping[str, np.ndarray], wanted: list[str], folder=None
):
    """Runs `proto` in onnxruntime (optimizations off). `folder`: where its external data is,
    when its weights are not loaded.

    Raises:
        NoKernelError: onnxruntime has no kernel for one of its ops.
        RunError: any other failure (usually: the model does not run on these inputs).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4  # failures are reported as one line, not logged
    # Verification runs each model on a handful of feeds: repacking every weight for faster
    # MatMuls costs more than it saves (BERT-large: 5 s of a 5.5 s session start, and a
    # second copy of the weights in memory).
    options.add_session_config_entry("session.disable_prepacking", "1")
    try:
        session = _session(proto, options, folder)
        feed_names = {i.name for i in session.get_inputs()}
        # random ops without a seed (Dropout in training mode, RandomNormal…) draw from
        # onnxruntime's global generator: the same seed before each run gives the original and
        # the rewritten model the same draws where a pass left those ops as they were
        ort.set_seed(RANDOM_SEED)
        feed = {k: v for k, v in feeds.items() if k in feed_names}
        results = interruptible(session.run, wanted, feed)  # a signal stops a long run
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own error types
        raise _classify(err)(
            f"onnxruntime cannot run the model for verification ({onnxruntime_reason(err)})",
            "rewrite with --no-verify if the model is meant for TensorRT only",
        ) from None
    return dict(zip(wanted, results, strict=True))


def _slice(
    proto: onnx.ModelProto, known: Mapping[str, np.ndarray], wanted: list[str]
) -> onnx.ModelProto:
    """The part of `proto` computing `wanted` from the `known` tensors (fed as inputs)."""
    graph = proto.graph
    producers = {o: n for n in graph.node for o in n.output}
    inits = {t.name for t in graph.initializer}
    keep: list[onnx.NodeProto] = []
    seen: set[int] = set()
    stack = list(wanted)
    used_known: set[str] = set()
    while stack:
        name = stack.pop()
        if name in known:
            used_known.add(name)
            continue
        if name in inits or not name:
            continue
        node = producers.get(name)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        keep.append(node)
        stack.extend(node.input)
        for attr in node.attribute:  # outer tensors read by subgraphs
            for body in [attr.g] if attr.HasField("g") else list(attr.graphs):
                stack.extend(i for n in body.node for i in n.input)
    order = {id(n): i for i, n in enumerate(graph.node)}
    keep.sort(key=lambda n: order[id(n)])
    needed_inits = {i for n in keep for i in n.input} | set(wanted)
    for node in keep:
        for attr in node.attribute:
            for body in [attr.g] if attr.HasField("g") else list(attr.graphs):
                needed_inits.update(i for n in body.node for i in n.input)
    inputs = [
        onnx.helper.make_tensor_value_info(
            n, onnx.helper.np_dtype_to_tensor_dtype(np.asarray(known[n]).dtype), np.shape(known[n])
        )
        for n in sorted(used_known)
    ]
    outputs = [onnx.helper.make_empty_tensor_value_info(w) for w in wanted]
    sub = onnx.helper.make_graph(
        keep, "slice", inputs, outputs, [t for t in graph.initializer if t.name in needed_inits]
    )
    model = onnx.helper.make_model(sub, opset_imports=list(proto.opset_import))
    model.ir_version = proto.ir_version
    model.functions.extend(proto.functions)
    return model


def _off_spec_in_onnxruntime(proto: onnx.ModelProto) -> bool:
    """True for a model onnxruntime (1.32) computes otherwise than the ONNX spec and
    `onnx.reference`, which then evaluates it:
    - a training-mode BatchNormalization: onnxruntime's CPU kernel normalizes it by
      statistics that are not the batch's (a [2, 3, 4] input with mean 0 / var 1 inputs is
      off by 0.1), where the spec uses the batch mean and population variance;
    - a Loop whose body outputs its iteration count itself (no node between): onnxruntime
      hands back the count it has since incremented (5 where the last iteration's is 4), and
      a rewrite computing the right value (carry-loop-counter) failed verification;
    - a Dropout before opset 12 whose mask is read: onnxruntime's kernel gives an all-false
      mask in inference, where the spec (from opset 12 on) and `onnx.reference` give
      all-true, so `--upgrade-opset` failed verification on it."""
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 12 and _reads_dropout_mask(proto.graph):
        return True
    for node in iter_nodes(proto.graph.node):
        if node.domain not in ("", "ai.onnx"):
            continue
        if node.op_type == "BatchNormalization":
            if any(a.name == "training_mode" and a.i for a in node.attribute):
                return True
        elif node.op_type == "Loop":
            body = next((a.g for a in node.attribute if a.name == "body"), None)
            if body is not None and body.input:
                count = body.input[0].name
                if count and any(out.name == count for out in body.output):
                    return True
    return False


def _reads_dropout_mask(graph: onnx.GraphProto) -> bool:
    """Whether a Dropout's mask output (of `graph` or a body) is a graph output or read."""
    masks = {
        node.output[1]
        for node in iter_nodes(graph.node)
        if node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]
    }
    if not masks:
        return False
    if masks & {o.name for o in graph.output}:
        return True
    return any(name in masks for node in iter_nodes(graph.node) for name in node.input)


def _reference_run(proto: onnx.ModelProto, feeds, names: list[str]) -> dict[str, np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    try:
        evaluator = ReferenceEvaluator(proto, new_ops=_older_reference_ops(proto))
        results = evaluator.run(names, dict(feeds))
    except Exception as err:  # noqa: BLE001 - the reference raises many kinds
        raise UserError(
            f"onnx.reference cannot run the model for verification ({str(err)[:200]})",
            "rewrite with --no-verify if the model is meant for TensorRT only",
        ) from None
    return dict(zip(names, results, strict=True))


def _older_reference_ops(proto: onnx.ModelProto) -> list[type]:
    """Implementations `onnx.reference` (1.23) lacks for a model of an opset before 19:
    DequantizeLinear 10 and 13, whose semantics for their types (8-bit and INT32 data, a
    scalar or per-axis scale) its version 19 keeps — so a trt-quantize result of an opset 13-18
    model that only `onnx.reference` runs (a training-mode BatchNormalization) is
    verified rather than refused."""
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset >= 19:
        return []
    from onnx.reference.ops.op_dequantize_linear import DequantizeLinear_19

    class DequantizeLinear(DequantizeLinear_19):
        op_domain = ""

        def _run(self, x, x_scale, x_zero_point=None, axis=1, block_size=0, output_dtype=None):
            # (the evaluator passes the attributes of the newest schema: unset here)
            return super()._run(x, x_scale, x_zero_point, axis)

    return [DequantizeLinear]


def run_model(
    proto: onnx.ModelProto,
    feeds: Mapping[str, np.ndarray],
    names: list[str] | None = None,
    folder=None,
) -> dict[str, np.ndarray]:
    """Runs a model and returns its outputs (or the tensors `names`) by name.

    onnxruntime runs the standard ops; each trtforge plugin node is evaluated, in graph order,
    by its plugin's reference op, and onnxruntime continues from its outputs. `folder`: where
    external weights are read from when they are not loaded (plugin nodes need them loaded).
    """
    names = names or [o.name for o in proto.graph.output]
    proto = exact_nbits(proto)
    if _off_spec_in_onnxruntime(proto):
        return _reference_run(proto, feeds, names)
    plugin_nodes = [n for n in proto.graph.node if _is_plugin_node(n) or _is_exact_node(n)]
    if not plugin_nodes:
        if set(names) - {o.name for o in proto.graph.output}:
            proto = _with_outputs(proto, names)
        return _ort_run(proto, feeds, names, folder)
    from onnx import numpy_helper

    inits = {t.name: t for t in proto.graph.initializer}
    known: dict[str, np.ndarray] = dict(feeds)
    for node in plugin_nodes:
        needed = [i for i in node.input if i and i not in known and i not in inits]
        if needed:
            known.update(_ort_run(_slice(proto, known, needed), known, needed, folder))
        args = [
            None
            if not i
            else known[i]
            if i in known
            else numpy_helper.to_array(inits[i], base_dir=str(folder or ""))
            for i in node.input
        ]
        try:
            outputs = (
                _matmul_integer(args) if _is_exact_node(node) else _run_plugin_node(node, args)
            )
        except (ValueError, TypeError, IndexError) as err:  # inputs the node cannot take
            raise RunError(f"{node.op_type} node '{node.name}': {err}") from err
        known.update(zip(node.output, outputs, strict=False))
    missing = [n for n in names if n not in known]
    if missing:
        known.update(_ort_run(_slice(proto, known, missing), known, missing, folder))
    return {n: known[n] for n in names}


def _with_outputs(proto: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    """A shallow copy of `proto` (initializers shared as references, not loaded) whose graph
    outputs are `names` (intermediate tensors included)."""
    out = onnx.ModelProto()
    graph = proto.graph
    out.CopyFrom(onnx.ModelProto(ir_version=proto.ir_version, opset_import=proto.opset_import))
    out.functions.extend(proto.functions)
    new = out.graph
    new.name = graph.name
    new.node.extend(graph.node)
    new.initializer.extend(graph.initializer)
    new.sparse_initializer.extend(graph.sparse_initializer)
    new.input.extend(graph.input)
    new.value_info.extend(graph.value_info)
    declared = {o.name: o for o in graph.output}
    for name in names:
        new.output.append(declared.get(name) or onnx.helper.make_empty_tensor_value_info(name))
    return out


def exact_nbits(proto: onnx.ModelProto) -> onnx.ModelProto:
    """`proto` with `accuracy_level` dropped from com.microsoft MatMulNBits nodes (a copy, only
    when one has it). Level 4, which onnxruntime-genai's int4 exports set, quantizes the
    activations to INT8 inside onnxruntime's kernel: an approximation of the op, not its
    definition, which a rewrite computing the exact product would be compared against."""
    if not any(
        n.op_type == "MatMulNBits" and any(a.name == "accuracy_level" for a in n.attribute)
        for n in proto.graph.node
    ):
        return proto
    exact = onnx.ModelProto()
    exact.CopyFrom(proto)
    for node in exact.graph.node:
        if node.op_type == "MatMulNBits":
            kept = [a for a in node.attribute if a.name != "accuracy_level"]
            del node.attribute[:]
            node.attribute.extend(kept)
    return exact


def computed_float_types(model: onnx.ModelProto, types=None) -> set[str]:
    """The floating-point element types `model` computes in: those of its tensors (inferred,
    subgraphs included; `types`: its type table when the caller has it) and initializers."""
    from trtforge.analyzer.inference import dtype_name, infer_types

    if types is None:
        types = infer_types(model)
    names = {dtype_name(t.data_type) for t in model.graph.initializer}
    names |= {dtype_name(t.tensor_type.elem_type) for t in types.distinct_types()}
    return names & set(TOLERANCES)


def _loosest(dtypes: set[str]) -> str | None:
    """The float type of the loosest tolerance among `dtypes` (None when there is none)."""
    known = [d for d in dtypes if d in TOLERANCES]
    return max(known, key=lambda d: TOLERANCES[d]) if known else None


def maps_as_array(value):
    """A sequence of maps (ZipMap's output: one {label: probability} per row) as the
    [rows, labels] array `lower-ml --zipmap-as-tensor` outputs instead; anything else as is."""
    if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        return np.array([list(row.values()) for row in value], dtype=np.float32)
    return value


def compare(
    name: str,
    ref: np.ndarray,
    got: np.ndarray,
    elem_type: int,
    computed_in: str | None = None,
    allowance: tuple[float, str] | None = None,
) -> OutputDiff:
    """Compares one output with the tolerance of its dtype, or of `computed_in` (the lowest
    float precision the model computes in) for a float output when that one is looser, or with
    the absolute `allowance` a pass declared for it (`RewriteResult.allowances`: e.g. a
    quantization step that the rewrite changed) when that one is looser. A sequence of maps
    (ZipMap) is compared as the [rows, labels] float array."""
    maps = ref
    if isinstance(ref, list) and not (ref and isinstance(ref[0], dict)):
        return _compare_sequence(name, ref, got, elem_type, computed_in, allowance)
    ref = maps_as_array(ref)
    got = maps_as_array(got)  # both sides when the rewrite keeps the ZipMap
    if ref is not maps:
        elem_type = onnx.TensorProto.FLOAT
    # a value of no known element type (an intermediate inference did not type, in a
    # regional comparison) has the one of its reference's array
    elem_type = elem_type or _elem_type(ref)
    dtype = _dtype_name(elem_type) if elem_type else str(np.asarray(ref).dtype).upper()
    rtol, atol = TOLERANCES.get(dtype, EXACT)
    note = ""
    if dtype in TOLERANCES and computed_in is not None:
        looser = TOLERANCES[computed_in]
        if looser > (rtol, atol):
            rtol, atol = looser
            note = f"compared at {computed_in} tolerance: the model computes in {computed_in}"
    if dtype in TOLERANCES and allowance is not None and allowance[0] > atol:
        atol, note = allowance
    ref = np.asarray(ref)
    got = np.asarray(got)
    if ref.shape != got.shape:
        return OutputDiff(
            name,
            dtype,
            rtol,
            atol,
            float("inf"),
            None,
            float("inf"),
            False,
            f"shape {list(got.shape)} instead of {list(ref.shape)}",
        )
    if ref.size == 0:
        return OutputDiff(name, dtype, rtol, atol, 0.0, None, 0.0, True)
    if ref.dtype.kind not in "fc":
        diff = (ref != got).astype(np.float64)
        excess = diff
    else:
        a = ref.astype(np.float64)
        b = got.astype(np.float64)
        same = (np.isnan(a) & np.isnan(b)) | (a == b)  # equal infinities too (inf - inf is NaN)
        with np.errstate(invalid="ignore"):
            diff = np.where(same, 0.0, np.abs(a - b))
        diff = np.where(np.isnan(diff), np.inf, diff)
        bound = atol + rtol * np.abs(np.nan_to_num(a))
        excess = np.where(
            bound > 0, diff / np.where(bound > 0, bound, 1.0), np.where(diff > 0, np.inf, 0.0)
        )
    worst_flat = int(np.argmax(excess))
    worst_index = tuple(int(i) for i in np.unravel_index(worst_flat, ref.shape))
    max_excess = float(excess.reshape(-1)[worst_flat])
    ok = max_excess <= 1.0 if ref.dtype.kind in "fc" else max_excess == 0.0
    nonfinite = None
    if not ok and ref.dtype.kind == "f" and not np.isfinite(ref[worst_index]):
        nonfinite = float(ref[worst_index])
        note = "; ".join(filter(None, [note, f"the original gives {nonfinite} there"]))
    return OutputDiff(
        name,
        dtype,
        rtol,
        atol,
        float(np.max(diff)),
        worst_index,
        max_excess,
        ok,
        note,
        nonfinite,
    )


def _elem_type(value) -> int:
    """The ONNX element type of an array (0 when it has none)."""
    try:
        return onnx.helper.np_dtype_to_tensor_dtype(np.asarray(value).dtype)
    except (KeyError, TypeError, ValueError):
        return 0


def _compare_sequence(
    name: str,
    ref: list,
    got,
    elem_type: int,
    computed_in: str | None,
    allowance: tuple[float, str] | None,
) -> OutputDiff:
    """A sequence output (a list of tensors) compared tensor by tensor: its worst difference,
    or a failure when the rewritten model gives another number of tensors or none."""
    count = len(got) if isinstance(got, list) else None
    if count != len(ref):
        what = f"{count} tensor(s)" if count is not None else "a tensor"
        return OutputDiff(
            name,
            "SEQUENCE",
            0,
            0,
            float("inf"),
            None,
            float("inf"),
            False,
            f"a sequence of {what} instead of {len(ref)}",
        )
    diffs = [  # each tensor with its own dtype's tolerance (`compare` reads it off the array)
        compare(f"{name}[{i}]", r, g, 0, computed_in, allowance)
        for i, (r, g) in enumerate(zip(ref, got, strict=True))
    ]
    if not diffs:
        return OutputDiff(name, "SEQUENCE", 0, 0, 0.0, None, 0.0, True, "an empty sequence")
    return max(diffs, key=lambda d: (not d.ok, d.excess))


def _diffs(
    original: onnx.ModelProto,
    names: list[str],
    expected: Mapping[str, np.ndarray],
    actual: Mapping[str, np.ndarray],
    computed_in: str | None,
    label: str = "",
    types: Mapping[str, int] | None = None,
    allowances: Mapping[str, tuple[float, str]] | None = None,
) -> list[OutputDiff]:
    declared = {o.name: o.type.tensor_type.elem_type for o in original.graph.output}
    declared.update(types or {})
    out = []
    for name in names:
        shown = f"{name} [{label}]" if label else name
        elem = declared.get(name, 0)
        if name not in actual:
            out.append(
                OutputDiff(
                    shown,
                    _dtype_name(elem) if elem else "?",
                    0,
                    0,
                    float("inf"),
                    None,
                    float("inf"),
                    False,
                    "missing in the rewritten model",
                )
            )
            continue
        allowance = (allowances or {}).get(name)
        diff = compare(shown, expected[name], actual[name], elem, computed_in, allowance)
        out.append(diff)
    return out


def verify(
    original: onnx.ModelProto,
    rewritten: onnx.ModelProto,
    seed: int = 0,
    dims: Mapping[str, int] | None = None,
    feeds: list | None = None,
    folder=None,
    regional: bool = False,
    allowances: Mapping[str, tuple[float, str]] | None = None,
    model_dir=None,
    types=None,
) -> Verification:
    """Runs both models on the same inputs and compares every output.

    Args:
        original, rewritten: the models; weights loaded, or external and read from `folder`.
        seed, dims: for generated inputs (`rewrite.inputs.candidates`).
        feeds: user-given candidates (`rewrite.inputs.load_npz` / `load_script`) instead.
        folder: the folder external weights are read from when they are not loaded.
        regional: compare only what the passes changed (`rewrite.regional`), as for large
            models; also chosen when onnxruntime has no kernel for an op of the model.
        allowances: absolute tolerances the passes declared per output, with why.
        model_dir: the model's folder, for `genai_config.json` (decoder KV-cache layout).
        types: the original's type table (`ModelSession.types()`): shared, not inferred again.

    Raises:
        UserError: the original model runs on none of the inputs (the inputs are blamed),
            or neither whole-model nor regional verification is possible.
    """
    from trtforge.analyzer.rewrite import inputs as gen

    given = feeds is not None
    if types is None:
        from trtforge.analyzer.inference import infer_types

        types = infer_types(original)
    options = feeds if given else gen.candidates(original, seed, dims, model_dir or folder, types)
    computed_in = _loosest(computed_float_types(original, types))
    if regional:
        from trtforge.analyzer.rewrite.regional import changed_regions, verify_regions

        if changed_regions(original, rewritten) is not None:  # else: whole models, below
            return verify_regions(original, rewritten, options, computed_in, folder, seed, types)
    names = [o.name for o in original.graph.output]
    failures = []
    for candidate in options:
        try:
            expected = [run_model(original, step.feed, names, folder) for step in candidate.steps]
        except NoKernelError as err:
            from trtforge.analyzer.rewrite.regional import verify_regions

            result = verify_regions(original, rewritten, options, computed_in, folder, seed, types)
            result.notes.insert(0, f"whole-model run impossible: {err.message}")
            return result
        except RunError as err:
            failures.append((candidate.assumed or "inputs", err.message))
            continue
        result = Verification(
            inputs={k: list(v.shape) for k, v in candidate.steps[0].feed.items()},
            seed=seed,
            steps=[step.label for step in candidate.steps],
            notes=[candidate.assumed] if candidate.assumed else [],
        )
        for step, want in zip(candidate.steps, expected, strict=True):
            got = run_model(rewritten, step.feed, names, folder)
            want = {n: step.defined_part(n, v) for n, v in want.items()}
            got = {n: step.defined_part(n, v) for n, v in got.items()}
            label = step.label if len(candidate.steps) > 1 else ""
            result.outputs.extend(
                _diffs(original, names, want, got, computed_in, label, None, allowances)
            )
        return result
    what = "the given inputs" if given else f"any of {len(options)} generated input sets"
    raise UserError(
        f"verification: the ORIGINAL model does not run on {what}, so the rewrite cannot be "
        f"compared ({_failures_line(failures)})",
        "give inputs it runs with (--inputs FILE.npz, --data-loader-script file.py, or --dim "
        "NAME=SIZE), or rewrite with --no-verify",
    )
