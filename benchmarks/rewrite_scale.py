"""Benchmark: trt-rewrite's LayerNorm fusion on a BERT-large-sized graph, next to onnxsim's.

The graph is built with onnx.helper at BERT-large's real sizes (24 layers, hidden 1024, 16 heads,
FFN 4096, vocabulary 30522; about 335M parameters, 1.3 GB of float32 weights in an external
data file), with LayerNorm decomposed as the TorchScript exporter writes it at opset 17
(ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add, axes as attribute) and erf GELU.

Measured, one run each (wall clock, `time.perf_counter`):
  * trt-rewrite: `rewrite_model(..., ["fuse-layernorm"])` on the model as trt-rewrite loads it
    (protobuf parsed, weights NOT loaded), no verification; loading and writing timed apart.
  * onnxsim: `onnxsim.simplify` on the same model (onnxsim loads the weights), once with its
    defaults and once with constant folding and shape inference skipped (closest to "only the
    fusion passes").

    python benchmarks/rewrite_scale.py [--workdir DIR] [--layers 24] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(
    layers: int, hidden: int, heads: int, inter: int, vocab: int, seed: int = 0
) -> onnx.ModelProto:
    """A BERT encoder graph with decomposed LayerNorms (opset 17) and random weights."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    counter = Counter()

    def name(base: str) -> str:
        counter[base] += 1
        return f"{base}_{counter[base]}"

    def weight(shape, scale=0.02) -> str:
        n = name("w")
        inits.append(
            numpy_helper.from_array((rng.standard_normal(shape, dtype=np.float32) * scale), n)
        )
        return n

    def const(value, dtype=np.float32) -> str:
        n = name("c")
        inits.append(numpy_helper.from_array(np.array(value, dtype=dtype), n))
        return n

    def op(op_type, inputs, **attrs) -> str:
        out = name(op_type.lower())
        nodes.append(helper.make_node(op_type, inputs, [out], name=name(op_type), **attrs))
        return out

    def layernorm(x: str) -> str:
        mean = op("ReduceMean", [x], axes=[-1])
        d = op("Sub", [x, mean])
        var = op("ReduceMean", [op("Pow", [d, const(2.0)])], axes=[-1])
        n = op("Div", [d, op("Sqrt", [op("Add", [var, const(1e-12)])])])
        return op("Add", [op("Mul", [n, weight([hidden], 1.0)]), weight([hidden])])

    def linear(x: str, n_in: int, n_out: int) -> str:
        return op("Add", [op("MatMul", [x, weight([n_in, n_out])]), weight([n_out])])

    def gelu(x: str) -> str:
        erf = op("Erf", [op("Div", [x, const(1.4142135)])])
        return op("Mul", [op("Mul", [x, op("Add", [erf, const(1.0)])]), const(0.5)])

    head = hidden // heads
    emb = op("Gather", [weight([vocab, hidden]), "input_ids"])
    emb = op("Add", [emb, op("Gather", [weight([512, hidden]), "position_ids"])])
    h = layernorm(emb)
    mask = op(
        "Mul",
        [
            op("Sub", [const(1.0), op("Unsqueeze", ["attention_mask", const([1, 2], np.int64)])]),
            const(-10000.0),
        ],
    )
    split = const([0, 0, heads, head], np.int64)
    merge = const([0, 0, hidden], np.int64)
    for _ in range(layers):
        q = op("Transpose", [op("Reshape", [linear(h, hidden, hidden), split])], perm=[0, 2, 1, 3])
        k = op("Transpose", [op("Reshape", [linear(h, hidden, hidden), split])], perm=[0, 2, 3, 1])
        v = op("Transpose", [op("Reshape", [linear(h, hidden, hidden), split])], perm=[0, 2, 1, 3])
        scores = op("Add", [op("Div", [op("MatMul", [q, k]), const(float(np.sqrt(head)))]), mask])
        ctx = op("MatMul", [op("Softmax", [scores], axis=-1), v])
        ctx = op("Reshape", [op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge])
        h = layernorm(op("Add", [linear(ctx, hidden, hidden), h]))
        ffn = linear(gelu(linear(h, hidden, inter)), inter, hidden)
        h = layernorm(op("Add", [ffn, h]))
    nodes.append(helper.make_node("Identity", [h], ["last_hidden_state"], name="output"))
    graph = helper.make_graph(
        nodes,
        "bert_large",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.FLOAT, ["batch", "seq"]),
        ],
        [
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "seq", hidden]
            )
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/trtforge-bench")
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--json", help="write the numbers to this file")
    parser.add_argument("--skip-onnxsim", action="store_true")
    args = parser.parse_args()

    from trtforge.analyzer.loading import load_model
    from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
    from trtforge.analyzer.rewrite.writer import write_model
    from trtforge.analyzer.targets import parse_target

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "bert_large.onnx"
    model, t_build = _timed(lambda: build(args.layers, 1024, 16, 4096, 30522))
    onnx.save(model, path, save_as_external_data=True, location="bert_large.onnx.data")
    del model
    results: dict = {
        "layers": args.layers,
        "build_s": round(t_build, 2),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
    }
    loaded, t_load = _timed(lambda: load_model(path))
    layernorms = sum(1 for n in loaded.proto.graph.node if n.op_type == "Sqrt")
    results.update(
        nodes=len(loaded.proto.graph.node),
        decomposed_layernorms=layernorms,
        weight_bytes=loaded.external_bytes,
    )
    options = RewriteOptions(parse_target("trt-10"))
    result, t_rewrite = _timed(lambda: rewrite_model(loaded.proto, ["fuse-layernorm"], options))
    fused = sum(1 for n in result.proto.graph.node if n.op_type == "LayerNormalization")
    _, t_write = _timed(
        lambda: write_model(result.proto, work / "bert_large.rewritten.onnx", loaded)
    )
    results["trt_rewrite"] = {
        "load_s": round(t_load, 3),
        "rewrite_s": round(t_rewrite, 3),
        "write_s": round(t_write, 3),
        "fused": fused,
        "nodes_after": len(result.proto.graph.node),
    }
    print(json.dumps(results, indent=2), flush=True)
    if not args.skip_onnxsim:
        try:
            import onnxsim
        except ImportError:
            results["onnxsim"] = "not installed"
        else:
            full, t_sim_load = _timed(lambda: onnx.load(path))
            runs = {}
            for label, kwargs in (
                ("defaults", {}),
                (
                    "no_folding_no_shape_inference",
                    {"skip_constant_folding": True, "skip_shape_inference": True},
                ),
            ):
                try:
                    (simplified, ok), t_sim = _timed(lambda kw=kwargs: onnxsim.simplify(full, **kw))
                    runs[label] = {
                        "simplify_s": round(t_sim, 3),
                        "check_ok": bool(ok),
                        "fused": sum(
                            1 for n in simplified.graph.node if n.op_type == "LayerNormalization"
                        ),
                        "nodes_after": len(simplified.graph.node),
                    }
                except Exception as err:  # noqa: BLE001 - report whatever onnxsim raised
                    runs[label] = {"error": f"{type(err).__name__}: {str(err)[:200]}"}
                print(label, runs[label], flush=True)
            results["onnxsim"] = {
                "version": onnxsim.__version__,
                "load_s": round(t_sim_load, 3),
                **runs,
            }
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
