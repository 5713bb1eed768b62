"""Calls to model-local functions (`ModelProto.functions`), judged by their bodies.

The parser imports a node whose op_type names a local function by importing the function's
body in its place (onnx-tensorrt ModelProto import: `importLocalFunctions`, and the
`LocalFunctionImporter`, added in TensorRT 9.0 EA). Dispatch is by op_type: a built-in importer
first, then a local function of that name (whatever the node's domain), then a plugin.
Observed with TensorRT-RTX 1.7.1: a call to a function of Mul and Relu parses; one whose body
holds a NonZero fails at the call node.

To judge a call, the static backend puts it alone in a small model — the call's inputs typed
as in the caller, small constant inputs as initializers — inlines it there with
`onnx.inliner`, checks that model, and reports the body's unsupported nodes on the call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import onnx
import onnx.inliner
from onnx import helper, numpy_helper

from trtforge.analyzer.findings import Finding
from trtforge.analyzer.graph import GraphView
from trtforge.analyzer.inference import GENERATED_DIM
from trtforge.analyzer.loading import iter_nodes
from trtforge.analyzer.report import NodeVerdict, Report

log = logging.getLogger("trtforge.static")

#: function calls inside function bodies are inlined too, but never deeper than this
MAX_DEPTH = 8


def parser_functions(model: onnx.ModelProto) -> dict[str, onnx.FunctionProto]:
    """name -> the model-local function the parser imports for a node of that op_type: the
    first of that name, whatever its domain and overload (observed with TensorRT-RTX 1.7.1:
    of two overloads of `local.F`, a call naming the second imports the first)."""
    chosen: dict[str, onnx.FunctionProto] = {}
    for function in model.functions:
        chosen.setdefault(function.name, function)
    return chosen


def _as_parser_imports(model: onnx.ModelProto, call: onnx.NodeProto) -> onnx.NodeProto:
    """`call`, and `model`'s functions (in place), made to name the functions the parser
    imports (`parser_functions`): one function per name, overloads cleared, and every call of
    a function in a custom domain given that function's domain, so that onnx's inliner, which
    looks functions up by domain, name and overload, inlines what the parser would."""
    chosen = parser_functions(model)
    kept = [onnx.FunctionProto() for _ in chosen]
    for copy, function in zip(kept, chosen.values(), strict=True):
        copy.CopyFrom(function)
        copy.overload = ""
    del model.functions[:]
    model.functions.extend(kept)

    def resolve(node: onnx.NodeProto) -> None:
        function = chosen.get(node.op_type)
        if function is not None and node.domain not in ("", "ai.onnx"):
            node.domain = function.domain
            node.overload = ""

    for function in model.functions:
        for node in iter_nodes(function.node):
            resolve(node)
    resolved = onnx.NodeProto()
    resolved.CopyFrom(call)
    function = chosen.get(call.op_type)
    if function is not None:
        resolved.domain, resolved.overload = function.domain, ""
    return resolved


def call_model(
    call: onnx.NodeProto,
    graph: GraphView,
    model: onnx.ModelProto,
    names: Mapping[str, str] | None = None,
    dims: Mapping[str, str] | None = None,
) -> onnx.ModelProto:
    """A model holding `call` alone, with the caller's view of its inputs, `model`'s opsets
    and the functions the parser imports (`parser_functions`), and the call inlined.
    `names`: the names its tensors take there (the call's own where None); `dims`: the
    names its inputs' symbolic dims take there (their own where not given)."""
    rename = (lambda name: name) if names is None else names.__getitem__
    inputs, initializers = [], []
    for name in dict.fromkeys(n for n in call.input if n):
        value = graph.constant_value(name)  # small constants only; never weights
        if value is not None:
            initializers.append(numpy_helper.from_array(value, rename(name)))
            continue
        info = graph.value_info(name)
        info.name = rename(name)
        for dim in info.type.tensor_type.shape.dim if dims else ():
            dim.dim_param = dims.get(dim.dim_param, dim.dim_param)
        inputs.append(info)
    outputs = [helper.make_empty_tensor_value_info(rename(n)) for n in call.output if n]
    body = helper.make_graph([], "call", inputs, outputs, initializers)
    alone = helper.make_model(
        body, opset_imports=list(model.opset_import), functions=list(model.functions)
    )
    renamed = onnx.NodeProto()
    renamed.CopyFrom(call)
    if names is not None:
        renamed.input[:] = [rename(n) if n else n for n in call.input]
        renamed.output[:] = [rename(n) if n else n for n in call.output]
    alone.graph.node.append(_as_parser_imports(alone, renamed))
    alone.ir_version = model.ir_version
    return onnx.inliner.inline_local_functions(alone)


#: the names a call's tensors take in the model it is judged in by `CallVerdicts`, and the
#: dims that shape inference made up for its inputs (text no finding holds by chance: one
#: that quotes it quotes a tensor name or a dim)
CALL_NAMES = "trtforge_call_"
CALL_VALUE, CALL_DIM = f"{CALL_NAMES}value_", f"{CALL_NAMES}dim_"


class CallVerdicts:
    """The findings of calls to local functions, judged once for each kind of call.

    A call's findings come from the check of a model holding it alone (`judge_call`), which
    depends on the call's op, domain and attributes, the element types and shapes of its
    inputs, the values of its small constant inputs and which of its tensors share a name:
    not on their names, which that model gives them in order (`CALL_VALUE`), nor on the
    names of the dims shape inference made up (`unk__7`), which it renames alike
    (`CALL_DIM`: a chain of calls of a data-dependent op gets new ones at each). Such a model is
    checked once for each kind of call (50,000 calls of one function: one check, not
    50,000 of ~5 ms each), and each call's findings are made from its report, named for the
    call, unless a finding quotes one of those names (then the call is judged with its own).
    """

    def __init__(self, model: onnx.ModelProto, check: Callable[[onnx.ModelProto], Report]) -> None:
        self._model = model
        self._check = check
        #: a kind of call -> the report of its model (None: it could not be made)
        self._reports: dict[tuple, Report | None] = {}

    def findings(self, call: onnx.NodeProto, graph: GraphView) -> tuple[list[Finding], bool]:
        """(the call's findings, whether they hold for every call of its kind: none, and
        no tensor passed twice)."""
        names: dict[str, str] = {}
        for name in (*call.input, *call.output):
            if name and name not in names:
                names[name] = f"{CALL_VALUE}{len(names)}"
        given = [n for n in (*call.input, *call.output) if n]
        dims: dict[str, str] = {}  # made-up dim -> its name in the call's model
        kind = (
            call.op_type,
            call.domain,
            tuple(a.SerializeToString() for a in call.attribute),
            tuple(names.get(n, "") for n in call.input),
            tuple(names.get(n, "") for n in call.output),
            *(_held(graph, name, dims) for name in dict.fromkeys(n for n in call.input if n)),
        )
        if kind not in self._reports:
            try:
                inlined = call_model(call, graph, self._model, names, dims)
            except Exception:  # noqa: BLE001 - judged with its own names (the error says)
                inlined = None
            self._reports[kind] = None
            if inlined is not None:
                self._reports[kind] = (
                    self._check(inlined)
                    if inlined.graph.node
                    else Report(model=None, target="", backend="static", nodes=[])
                )
        report = self._reports[kind]
        if report is None:
            return judge_call(call, graph, self._model, self._check), False
        refused = [verdict for verdict in report.nodes if not verdict.ok]
        if not refused:
            return [], len(given) == len(names)
        if any(CALL_NAMES in text for verdict in refused for text in _first_error_text(verdict)):
            return judge_call(call, graph, self._model, self._check), False
        label = f"{graph.path}{call.name or call.op_type}/{call.op_type}"
        return [_body_finding(call, label, verdict) for verdict in refused], False


def _held(graph: GraphView, name: str, dims: dict[str, str]) -> tuple:
    """What a call's model reads of its input `name`: its value where it is a small
    constant, else its element type and shape (`call_model`), each dim shape inference made
    up named as `dims` names it there (a new one added)."""
    value = graph.constant_value(name)
    if value is not None:
        return ("value", value.dtype.str, value.shape, value.tobytes())
    info = graph.tensor(name)
    shape = info.shape
    if shape is not None and any(type(d) is str and d.startswith(GENERATED_DIM) for d in shape):
        shape = tuple(
            dims.setdefault(d, f"{CALL_DIM}{len(dims)}")
            if type(d) is str and d.startswith(GENERATED_DIM)
            else d
            for d in shape
        )
    return ("type", info.dtype, shape)


def _first_error_text(verdict: NodeVerdict) -> tuple[str, ...]:
    """The text of a body verdict that `_body_finding` passes on: its first error's."""
    errors = verdict.errors
    if not errors:
        return ()
    first = errors[0]
    return (first.message, first.hint, first.inner)


def judge_call(
    call: onnx.NodeProto,
    graph: GraphView,
    model: onnx.ModelProto,
    check: Callable[[onnx.ModelProto], Report],
) -> list[Finding]:
    """Findings of a call to a local function: one per unsupported node of its body.

    Args:
        call: the calling node.
        graph: the view holding it.
        model: the model that defines the functions.
        check: checks a model (the static backend for the same target).
    """
    label = f"{graph.path}{call.name or call.op_type}/{call.op_type}"
    try:
        inlined = call_model(call, graph, model)
    except Exception as err:  # noqa: BLE001 - onnx's inliner refuses some models
        return [
            Finding(
                code="local-function-not-analyzed",
                message=(
                    f"{call.op_type} node '{call.name}': calls the local function "
                    f"'{call.op_type}', whose body could not be inlined for analysis ({err})"
                ),
                hint="check the model with --backend parser, or inline it (onnx.inliner)",
                severity="warning",
            )
        ]
    if not inlined.graph.node:  # a function without nodes (its outputs are its inputs):
        return []  # nothing to import, and the parser takes it
    report = check(inlined)
    return [_body_finding(call, label, verdict) for verdict in report.nodes if not verdict.ok]


def _body_finding(call: onnx.NodeProto, label: str, inner: NodeVerdict) -> Finding:
    where = f"{label}/{inner.name or inner.op_type}"
    errors = inner.errors
    first = errors[0] if errors else None
    why = first.message if first is not None else "it runs only through a plugin not built here"
    hint = first.hint if first is not None else ""
    if first is not None and first.fixes:  # made for the body's node, which no pass reaches
        names = ", ".join(f"--{fix.name}" for fix in first.fixes if fix.kind == "rewrite")
        hint = (
            f"{hint}; no automatic fix here: the node is inside a model-local function, and "
            "no pass rewrites function bodies; inline the functions first "
            f"(onnx.inliner.inline_local_functions), then trt-rewrite {names or '--auto'}"
        )
    return Finding(
        code=first.code if first is not None else "plugin-not-registered",
        message=(
            f"{call.op_type} node '{call.name}': body node '{where}' of the local function "
            f"is not supported: {why}"
        ),
        hint=hint,
        fixes=(),
        source=first.source if first is not None else "",
        inner=(first.inner if first is not None and first.inner else where),
    )
