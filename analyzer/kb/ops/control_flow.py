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
- sequence and optional values (loop-carried or branch outputs) are refused.
"""

from __future__ import annotations

import onnx

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


def _check_loop(ctx: NodeContext):
    carried = max(0, len(ctx.node.input) - 2)
    scan_outputs = len(ctx.node.output) - carried
    if scan_outputs <= 0:
        return
    if not ctx.has_input(0):
        yield ctx.finding(
            "scan-output-without-trip-count",
            f"{scan_outputs} scan output(s) but no trip count: TensorRT cannot size them",
            "export the loop with a trip count (M), e.g. an upper bound, and keep the "
            "condition for early exit only if the scan outputs are not needed",
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
