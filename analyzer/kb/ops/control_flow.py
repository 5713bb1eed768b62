"""If, Loop, Scan.

The engine recurses into the bodies and names the inner node at fault; these rules say what
the parser itself demands of the node.

Sources: onnx-tensorrt docs/operators.md (10.x rows: If "output tensors of the two conditional
branches must have the same rank"; Loop "scan output length cannot be dynamic; the shape of
loop-carried dependencies must be the same across iterations"), onnxOpImporters.cpp importIf
(a constant condition imports only the taken branch), importLoop, importScan (opset 8
`sequence_lens` must be empty), onnxOpCheckers.cpp checkIf; TensorRT 10.11 release notes
("inputs to IIfConditionalOutputLayer may now have different shapes; they must still have the
same rank"); observed with the TensorRT-RTX 1.7.1 parser:
- a trip count cast from a FLOAT network input is accepted, unless the loop has scan outputs
  (they are sized by it: "Network input limit is a shape tensor and must have type Int32");
- a Loop with scan outputs and no trip count fails ("TensorRT cannot infer the shape of scan
  output ... since no trip limit was set"); a network-input trip count is fine;
- If branches whose outputs differ in element type fail ("IConditionalOutputLayer must have
  inputs of same type"); a FLOAT or 1-element condition is accepted; RTX also accepts branch
  outputs of different rank;
- with a constant condition, an unsupported node in the untaken branch does not matter;
- sequence and optional values (loop-carried or branch outputs) are refused;
- a loop-carried value grown or shrunk by its body parses, and fails in the builder
  (`_carried_shape_changes`);
- a body that reads the iteration count, in a loop without a trip count, fails ("Node input
  was not registered": tf2onnx's `tf.while_loop` with `i < n` as its condition); a constant
  negative trip count (no iteration) with scan outputs fails ("inherently negative length");
- a constant trip count of 2^31 - 1 or more counts as none (`NO_TRIP_LIMIT`);
- a body node that reads the condition input, in a loop without a condition, fails ("Node
  input was not registered"); a body output that is the condition input itself parses;
- a negative `scan_input_axes` or `scan_output_axes` entry fails ("The number of dimensions
  should remain the same", "ILoopOutputLayer has illegal axis"); the same axis counted from
  the front parses.
"""

from __future__ import annotations

import onnx
import onnx.numpy_helper

from trtforge.analyzer.findings import Fix
from trtforge.analyzer.inference import dtype_name
from trtforge.analyzer.kb.ops._tensor_common import (
    OBSERVED,
    OPSRC,
    TENSOR,
    reads_float_network_input,
)
from trtforge.analyzer.kb.rule import NodeContext, OpRule


def _outputs(graph: onnx.GraphProto) -> list[tuple[str, int | None]]:
    out = []
    for vi in graph.output:
        kind = vi.type.WhichOneof("value")
        if kind != "tensor_type":
            out.append((kind or "UNDEFINED", None))
            continue
        tensor = vi.type.tensor_type
        rank = len(tensor.shape.dim) if tensor.HasField("shape") else None
        out.append((dtype_name(tensor.elem_type), rank))
    return out


def _if_bodies(ctx: NodeContext):
    value = ctx.input_value(0)
    if value is not None and value.size == 1:
        return ("then_branch",) if bool(value.reshape(-1)[0]) else ("else_branch",)
    return ("then_branch", "else_branch")


def _check_if(ctx: NodeContext):
    then_graph, else_graph = ctx.attr("then_branch"), ctx.attr("else_branch")
    if not isinstance(then_graph, onnx.GraphProto) or not isinstance(else_graph, onnx.GraphProto):
        return  # missing, or not a graph: an invalid/* finding (analyzer/validity.py)
    value = ctx.input_value(0)
    if value is not None and value.size == 1:
        return  # only one branch is imported
    for i, ((t_type, t_rank), (e_type, e_rank)) in enumerate(
        zip(_outputs(then_graph), _outputs(else_graph), strict=False)
    ):
        name = ctx.node.output[i] if i < len(ctx.node.output) else str(i)
        if "UNDEFINED" in (t_type, e_type):
            continue
        if t_type != e_type:
            yield ctx.finding(
                "branch-types",
                f"output {i} ('{name}') is {t_type} in then_branch but {e_type} in else_branch",
                "cast both branches to one type inside the bodies",
            )
        elif (
            ctx.target.family == "trt"
            and t_rank is not None
            and e_rank is not None
            and t_rank != e_rank
        ):
            yield ctx.finding(
                "branch-ranks",
                f"output {i} ('{name}') has rank {t_rank} in then_branch but {e_rank} in "
                "else_branch",
                "reshape both branches' outputs to the same rank",
            )


#: ops that give a tensor another shape than their data input's when their other inputs are
#: not the identity: (op, index of the data input)
_RESHAPING = {"Concat": None, "Pad": 0, "Tile": 0}


