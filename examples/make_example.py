"""Builds `examples/transformer_block.onnx`: a small pre-norm transformer block.

The block is what a PyTorch export of a tiny encoder layer looks like before any clean-up:

* LayerNorm **decomposed** into ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add (as older
  exporters emit it), twice;
* single-head-per-slice self-attention (MatMul, Reshape, Transpose, Softmax, ...);
* an MLP whose activation is ONNX Runtime's contrib op `com.microsoft::FastGelu` (as
  onnxruntime's transformer optimizer leaves it), which TensorRT's parser has no importer for.

So the first `trt-check examples/transformer_block.onnx` shows a non-trivial report: one node
unsupported, fixed by `trt-rewrite --decompose-contrib`.

Only onnx and numpy are needed (weights come from a fixed seed, so the file is reproducible):

    python examples/make_example.py            # writes examples/transformer_block.onnx
    python examples/make_example.py -o m.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HIDDEN = 64
HEADS = 4
FFN = 128
SEQ = "seq"
OPSET = 17


def _layernorm(prefix: str, x: str, nodes: list, inits: list, rng: np.random.Generator) -> str:
    """Appends a decomposed LayerNorm over the last axis; returns its output name."""
    gamma = (1.0 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32)
    beta = (0.1 * rng.standard_normal(HIDDEN)).astype(np.float32)
    inits += [
        numpy_helper.from_array(gamma, f"{prefix}.weight"),
        numpy_helper.from_array(beta, f"{prefix}.bias"),
    ]
    n = lambda op, ins, out, **kw: nodes.append(  # noqa: E731
        helper.make_node(op, ins, [f"{prefix}/{out}"], name=f"{prefix}/{out}", **kw)
    )
    n("ReduceMean", [x], "mean", axes=[-1], keepdims=1)
    n("Sub", [x, f"{prefix}/mean"], "centered")
    n("Pow", [f"{prefix}/centered", "const.two"], "squared")
    n("ReduceMean", [f"{prefix}/squared"], "var", axes=[-1], keepdims=1)
    n("Add", [f"{prefix}/var", "const.eps"], "var_eps")
    n("Sqrt", [f"{prefix}/var_eps"], "std")
    n("Div", [f"{prefix}/centered", f"{prefix}/std"], "normed")
    n("Mul", [f"{prefix}/normed", f"{prefix}.weight"], "scaled")
    n("Add", [f"{prefix}/scaled", f"{prefix}.bias"], "out")
    return f"{prefix}/out"


def build() -> onnx.ModelProto:
    """The model (deterministic: fixed seed)."""
    rng = np.random.default_rng(0)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = [
        numpy_helper.from_array(np.array(2.0, np.float32), "const.two"),
        numpy_helper.from_array(np.array(1e-5, np.float32), "const.eps"),
        numpy_helper.from_array(np.array(np.sqrt(HIDDEN // HEADS), np.float32), "const.scale"),
        numpy_helper.from_array(np.array([0, 0, HEADS, HIDDEN // HEADS], np.int64), "shape.heads"),
        numpy_helper.from_array(np.array([0, 0, HIDDEN], np.int64), "shape.hidden"),
    ]

    def weight(name: str, shape: tuple[int, ...]) -> str:
        scale = 1.0 / np.sqrt(shape[0])
        inits.append(
            numpy_helper.from_array((scale * rng.standard_normal(shape)).astype(np.float32), name)
        )
        return name

    def node(op: str, ins: list[str], out: str, domain: str = "", **kw) -> str:
        nodes.append(helper.make_node(op, ins, [out], name=out, domain=domain, **kw))
        return out

    # --- attention ---------------------------------------------------------------------
    h = _layernorm("ln_1", "x", nodes, inits, rng)
    heads = {}
    for proj in ("q", "k", "v"):
        t = node("MatMul", [h, weight(f"attn.{proj}.weight", (HIDDEN, HIDDEN))], f"attn/{proj}")
        t = node("Reshape", [t, "shape.heads"], f"attn/{proj}_heads")
        perm = [0, 2, 3, 1] if proj == "k" else [0, 2, 1, 3]
        heads[proj] = node("Transpose", [t], f"attn/{proj}_t", perm=perm)
    scores = node("MatMul", [heads["q"], heads["k"]], "attn/scores")
    scores = node("Div", [scores, "const.scale"], "attn/scores_scaled")
    probs = node("Softmax", [scores], "attn/probs", axis=-1)
    ctx = node("MatMul", [probs, heads["v"]], "attn/context")
    ctx = node("Transpose", [ctx], "attn/context_t", perm=[0, 2, 1, 3])
    ctx = node("Reshape", [ctx, "shape.hidden"], "attn/context_merged")
    out = node("MatMul", [ctx, weight("attn.out.weight", (HIDDEN, HIDDEN))], "attn/out")
    h1 = node("Add", ["x", out], "residual_1")

    # --- MLP with a contrib activation ---------------------------------------------------
    h = _layernorm("ln_2", h1, nodes, inits, rng)
    up = node("MatMul", [h, weight("mlp.up.weight", (HIDDEN, FFN))], "mlp/up")
    inits.append(
        numpy_helper.from_array((0.02 * rng.standard_normal(FFN)).astype(np.float32), "mlp.up.bias")
    )
    act = node("FastGelu", [up, "mlp.up.bias"], "mlp/FastGelu", domain="com.microsoft")
    down = node("MatMul", [act, weight("mlp.down.weight", (FFN, HIDDEN))], "mlp/down")
    node("Add", [h1, down], "y")

    graph = helper.make_graph(
        nodes,
        "transformer_block",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", SEQ, HIDDEN])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", SEQ, HIDDEN])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
        producer_name="trtforge-examples",
        doc_string="Tiny pre-norm transformer block: decomposed LayerNorm, attention, FastGelu.",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument(
        "-o", "--output", default=str(Path(__file__).with_name("transformer_block.onnx"))
    )
    args = parser.parse_args()
    model = build()
    onnx.save(model, args.output)
    print(f"wrote {args.output} ({len(model.graph.node)} nodes)")


if __name__ == "__main__":
    main()
