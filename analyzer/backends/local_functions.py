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
from collections.abc import Callable

import onnx
import onnx.inliner
from onnx import helper, numpy_helper

from trtforge.analyzer.findings import Finding
from trtforge.analyzer.graph import GraphView
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


def call_model(call: onnx.NodeProto, graph: GraphView, model: onnx.ModelProto) -> onnx.ModelProto:
    """A model holding `call` alone, with the caller's view of its inputs, `model`'s opsets
    and the functions the parser imports (`parser_functions`), and the call inlined."""
    inputs, initializers = [], []
    for name in dict.fromkeys(n for n in call.input if n):
        value = graph.constant_value(name)  # small constants only; never weights
        if value is not None:
            initializers.append(numpy_helper.from_array(value, name))
            continue
        inputs.append(graph.value_info(name))
    outputs = [helper.make_empty_tensor_value_info(n) for n in call.output if n]
    body = helper.make_graph([], "call", inputs, outputs, initializers)
    alone = helper.make_model(
        body, opset_imports=list(model.opset_import), functions=list(model.functions)
    )
    alone.graph.node.append(_as_parser_imports(alone, call))
    alone.ir_version = model.ir_version
    return onnx.inliner.inline_local_functions(alone)


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