def _carried_shape_changes(ctx: NodeContext):
    """A loop-carried value the body makes by Concat with it, Pad, Tile or a constant Slice
    of it: its shape changes every iteration, which TensorRT's IRecurrenceLayer refuses at
    build time ("IRecurrenceLayer must have inputs with same shape"; observed with
    TensorRT-RTX 1.7.1 on tf2onnx's tf.while_loop accumulators and probes; the parser itself
    accepts the Loop)."""
    body = next((a.g for a in ctx.node.attribute if a.name == "body" and a.HasField("g")), None)
    carried = max(0, len(ctx.node.input) - 2)
    if body is None or len(body.input) != carried + 2 or len(body.output) < carried + 1:
        return
    results = {body.output[1 + k].name for k in range(carried)} - {""}
    producers = {}  # of the carried results only (a body may hold a whole network)
    for node in body.node:
        for out in node.output:
            if out in results:
                producers[out] = node
    for k in range(carried):
        source, result = body.input[2 + k].name, body.output[1 + k].name
        node = producers.get(result)
        if node is None or node.domain not in ("", "ai.onnx"):
            continue
        if node.op_type == "Slice":
            changes = node.input[:1] == [source] and _slices_off(ctx, body, node)
        elif node.op_type in _RESHAPING:
            data = _RESHAPING[node.op_type]
            reads = list(node.input) if data is None else list(node.input[data : data + 1])
            changes = source in reads and (node.op_type != "Concat" or len(node.input) >= 2)
        else:
            changes = False
        if not changes:
            continue
        grows = node.op_type == "Concat"
        yield ctx.finding(
            "carried-shape",
            f"loop-carried value {k} ('{result}') is made by {node.op_type} of itself: its "
            "shape changes every iteration, and TensorRT needs loop-carried values of one "
            "shape (the build fails)",
            "collect the pieces as a scan output (trt-rewrite --loop-concat-scan does it for a "
            "Concat that grows an initially empty value, given a trip count), or keep the "
            "shape fixed (a preallocated buffer written with ScatterElements; an offset "
            "carried instead of a cut)",
            (Fix("rewrite", "loop-concat-scan"),) if grows and ctx.has_input(0) else (),
        )


def _slices_off(ctx: NodeContext, body: onnx.GraphProto, node: onnx.NodeProto) -> bool:
    """Whether a Slice (opset 10+: starts, ends, axes, steps as inputs) cuts something off its
    data: its starts and ends are constants (of the body, or initializers outside it) other
    than 0 … the end with step 1. Unknown values: False (nothing is claimed)."""
    import numpy as np

    if len(node.input) < 3:
        return False  # opset 1-9 (attributes) or a malformed node: not judged here
    inits = {t.name: t for t in body.initializer}
    consts = {
        n.output[0]: a.t
        for n in body.node
        if n.op_type == "Constant" and n.output
        for a in n.attribute
        if a.name == "value"
    }

    def value(name: str):
        if not name:
            return None
        tensor = inits.get(name) or consts.get(name)
        if tensor is not None:
            return onnx.numpy_helper.to_array(tensor)
        return ctx.graph.constant_value(name)

    starts, ends = value(node.input[1]), value(node.input[2])
    steps = value(node.input[4]) if len(node.input) > 4 and node.input[4] else None
    if starts is None or ends is None:
        return False
    starts, ends = np.asarray(starts).reshape(-1), np.asarray(ends).reshape(-1)
    whole = bool(np.all(starts == 0) and np.all(ends >= 2**31 - 1))
    if steps is not None and not np.all(np.asarray(steps) == 1):
        whole = False
    return not whole


def _reads(graph: onnx.GraphProto, name: str, nested: bool = False, outputs: bool = True) -> bool:
    """Whether `graph` (its nodes, their bodies, its outputs) reads the value `name` — of
    `graph` itself, or (`nested`) of a graph enclosing it. A nested body that names an input or
    initializer `name` reads its own value, not the enclosing one (a nested Loop's iteration
    count named as the outer one's: onnx.checker accepts it)."""
    if nested and (
        any(v.name == name for v in graph.input) or any(t.name == name for t in graph.initializer)
    ):
        return False
    if outputs and any(out.name == name for out in graph.output):
        return True
    for node in graph.node:
        if name in node.input:
            return True
        for attr in node.attribute:
            for body in [attr.g] if attr.HasField("g") else list(attr.graphs):
                if _reads(body, name, nested=True):
                    return True
    return False


#: A constant trip count of this or more is no trip count to the parser: exporters write
#: INT64_MAX for a loop that only its condition ends (TorchScript's `while`, tf2onnx's
#: `tf.while_loop`), and importLoop leaves such a loop without a trip limit (observed with
#: TensorRT-RTX 1.7.1: 2^31 - 2 acts as a trip count, 2^31 - 1 and 2^63 - 1 as none).
NO_TRIP_LIMIT = 2**31 - 1


def _trip_limit(ctx: NodeContext) -> tuple[bool, str]:
    """(whether the parser sets a trip limit, what the finding says when it does not)."""
    if not ctx.has_input(0):
        return False, "the loop has no trip count"
    trips = ctx.graph.constant_value(ctx.node.input[0])
    if trips is not None and getattr(trips, "size", 0) == 1 and trips.dtype.kind in "iu":
        count = int(trips.reshape(-1)[0])
        if count >= NO_TRIP_LIMIT:
            return False, (
                f"its constant trip count {count} is 2^31 - 1 or more, which the parser takes "
                "for no trip count (a loop that only its condition ends)"
            )
    return True, ""


def _check_loop(ctx: NodeContext):
    yield from _carried_shape_changes(ctx)
    body = next((a.g for a in ctx.node.attribute if a.name == "body"), None)
    limited, why_not = _trip_limit(ctx)
    if not limited and body is not None and body.input:
        counter = body.input[0].name
        if counter and _reads(body, counter):
            yield ctx.finding(
                "iteration-count-without-trip-count",
                f"the body reads the iteration count ('{counter}') but {why_not}: the parser "
                "registers that value only for a loop with a trip limit",
                "trt-rewrite --carry-loop-counter (the loop carries the count itself), or "
                "export the loop with a trip count below 2^31 - 1 (M; an upper bound will do, "
                "the condition still ends it), e.g. tf.while_loop(..., maximum_iterations=N)",
                (Fix("rewrite", "carry-loop-counter"),),
            )
    if not ctx.has_input(1) and body is not None and len(body.input) > 1:
        cond = body.input[1].name
        if cond and _reads(body, cond, outputs=False):
            yield ctx.finding(
                "condition-without-condition-input",
                f"a node of the body reads its condition input ('{cond}') but the loop has no "
                "condition: the parser registers that value only for a loop with one",
                "pass the condition through as the body's output without a node (it is "
                "ignored without a condition input); or give the loop a constant true "
                "condition where the body's condition output never turns false",
            )
    carried = max(0, len(ctx.node.input) - 2)
    scan_outputs = len(ctx.node.output) - carried
    if scan_outputs <= 0:
        return
    trips = ctx.graph.constant_value(ctx.node.input[0]) if ctx.has_input(0) else None
    if trips is not None and getattr(trips, "size", 0) == 1 and int(trips.reshape(-1)[0]) < 0:
        yield ctx.finding(
            "negative-trip-count",
            f"the trip count is {int(trips.reshape(-1)[0])}: the loop never runs, and TensorRT "
            "cannot size its scan outputs by a negative length",
            "replace the loop by its initial values (the scan outputs are empty)",
        )
    if not limited:
        yield ctx.finding(
            "scan-output-without-trip-count",
            f"{scan_outputs} scan output(s) but {why_not}: TensorRT cannot size them",
            "export the loop with a trip count below 2^31 - 1 (M), e.g. an upper bound, and "
            "keep the condition for early exit only if the scan outputs are not needed",
        )
    elif reads_float_network_input(ctx.graph, ctx.node.input[0]):
        yield ctx.finding(
            "trip-count",
            f"{scan_outputs} scan output(s) sized by a trip count ('{ctx.node.input[0]}') "
            "computed from a FLOAT network input; TensorRT computes it as a shape tensor and "
            "cannot",
            "feed the loop bounds as INT64 network inputs (or constants)",
        )


def _check_scan(ctx: NodeContext):
    if ctx.opset == 8 and ctx.has_input(0):
        yield ctx.finding(
            "sequence-lens",
            "the opset-8 sequence_lens input is not supported",
            "re-export at opset 9 or later, or leave sequence_lens empty",
        )
    for name in ("scan_input_axes", "scan_output_axes"):
        axes = list(ctx.attr(name, None) or [])
        if any(axis < 0 for axis in axes):
            yield ctx.finding(
                "negative-axis",
                f"{name} {axes} holds a negative axis (counted from the end, valid since "
                "opset 11); the parser takes it as it is and fails",
                "export the Scan with the same axes counted from the front (axis + rank)",
            )


RULES = [
    OpRule(
        op="If",
        source=f"{OPSRC} importIf; onnxOpCheckers.cpp checkIf; docs/operators.md (If); "
        f"TensorRT 10.11 release notes; {OBSERVED}",
        types={0: TENSOR},
        check=_check_if,
        bodies=_if_bodies,
    ),
    OpRule(
        op="Loop",
        source=f"{OPSRC} importLoop; docs/operators.md (Loop); {OBSERVED}",
        types={0: {"INT64", "INT32"}, 1: {"BOOL"}, "*": TENSOR},
        check=_check_loop,
    ),
    OpRule(
        op="Scan",
        source=f"{OPSRC} importScan; docs/operators.md (Scan); {OBSERVED}",
        types={"*": TENSOR},
        check=_check_scan,
    ),
]
