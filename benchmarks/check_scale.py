"""trt-check at scale: wall time and peak memory of the static backend, beside the parser's.

Synthetic models are written to a scratch folder:

* `nodes-100k.onnx`: 100,000 nodes (a residual MLP chain: MatMul, Add, Relu, Mul, Add, with a
  LayerNormalization every 25 blocks), small shared weights, static shapes;
* `common-100k.onnx`: 100,000 nodes, a chain of common ops (MatMul, Add, Reshape with a constant
  shape, ReduceMean, Sub, Pow, Erf, Relu), static shapes;
* `blocks-100k.onnx`: about 100,000 nodes of a real exported block, repeated: the example
  transformer block (`examples/transformer_block.onnx`: attention with Reshape/Transpose,
  a decomposed LayerNorm, a contrib FastGelu) chained output to input, dynamic batch/seq;
* `weights-3g.onnx`: a 12-layer MLP whose 3 GiB of FP32 weights live in external data, written
  as a *sparse* file (`truncate`), so no disk space or time is spent on zeros.

More builders, not in the table: `make_export_names` renames any of these as an exporter
would (`/model/layers.N/...`), `make_side_by_side` puts a real export side by side to a given
size, `make_with_control_flow` adds an If and a Loop whose bodies read the graph's names,
`make_ifs_every` an If after every N-th node, `make_standard_block` the example block without
its contrib op, `make_weighted_chain` gives the chain large weights (embedded or external),
`make_per_layer_weights` gives every layer weights of its own, `make_quantized_layers`
writes quantized layers as onnxruntime's quantizer does, `make_dynamic_reshapes` the dynamic
reshapes of a TorchScript export with a Constant node for each constant (named, as
onnx.helper names them, or not), `make_split_fanout` Split/Concat blocks,
`make_fp16_layernorms` FLOAT16 LayerNormalization blocks, `make_long_names` a chain
whose names are ~300 characters, `make_cnn_layers` Conv/BatchNormalization/Relu layers,
`make_pool_layers` pools, Pad and Resize, `make_reduction_layers` a softmax written out with
reductions and Tile, `make_vit_layers`, `make_unet_layers` and `make_qdq_conv_layers` a ViT,
a U-Net-like CNN and a per-channel Q/DQ CNN with weights of their own in every layer, and
`make_custom_chain` a chain of custom ops (docs/benchmarks.md uses them all).

For each model it measures, every run in a fresh subprocess (peak RSS from `/proc`); with
`--repeat N` each figure is the median of N runs:

* `trt-check --backend static` end to end (the CLI, JSON to a file), and the in-process
  phases of the static check (load, shape inference + rules, render);
* the TensorRT-RTX ONNX parser (`tensorrt_rtx.OnnxParser.parse_from_file`) when installed.

    python benchmarks/check_scale.py                 # prints a Markdown table
    python benchmarks/check_scale.py --nodes 20000   # smaller models
    python benchmarks/check_scale.py --repeat 5      # medians of 5 runs
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's tools/
from tools.model_copies import renamed_nodes  # noqa: E402

HIDDEN = 64
TARGET = "rtx-1"


def make_many_nodes(path: Path, nodes: int) -> int:
    """A chain of `nodes` nodes (static shapes, shared small weights). Returns the node count."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((HIDDEN, HIDDEN)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.standard_normal(HIDDEN).astype(np.float32), "b"),
        numpy_helper.from_array(np.float32(0.5) * np.ones(HIDDEN, np.float32), "s"),
        numpy_helper.from_array(np.ones(HIDDEN, np.float32), "gamma"),
        numpy_helper.from_array(np.zeros(HIDDEN, np.float32), "beta"),
    ]

    def steps(p: str, cur: str, block: int) -> list:
        out = [
            ("MatMul", [cur, "W"], f"{p}/mm", {}),
            ("Add", [f"{p}/mm", "b"], f"{p}/bias", {}),
            ("Relu", [f"{p}/bias"], f"{p}/act", {}),
            ("Mul", [f"{p}/act", "s"], f"{p}/scale", {}),
            ("Add", [cur, f"{p}/scale"], f"{p}/res", {}),
        ]
        if block % 25 == 24:
            out.append(
                ("LayerNormalization", [f"{p}/res", "gamma", "beta"], f"{p}/ln", {"axis": -1})
            )
        return out

    return _save_chain(path, nodes, "many_nodes", "blk", steps, inits)


def _save(
    path: Path, graph: onnx.GraphProto, external: bool = False, opset: int | None = None
) -> None:
    """Saves `graph` as a model of `opset` (default 17), its weights in one file beside it
    (`external`)."""
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset or 17)], ir_version=8
    )
    if external:
        onnx.save(model, path, save_as_external_data=True, location=path.name + ".data")
    else:
        onnx.save(model, path)


def _save_nodes(
    path: Path,
    graph_nodes: list[onnx.NodeProto],
    name: str,
    shapes: tuple[list, list | None],
    inits,
    external: bool = False,
    opset: int | None = None,
) -> int:
    """Saves `graph_nodes` as graph `name` from FLOAT input x to the last node's output
    (`shapes`: theirs) with initializers `inits` (`external`, `opset`: as `_save`); returns
    the node count."""
    graph = helper.make_graph(
        graph_nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shapes[0])],
        [helper.make_tensor_value_info(graph_nodes[-1].output[0], TensorProto.FLOAT, shapes[1])],
        inits,
    )
    _save(path, graph, external, opset)
    return len(graph_nodes)


def _save_chain(
    path: Path,
    nodes: int,
    name: str,
    prefix: str,
    steps,
    inits,
    width: int = HIDDEN,
    external: bool = False,
) -> int:
    """Saves a chain of `nodes` nodes: `steps(prefix+block, current tensor, block)` gives each
    block's (op, inputs, output, attributes); input x and the output are [8, width] FLOAT
    (`external`: as `_save`)."""
    graph_nodes: list[onnx.NodeProto] = []
    cur = "x"
    block = 0
    while len(graph_nodes) < nodes:
        for op, ins, out, attrs in steps(f"{prefix}{block}", cur, block):
            if len(graph_nodes) == nodes:
                break
            graph_nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
            cur = out
        block += 1
    return _save_nodes(path, graph_nodes, name, ([8, width], [8, width]), inits, external)


def _common_steps(weight):
    """`make_common_ops`' block, for `_save_chain`: `weight(block)` names its MatMul's weight
    (the bias `b`, the shape `shape` and the exponent `two` are shared)."""

    def steps(p: str, cur: str, block: int) -> list:
        return [
            ("MatMul", [cur, weight(block)], f"{p}/mm", {}),
            ("Add", [f"{p}/mm", "b"], f"{p}/add", {}),
            ("Reshape", [f"{p}/add", "shape"], f"{p}/rs", {}),
            ("ReduceMean", [f"{p}/rs"], f"{p}/mean", {"axes": [-1], "keepdims": 1}),
            ("Sub", [f"{p}/rs", f"{p}/mean"], f"{p}/sub", {}),
            ("Pow", [f"{p}/sub", "two"], f"{p}/pow", {}),
            ("Erf", [f"{p}/pow"], f"{p}/erf", {}),
            ("Relu", [f"{p}/erf"], f"{p}/relu", {}),
        ]

    return steps


def make_common_ops(path: Path, nodes: int) -> int:
    """A chain of `nodes` common ops: MatMul, Add, Reshape (constant shape), ReduceMean, Sub,
    Pow, Erf, Relu, repeated (static shapes, shared small weights). Returns the node count."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((HIDDEN, HIDDEN)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.standard_normal(HIDDEN).astype(np.float32), "b"),
        numpy_helper.from_array(np.array([8, HIDDEN], np.int64), "shape"),
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
    ]
    return _save_chain(path, nodes, "common_ops", "c", _common_steps(lambda _: "W"), inits)


def make_conv_net(path: Path, nodes: int) -> int:
    """A residual CNN of `nodes` nodes: Conv 3x3, BatchNormalization, Relu, Conv 1x1, Add (the
    block's input), Relu, repeated on [N, 16, 32, 32] FP32 (N symbolic; shared weights), for
    a 100,000-node model of another shape than the chains. Returns the node count."""
    rng = np.random.default_rng(0)
    channels = 16
    inits = [
        numpy_helper.from_array(rng.standard_normal((channels, channels, 3, 3), np.float32), "w3"),
        numpy_helper.from_array(rng.standard_normal((channels, channels, 1, 1), np.float32), "w1"),
        *(
            numpy_helper.from_array(value.astype(np.float32), name)
            for name, value in (
                ("bn_scale", np.ones(channels)),
                ("bn_bias", np.zeros(channels)),
                ("bn_mean", np.zeros(channels)),
                ("bn_var", np.ones(channels)),
            )
        ),
    ]
    graph_nodes: list[onnx.NodeProto] = []
    cur, block = "x", 0
    while len(graph_nodes) < nodes:
        p = f"k{block}"
        for op, ins, out, attrs in (
            ("Conv", [cur, "w3"], f"{p}/conv3", {"pads": [1, 1, 1, 1]}),
            ("BatchNormalization", [f"{p}/conv3", "bn_scale", "bn_bias", "bn_mean", "bn_var"],
             f"{p}/bn", {}),
            ("Relu", [f"{p}/bn"], f"{p}/relu", {}),
            ("Conv", [f"{p}/relu", "w1"], f"{p}/conv1", {}),
            ("Add", [f"{p}/conv1", cur], f"{p}/add", {}),
            ("Relu", [f"{p}/add"], f"{p}/out", {}),
        ):  # fmt: skip
            if len(graph_nodes) == nodes:
                break
            graph_nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        cur = graph_nodes[-1].output[0]
        block += 1
    return _save_nodes(path, graph_nodes, "conv_net", (["N", channels, 32, 32], None), inits)


EXAMPLE_BLOCK = Path(__file__).resolve().parent.parent / "examples" / "transformer_block.onnx"


def make_repeated_blocks(path: Path, nodes: int, block_path: Path = EXAMPLE_BLOCK) -> int:
    """Copies of a one-input, one-output model chained output to input, `nodes` nodes at most
    (whole copies). Initializers are shared; other names get a per-copy prefix. Returns the
    node count."""
    block = onnx.load(block_path)
    graph = block.graph
    (source,), (sink,) = [i.name for i in graph.input], [o.name for o in graph.output]
    weights = {t.name for t in graph.initializer}
    out_nodes: list[onnx.NodeProto] = []
    current = source
    for copy in range(max(1, nodes // len(graph.node))):
        names = {source: current}

        def rename(name: str, names=names, copy=copy) -> str:
            if not name or name in weights:
                return name
            return names.setdefault(name, f"b{copy}/{name}")

        out_nodes += renamed_nodes(graph.node, f"b{copy}/", rename)
        current = names[sink]
    chained = helper.make_graph(
        out_nodes,
        "repeated_blocks",
        list(graph.input),
        [helper.make_value_info(current, graph.output[0].type)],
        list(graph.initializer),
    )
    model = helper.make_model(chained, opset_imports=list(block.opset_import))
    model.ir_version = block.ir_version
    onnx.save(model, path)
    return len(out_nodes)


def make_standard_block(path: Path, block_path: Path = EXAMPLE_BLOCK) -> Path:
    """The example transformer block with its contrib FastGelu written as ONNX's Erf form
    (the bias added, then x * (1 + erf(x / sqrt 2)) * 0.5): a block of standard ops only,
    for `make_repeated_blocks(OUT, N, make_standard_block(BLOCK))`. Returns `path`."""
    block = onnx.load(block_path)
    graph = block.graph
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type != "FastGelu":
            nodes.append(node)
            continue
        x, y = node.input[0], node.output[0]
        if len(node.input) > 1 and node.input[1]:
            nodes.append(helper.make_node("Add", [x, node.input[1]], [f"{y}/biased"]))
            x = f"{y}/biased"
        nodes += [
            helper.make_node("Div", [x, "gelu/sqrt2"], [f"{y}/scaled"]),
            helper.make_node("Erf", [f"{y}/scaled"], [f"{y}/erf"]),
            helper.make_node("Add", [f"{y}/erf", "gelu/one"], [f"{y}/plus1"]),
            helper.make_node("Mul", [x, f"{y}/plus1"], [f"{y}/product"]),
            helper.make_node("Mul", [f"{y}/product", "gelu/half"], [y]),
        ]
    graph.initializer.extend(
        numpy_helper.from_array(np.array(value, np.float32), name)
        for name, value in (("gelu/sqrt2", 2**0.5), ("gelu/one", 1.0), ("gelu/half", 0.5))
    )
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(block)
    onnx.save(block, path)
    return path


def make_side_by_side(path: Path, nodes: int, source: Path) -> int:
    """Copies of any model side by side, at least `nodes` nodes (whole copies): the graph
    inputs and initializers shared, every other name (tensors, nodes, graph outputs) given a
    per-copy prefix, value_info kept. A real export (`tests/fixtures/hf/*.onnx`: shape
    computations, Constant nodes, Gather/Unsqueeze/Concat chains) at the size of a large
    model. Returns the node count."""
    model = onnx.load(source)
    graph = model.graph
    shared = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    out_nodes: list[onnx.NodeProto] = []
    outputs: list[onnx.ValueInfoProto] = []
    # value_info of the shared names once (onnxruntime-genai's builder declares its weights'),
    # of the others once a copy
    value_info = [value for value in graph.value_info if value.name in shared]
    for copy in range(-(-nodes // len(graph.node))):

        def rename(name: str, copy=copy) -> str:
            return name if not name or name in shared else f"c{copy}/{name}"

        out_nodes += renamed_nodes(graph.node, f"c{copy}/", rename)
        for values, into in ((graph.output, outputs), (graph.value_info, value_info)):
            for value in values:
                if into is value_info and value.name in shared:
                    continue
                renamed = onnx.ValueInfoProto()
                renamed.CopyFrom(value)
                renamed.name = rename(value.name)
                into.append(renamed)
    copies = helper.make_graph(
        out_nodes, graph.name, list(graph.input), outputs, list(graph.initializer),
        value_info=value_info,
    )  # fmt: skip
    out = helper.make_model(copies, opset_imports=list(model.opset_import))
    out.ir_version = model.ir_version
    out.functions.extend(model.functions)
    onnx.save(out, path)
    return len(out_nodes)


def make_export_names(path: Path, source: Path, per_layer: int = 8) -> int:
    """`source` with the names an exporter writes: every tensor other than the graph's inputs
    and outputs renamed `/model/layers.<k>/block/sub_module/<name>_output_0` (k counting
    `per_layer` tensors per layer), every node `/model/layers.<k>/<op>_<i>`. A synthetic
    chain whose names weigh what a real export's do (~180 serialized bytes a node against
    ~50). Returns the node count."""
    model = onnx.load(source)
    graph = model.graph
    kept = {v.name for v in graph.input} | {v.name for v in graph.output}
    renamed: dict[str, str] = {}

    def rename(name: str) -> str:
        if not name or name in kept:
            return name
        if name not in renamed:
            layer = len(renamed) // per_layer
            renamed[name] = f"/model/layers.{layer}/block/sub_module/{name}_output_0"
        return renamed[name]

    for i, node in enumerate(graph.node):
        node.name = f"/model/layers.{i // per_layer}/{node.op_type}_{i}"
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    for tensor in graph.initializer:
        tensor.name = rename(tensor.name)
    for value in graph.value_info:
        value.name = rename(value.name)
    onnx.save(model, path)
    return len(graph.node)


def make_with_control_flow(path: Path, source: Path) -> int:
    """`source` with control flow after it, as detection exports and LLM decoders carry:
    an If choosing between two views of the graph's first output, and a Loop whose body
    adds that output (an outer name) to its carried value, each result a new graph output
    (inputs `cond` and `trips` added). Bodies reading outer names are what the native
    passes rename in one scope with the graph (`_wire.short_names`). Returns the node
    count."""
    model = onnx.load(source)
    graph = model.graph
    last = graph.output[0].name

    def typed(name: str) -> onnx.ValueInfoProto:  # typed as the graph's first output
        value = onnx.ValueInfoProto()
        value.CopyFrom(graph.output[0])
        value.name = name
        return value

    def scalar(name: str, elem: int) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, elem, [])

    then = helper.make_graph(
        [helper.make_node("Identity", [last], ["cf_then"])], "then", [], [typed("cf_then")]
    )
    other = helper.make_graph(
        [helper.make_node("Neg", [last], ["cf_else"])], "else", [], [typed("cf_else")]
    )
    loop = helper.make_graph(
        [
            helper.make_node("Identity", ["cf_cond_in"], ["cf_cond_out"]),
            helper.make_node("Add", ["cf_carried", last], ["cf_carried_out"]),
        ],
        "loop",
        [scalar("cf_i", TensorProto.INT64), scalar("cf_cond_in", TensorProto.BOOL)]
        + [typed("cf_carried")],
        [scalar("cf_cond_out", TensorProto.BOOL), typed("cf_carried_out")],
    )
    graph.node.append(
        helper.make_node("If", ["cond"], ["cf_if"], "cf/If", then_branch=then, else_branch=other)
    )
    graph.node.append(
        helper.make_node("Loop", ["trips", "", last], ["cf_loop"], "cf/Loop", body=loop)
    )
    graph.input.extend([scalar("cond", TensorProto.BOOL), scalar("trips", TensorProto.INT64)])
    graph.output.extend([typed("cf_if"), typed("cf_loop")])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return len(graph.node)


def make_ifs_every(path: Path, source: Path, every: int) -> int:
    """`source` with an If after every `every`-th node, its two one-node branches (Identity,
    Neg) reading that node's first output (an outer name; the branches' outputs declared
    without a type, which inference gives them); a graph input `cond` added. ONNX's
    inference copies the outer scope's types into each body it infers, so such a model's
    inference grows with bodies × values (docs/benchmarks.md: "Not met: many bodies").
    Returns the node count."""
    model = onnx.load(source)
    graph = model.graph
    nodes: list[onnx.NodeProto] = []
    for index, node in enumerate(graph.node):
        nodes.append(node)
        if index % every != every - 1 or not node.output or not node.output[0]:
            continue
        read, k = node.output[0], len(nodes)
        branches = {
            f"{kind}_branch": helper.make_graph(
                [helper.make_node(op, [read], [f"if{k}_{kind}"])],
                kind,
                [],
                [helper.make_empty_tensor_value_info(f"if{k}_{kind}")],
            )
            for kind, op in (("then", "Identity"), ("else", "Neg"))
        }
        nodes.append(helper.make_node("If", ["cond"], [f"if{k}"], f"If_{k}", **branches))
    del graph.node[:]
    graph.node.extend(nodes)
    graph.input.append(helper.make_tensor_value_info("cond", TensorProto.BOOL, []))
    onnx.save(model, path)
    return len(graph.node)


def make_weighted_chain(
    path: Path, nodes: int, hidden: int = 512, distinct: int = 100, external: bool = False
) -> int:
    """The common-ops chain (`make_common_ops`) at width `hidden` whose MatMuls cycle through
    `distinct` weights of their own ([hidden, hidden] FP32: 1 MiB each at 512), embedded, or
    in one external file beside the model (`external`). Returns the node count."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(
            (rng.standard_normal((hidden, hidden)) * 0.01).astype(np.float32), f"W{i}"
        )
        for i in range(distinct)
    ]
    inits += [
        numpy_helper.from_array(rng.standard_normal(hidden).astype(np.float32), "b"),
        numpy_helper.from_array(np.array([8, hidden], np.int64), "shape"),
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
    ]
    steps = _common_steps(lambda block: f"W{block % distinct}")
    return _save_chain(path, nodes, "weighted_chain", "c", steps, inits, hidden, external)


def _layer_chain(nodes: int, layer) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """The nodes and initializers of layers chained from input x until there are `nodes`
    nodes: `layer(prefix, index, current, rng)` makes layer `index` (its names start with
    `prefix`) reading `current`, and returns its (nodes, initializers, output)."""
    rng = np.random.default_rng(0)
    inits: list[onnx.TensorProto] = []
    graph_nodes: list[onnx.NodeProto] = []
    current, index = "x", 0
    while len(graph_nodes) < nodes:
        made, weights, current = layer(f"l{index}", index, current, rng)
        graph_nodes += made
        inits += weights
        index += 1
    return graph_nodes, inits


def make_per_layer_weights(
    path: Path, nodes: int, hidden: int = 32, conv: bool = False, constants: bool = False
) -> int:
    """A chain whose every layer has weights of its own, dynamic batch: MatMul, Add, Relu,
    Sigmoid with a [hidden, hidden] weight and a bias each (one initializer per two nodes),
    or (`conv`) Conv 1x1/3x3/5x5 (alternating dilations), Relu and a residual Add with a
    weight each (one per three nodes). `constants`: each weight held by a Constant node just
    before its layer instead (as exporters that do not fold constants write them; `nodes`
    then counts the layers' nodes, not the Constants). Returns the node count."""

    def conv_layer(p: str, index: int, current: str, rng):
        k = (1, 3, 5)[index % 3]
        weight = rng.standard_normal((8, 8, k, k)).astype(np.float32) * 0.1
        dilation = 1 + index % 2 if k == 1 else 1
        made = [
            helper.make_node(
                "Conv", [current, f"{p}.w"], [f"{p}/conv"], name=f"{p}/conv",
                pads=[k // 2] * 4, kernel_shape=[k, k], dilations=[dilation] * 2,
            ),
            helper.make_node("Relu", [f"{p}/conv"], [f"{p}/relu"], name=f"{p}/relu"),
            helper.make_node("Add", [f"{p}/relu", current], [f"{p}/add"], name=f"{p}/add"),
        ]  # fmt: skip
        return made, [numpy_helper.from_array(weight, f"{p}.w")], f"{p}/add"

    def matmul_layer(p: str, index: int, current: str, rng):
        weight = rng.standard_normal((hidden, hidden)).astype(np.float32)
        weights = [
            numpy_helper.from_array(weight, f"{p}.w"),
            numpy_helper.from_array(np.zeros(hidden, np.float32), f"{p}.b"),
        ]
        made = []
        for op, ins, out in [
            ("MatMul", [current, f"{p}.w"], f"{p}/mm"),
            ("Add", [f"{p}/mm", f"{p}.b"], f"{p}/add"),
            ("Relu", [f"{p}/add"], f"{p}/relu"),
            ("Sigmoid", [f"{p}/relu"], f"{p}/sig"),
        ]:
            made.append(helper.make_node(op, ins, [out], name=out))
        return made, weights, f"{p}/sig"

    graph_nodes, inits = _layer_chain(nodes, conv_layer if conv else matmul_layer)
    if constants:
        held = {t.name: t for t in inits}
        layered: list[onnx.NodeProto] = []
        for node in graph_nodes:
            for name in node.input:
                if name in held:
                    value = held.pop(name)
                    layered.append(helper.make_node("Constant", [], [name], value=value))
            layered.append(node)
        graph_nodes, inits = layered, []
    shape = ["N", 8, 16, 16] if conv else ["batch", "seq", hidden]
    return _save_nodes(path, graph_nodes, "per_layer_weights", (shape, None), inits)


def make_quantized_layers(path: Path, nodes: int, hidden: int = 32) -> int:
    """Layers as onnxruntime's static quantizer writes them, dynamic batch: the activation
    quantized and dequantized (QuantizeLinear, DequantizeLinear), an INT8 [hidden, hidden]
    weight dequantized per channel, MatMul, Add, Relu — each layer with initializers of its
    own (its activation's scale and zero point, the weight, its scales and zero points, a
    bias: one per node), which the quantization rules read the values of. Returns the node
    count."""

    def layer(p: str, index: int, current: str, rng):
        weight = rng.integers(-127, 127, (hidden, hidden)).astype(np.int8)
        weights = [
            numpy_helper.from_array(np.array(0.02 + 0.001 * (index % 7), np.float32), f"{p}.sx"),
            numpy_helper.from_array(np.array(0, np.int8), f"{p}.zx"),
            numpy_helper.from_array(weight, f"{p}.wq"),
            numpy_helper.from_array(rng.uniform(0.001, 0.01, hidden).astype(np.float32), f"{p}.sw"),
            numpy_helper.from_array(np.zeros(hidden, np.int8), f"{p}.zw"),
            numpy_helper.from_array(rng.standard_normal(hidden).astype(np.float32), f"{p}.b"),
        ]
        made = [
            helper.make_node(op, ins, [out], name=out, **attrs)
            for op, ins, out, attrs in [
                ("QuantizeLinear", [current, f"{p}.sx", f"{p}.zx"], f"{p}/q", {}),
                ("DequantizeLinear", [f"{p}/q", f"{p}.sx", f"{p}.zx"], f"{p}/dq", {}),
                ("DequantizeLinear", [f"{p}.wq", f"{p}.sw", f"{p}.zw"], f"{p}/w", {"axis": 1}),
                ("MatMul", [f"{p}/dq", f"{p}/w"], f"{p}/mm", {}),
                ("Add", [f"{p}/mm", f"{p}.b"], f"{p}/add", {}),
                ("Relu", [f"{p}/add"], f"{p}/relu", {}),
            ]
        ]
        return made, weights, f"{p}/relu"

    graph_nodes, inits = _layer_chain(nodes, layer)
    return _save_nodes(path, graph_nodes, "quantized_layers", (["N", hidden], None), inits)


def make_vit_layers(path: Path, nodes: int, hidden: int = 64, heads: int = 4) -> int:
    """Vision-transformer layers as a user writes them with `onnx.helper` (opset 28), each with
    weights of its own ([hidden, 3*hidden] QKV, [hidden, hidden], [hidden, 2*hidden],
    [2*hidden, hidden]: 16 to 48 KB), dynamic batch and sequence: LayerNormalization, MatMul,
    Split into Q, K and V (num_outputs), Reshape and Transpose to heads, MatMul, Div, Softmax,
    MatMul, Transpose and Reshape back, a projection and residual Add, then LayerNormalization,
    MatMul, Add, Gelu, MatMul and a residual Add. Returns the node count."""
    to_heads = numpy_helper.from_array(np.array([0, -1, heads, hidden // heads], np.int64), "heads")
    back = numpy_helper.from_array(np.array([0, -1, hidden], np.int64), "back")
    scale = numpy_helper.from_array(np.array(np.sqrt(hidden // heads), np.float32), "scale")

    def layer(p: str, index: int, current: str, rng):
        def weight(shape, name):
            return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

        weights = [
            numpy_helper.from_array(np.ones(hidden, np.float32), f"{p}.g"),
            numpy_helper.from_array(np.zeros(hidden, np.float32), f"{p}.beta"),
            weight((hidden, 3 * hidden), f"{p}.qkv"),
            weight((hidden, hidden), f"{p}.proj"),
            weight((hidden, 2 * hidden), f"{p}.fc1"),
            numpy_helper.from_array(np.zeros(2 * hidden, np.float32), f"{p}.fc1b"),
            weight((2 * hidden, hidden), f"{p}.fc2"),
        ]
        made = [
            _layer_node(p, "LayerNormalization", [current, f"{p}.g", f"{p}.beta"], "ln", axis=-1),
            _layer_node(p, "MatMul", [f"{p}/ln", f"{p}.qkv"], "qkv"),
            helper.make_node(
                "Split", [f"{p}/qkv"], [f"{p}/q", f"{p}/k", f"{p}/v"], name=f"{p}/split",
                axis=-1, num_outputs=3,
            ),
        ]  # fmt: skip
        for part in ("q", "k", "v"):
            made.append(_layer_node(p, "Reshape", [f"{p}/{part}", "heads"], f"{part}4"))
            made.append(
                _layer_node(p, "Transpose", [f"{p}/{part}4"], f"{part}h", perm=[0, 2, 1, 3])
            )
        made += [
            _layer_node(p, "Transpose", [f"{p}/kh"], "kt", perm=[0, 1, 3, 2]),
            _layer_node(p, "MatMul", [f"{p}/qh", f"{p}/kt"], "scores"),
            _layer_node(p, "Div", [f"{p}/scores", "scale"], "scaled"),
            _layer_node(p, "Softmax", [f"{p}/scaled"], "attn", axis=-1),
            _layer_node(p, "MatMul", [f"{p}/attn", f"{p}/vh"], "ctx"),
            _layer_node(p, "Transpose", [f"{p}/ctx"], "ctxt", perm=[0, 2, 1, 3]),
            _layer_node(p, "Reshape", [f"{p}/ctxt", "back"], "merged"),
            _layer_node(p, "MatMul", [f"{p}/merged", f"{p}.proj"], "proj"),
            _layer_node(p, "Add", [current, f"{p}/proj"], "res1"),
            _layer_node(p, "LayerNormalization", [f"{p}/res1", f"{p}.g", f"{p}.beta"], "ln2"),
            _layer_node(p, "MatMul", [f"{p}/ln2", f"{p}.fc1"], "fc1"),
            _layer_node(p, "Add", [f"{p}/fc1", f"{p}.fc1b"], "fc1b"),
            _layer_node(p, "Gelu", [f"{p}/fc1b"], "gelu"),
            _layer_node(p, "MatMul", [f"{p}/gelu", f"{p}.fc2"], "fc2"),
            _layer_node(p, "Add", [f"{p}/res1", f"{p}/fc2"], "res2"),
        ]
        return made, weights, f"{p}/res2"

    graph_nodes, inits = _layer_chain(nodes, layer)
    shapes = (["N", "S", hidden], ["N", "S", hidden])
    inits = [to_heads, back, scale, *inits]
    return _save_nodes(path, graph_nodes, "vit_layers", shapes, inits, opset=28)


def make_unet_layers(path: Path, nodes: int, channels: int = 8) -> int:
    """U-Net-like layers, each with weights of its own (opset 28): Conv 3x3 and Relu, MaxPool
    2x2, Conv 3x3 and Relu, Resize by scales of its own (nearest, 2x), Concat with the first
    Conv's output, Conv 1x1, BatchNormalization, Sigmoid. Returns the node count."""

    def layer(p: str, index: int, current: str, rng):
        c = channels

        def weight(shape, name):
            return numpy_helper.from_array(
                (rng.standard_normal(shape) * 0.1).astype(np.float32), name
            )

        weights = [
            weight((c, c, 3, 3), f"{p}.w1"),
            numpy_helper.from_array(np.zeros(c, np.float32), f"{p}.b1"),
            weight((c, c, 3, 3), f"{p}.w2"),
            numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), f"{p}.scales"),
            weight((c, 2 * c, 1, 1), f"{p}.w3"),
            *(
                numpy_helper.from_array(value.astype(np.float32), f"{p}.bn{i}")
                for i, value in enumerate([np.ones(c), np.zeros(c), np.zeros(c), np.ones(c)])
            ),
        ]
        made = [
            _layer_node(p, "Conv", [current, f"{p}.w1", f"{p}.b1"], "c1", pads=[1, 1, 1, 1]),
            _layer_node(p, "Relu", [f"{p}/c1"], "r1"),
            _layer_node(p, "MaxPool", [f"{p}/r1"], "pool", kernel_shape=[2, 2], strides=[2, 2]),
            _layer_node(p, "Conv", [f"{p}/pool", f"{p}.w2"], "c2", pads=[1, 1, 1, 1]),
            _layer_node(p, "Relu", [f"{p}/c2"], "r2"),
            _layer_node(p, "Resize", [f"{p}/r2", "", f"{p}.scales"], "up", mode="nearest"),
            _layer_node(p, "Concat", [f"{p}/up", f"{p}/r1"], "cat", axis=1),
            _layer_node(p, "Conv", [f"{p}/cat", f"{p}.w3"], "c3"),
            _layer_node(
                p, "BatchNormalization", [f"{p}/c3", *[f"{p}.bn{i}" for i in range(4)]], "bn"
            ),
            _layer_node(p, "Sigmoid", [f"{p}/bn"], "out"),
        ]
        return made, weights, f"{p}/out"

    graph_nodes, inits = _layer_chain(nodes, layer)
    shapes = (["N", channels, 64, 64], ["N", channels, 64, 64])
    return _save_nodes(path, graph_nodes, "unet_layers", shapes, inits, opset=28)


def make_qdq_conv_layers(path: Path, nodes: int, channels: int = 16) -> int:
    """Conv layers quantized per channel in the explicit Q/DQ form, each with initializers of
    its own (opset 28): the activation's QuantizeLinear and DequantizeLinear (a scale and a
    zero point of its own), the INT8 weight's DequantizeLinear along axis 0 (per-channel
    scales and zero points), Conv with a bias, Relu. Returns the node count."""

    def layer(p: str, index: int, current: str, rng):
        c = channels
        weights = [
            numpy_helper.from_array(np.array(0.02, np.float32), f"{p}.sx"),
            numpy_helper.from_array(np.array(0, np.int8), f"{p}.zx"),
            numpy_helper.from_array(
                rng.integers(-127, 127, (c, c, 3, 3)).astype(np.int8), f"{p}.wq"
            ),
            numpy_helper.from_array((rng.random(c) * 0.01).astype(np.float32), f"{p}.sw"),
            numpy_helper.from_array(np.zeros(c, np.int8), f"{p}.zw"),
            numpy_helper.from_array(np.zeros(c, np.float32), f"{p}.b"),
        ]
        made = [
            _layer_node(p, "QuantizeLinear", [current, f"{p}.sx", f"{p}.zx"], "q"),
            _layer_node(p, "DequantizeLinear", [f"{p}/q", f"{p}.sx", f"{p}.zx"], "dq"),
            _layer_node(p, "DequantizeLinear", [f"{p}.wq", f"{p}.sw", f"{p}.zw"], "w", axis=0),
            _layer_node(p, "Conv", [f"{p}/dq", f"{p}/w", f"{p}.b"], "conv", pads=[1, 1, 1, 1]),
            _layer_node(p, "Relu", [f"{p}/conv"], "relu"),
        ]
        return made, weights, f"{p}/relu"

    graph_nodes, inits = _layer_chain(nodes, layer)
    shapes = (["N", channels, 32, 32], ["N", channels, 32, 32])
    return _save_nodes(path, graph_nodes, "qdq_conv_layers", shapes, inits, opset=28)


def _layer_node(prefix: str, op: str, inputs: list[str], output: str, **attrs) -> onnx.NodeProto:
    """A node of layer `prefix` writing `prefix/output`, named after its op and output."""
    return helper.make_node(
        op, inputs, [f"{prefix}/{output}"], name=f"{prefix}/{op}_{output}", **attrs
    )


def make_dynamic_reshapes(path: Path, nodes: int, named: bool = True) -> int:
    """Layers as a TorchScript export of attention writes its reshapes, dynamic batch and
    sequence: the batch read at run time (Shape, Gather, Unsqueeze), joined with constant dims
    (Concat) into a Reshape's shape, two Transposes, a Reshape by a constant shape, a scale
    and a residual Add — every constant a Constant node, `named`: its tensor named and
    documented after the node (as onnx.helper.make_tensor names each; a PyTorch export leaves
    them unnamed). Returns the node count."""

    def constant(name: str, value) -> onnx.NodeProto:
        tensor = numpy_helper.from_array(np.asarray(value))
        tensor.ClearField("name")
        if named:
            tensor.name, tensor.doc_string = f"{name}_value", f"the value of {name}"
        return helper.make_node("Constant", [], [name], name=name, value=tensor)

    def layer(p: str, index: int, current: str, rng):
        node = functools.partial(_layer_node, p)
        made = [
            node("Shape", [current], "shape"),
            constant(f"{p}/c0", np.array(0, np.int64)),
            node("Gather", [f"{p}/shape", f"{p}/c0"], "batch", axis=0),
            constant(f"{p}/c1", np.array([0], np.int64)),
            node("Unsqueeze", [f"{p}/batch", f"{p}/c1"], "b1"),
            constant(f"{p}/c2", np.array([-1, 4, 8], np.int64)),
            node("Concat", [f"{p}/b1", f"{p}/c2"], "dims", axis=0),
            node("Reshape", [current, f"{p}/dims"], "heads"),
            node("Transpose", [f"{p}/heads"], "t", perm=[0, 2, 1, 3]),
            node("Transpose", [f"{p}/t"], "t1", perm=[0, 2, 1, 3]),
            constant(f"{p}/c3", np.array([0, 0, 32], np.int64)),
            node("Reshape", [f"{p}/t1", f"{p}/c3"], "merged"),
            constant(f"{p}/c4", np.array(0.5, np.float32)),
            node("Mul", [f"{p}/merged", f"{p}/c4"], "scaled"),
            node("Add", [f"{p}/scaled", current], "out"),
        ]
        return made, [], f"{p}/out"

    graph_nodes, _ = _layer_chain(nodes, layer)
    shape = ["batch", "seq", 32]
    return _save_nodes(path, graph_nodes, "dynamic_reshapes", (shape, shape), [], opset=13)


def make_cnn_layers(path: Path, nodes: int, channels: int = 8) -> int:
    """Conv (3x3, padded), BatchNormalization and Relu layers sharing one set of weights, on
    [N, channels, 32, 32] data: a CNN's body at 100,000 nodes. Returns the node count."""
    weights = [numpy_helper.from_array(np.full([channels, channels, 3, 3], 0.1, np.float32), "w")]
    weights += [
        numpy_helper.from_array(np.full([channels], value, np.float32), name)
        for name, value in (("b", 0.0), ("scale", 1.0), ("bias", 0.0), ("mean", 0.0), ("var", 1.0))
    ]

    def layer(p: str, index: int, current: str, rng):
        node = functools.partial(_layer_node, p)
        made = [
            node("Conv", [current, "w", "b"], "conv", pads=[1, 1, 1, 1]),
            node("BatchNormalization", [f"{p}/conv", "scale", "bias", "mean", "var"], "bn"),
            node("Relu", [f"{p}/bn"], "relu"),
        ]
        return made, [], f"{p}/relu"

    graph_nodes, _ = _layer_chain(nodes, layer)
    shape = ["N", channels, 32, 32]
    return _save_nodes(path, graph_nodes, "cnn_layers", (shape, shape), weights)


def make_pool_layers(path: Path, nodes: int) -> int:
    """MaxPool, AveragePool (3x3, padded), Pad (by zeros), Resize (scales of 1), Sigmoid and
    LeakyRelu layers on [N, 4, 16, 16] data. Returns the node count."""
    weights = [
        numpy_helper.from_array(np.zeros(8, np.int64), "pads"),
        numpy_helper.from_array(np.ones(4, np.float32), "scales"),
    ]

    def layer(p: str, index: int, current: str, rng):
        node = functools.partial(_layer_node, p)
        window = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
        made = [
            node("MaxPool", [current], "max", **window),
            node("AveragePool", [f"{p}/max"], "avg", **window),
            node("Pad", [f"{p}/avg", "pads"], "pad"),
            node("Resize", [f"{p}/pad", "", "scales"], "resize"),
            node("Sigmoid", [f"{p}/resize"], "sigmoid"),
            node("LeakyRelu", [f"{p}/sigmoid"], "leaky", alpha=0.1),
        ]
        return made, [], f"{p}/leaky"

    graph_nodes, _ = _layer_chain(nodes, layer)
    shape = ["N", 4, 16, 16]
    return _save_nodes(path, graph_nodes, "pool_layers", (shape, shape), weights, opset=18)


def make_reduction_layers(path: Path, nodes: int) -> int:
    """A softmax written out per layer: ReduceMax (axes an input), Tile back to the data's
    shape, Sub, Exp, ReduceSum and Div, on [N, 16, 16] data. Returns the node count."""
    weights = [
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array([1, 16, 1], np.int64), "repeats"),
    ]

    def layer(p: str, index: int, current: str, rng):
        node = functools.partial(_layer_node, p)
        made = [
            node("ReduceMax", [current, "axis1"], "max"),
            node("Tile", [f"{p}/max", "repeats"], "tiled"),
            node("Sub", [current, f"{p}/tiled"], "shifted"),
            node("Exp", [f"{p}/shifted"], "exp"),
            node("ReduceSum", [f"{p}/exp", "axis1"], "sum"),
            node("Div", [f"{p}/exp", f"{p}/sum"], "out"),
        ]
        return made, [], f"{p}/out"

    graph_nodes, _ = _layer_chain(nodes, layer)
    shape = ["N", 16, 16]
    return _save_nodes(path, graph_nodes, "reduction_layers", (shape, shape), weights, opset=18)


def make_custom_chain(path: Path, nodes: int, every: int = 1) -> int:
    """A chain of unnamed nodes on [B, 64] data, every `every`-th one a custom op (MyOp of
    domain custom.ops, no plugin anywhere: each unsupported), the others Relu and Tanh in
    turn. Returns the node count."""
    graph_nodes, current = [], "x"
    for k in range(nodes):
        if k % every == 0:
            made = helper.make_node("MyOp", [current], [f"c{k}"], domain="custom.ops")
        else:
            made = helper.make_node("Relu" if k % 2 else "Tanh", [current], [f"c{k}"])
        graph_nodes.append(made)
        current = f"c{k}"
    graph = helper.make_graph(
        graph_nodes,
        "custom_chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 64])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, ["B", 64])],
    )
    imports = [helper.make_opsetid("", 17), helper.make_opsetid("custom.ops", 1)]
    onnx.save(helper.make_model(graph, opset_imports=imports, ir_version=8), path)
    return len(graph_nodes)


def make_split_fanout(path: Path, nodes: int, parts: int = 8) -> int:
    """Blocks that split the features into `parts` (Split, opset 18's num_outputs), apply a
    Relu to each and join them again (Concat), dynamic batch. Returns the node count."""

    def layer(p: str, index: int, current: str, rng):
        parts_out = [f"{p}/part{k}" for k in range(parts)]
        relus = [f"{p}/relu{k}" for k in range(parts)]
        made = [
            helper.make_node(
                "Split", [current], parts_out, name=f"{p}/Split", axis=1, num_outputs=parts
            )
        ]
        made += [
            helper.make_node("Relu", [a], [b], name=b)
            for a, b in zip(parts_out, relus, strict=True)
        ]
        made.append(helper.make_node("Concat", relus, [f"{p}/joined"], name=f"{p}/Concat", axis=1))
        return made, [], f"{p}/joined"  # fmt: skip

    graph_nodes, _ = _layer_chain(nodes, layer)
    shape = ["N", 8 * parts]
    return _save_nodes(path, graph_nodes, "split_fanout", (shape, shape), [], opset=18)


def make_fp16_layernorms(path: Path, nodes: int, hidden: int = 32) -> int:
    """Blocks computed in FLOAT16 between FLOAT casts: Cast, LayerNormalization (shared
    FLOAT16 scale and bias), Softmax, Cast back; dynamic batch and sequence. Returns the
    node count."""
    inits = [
        numpy_helper.from_array(np.ones(hidden, np.float16), "gamma"),
        numpy_helper.from_array(np.zeros(hidden, np.float16), "beta"),
    ]

    def layer(p: str, index: int, current: str, rng):
        node = functools.partial(_layer_node, p)
        made = [
            node("Cast", [current], "h", to=TensorProto.FLOAT16),
            node("LayerNormalization", [f"{p}/h", "gamma", "beta"], "ln", axis=-1),
            node("Softmax", [f"{p}/ln"], "sm", axis=-1),
            node("Cast", [f"{p}/sm"], "out", to=TensorProto.FLOAT),
        ]
        return made, [], f"{p}/out"

    graph_nodes, _ = _layer_chain(nodes, layer)
    shape = ["N", "S", hidden]
    return _save_nodes(path, graph_nodes, "fp16_layernorms", (shape, shape), inits)


def make_long_names(path: Path, nodes: int, length: int = 300) -> int:
    """A chain of unary ops (Relu, Sigmoid, Tanh, Abs, Neg, Exp, Erf, Sqrt) whose node and
    tensor names are about `length` characters (a module path repeated, as deep nesting
    makes them). Returns the node count."""
    ops = ("Relu", "Sigmoid", "Tanh", "Abs", "Neg", "Exp", "Erf", "Sqrt")
    prefix = "module." * (length // 7)
    graph_nodes, current = [], "x"
    for i in range(nodes):
        op = ops[i % len(ops)]
        out = f"{prefix}block_{i}/{op}_output_0"
        graph_nodes.append(helper.make_node(op, [current], [out], name=f"{prefix}block_{i}/{op}"))
        current = out
    return _save_nodes(path, graph_nodes, "long_names", (["N", 16], ["N", 16]), [])


def make_varied_activations(path: Path, nodes: int, hidden: int = 64) -> int:
    """A chain of activations and LayerNormalizations (LeakyRelu, Elu, HardSigmoid,
    LayerNormalization, Selu, ThresholdedRelu, Celu, in turn) in which every node has
    attribute values of its own (alpha, beta, gamma, epsilon), as a model generated with
    per-node parameters has them. Returns the node count."""
    inits = [
        numpy_helper.from_array(np.ones(hidden, np.float32), "scale"),
        numpy_helper.from_array(np.zeros(hidden, np.float32), "bias"),
    ]
    ops = ("LeakyRelu", "Elu", "HardSigmoid", "LayerNormalization", "Selu", "ThresholdedRelu")
    graph_nodes, current = [], "x"
    for i in range(nodes):
        op, v = (*ops, "Celu")[i % 7], 0.01 + (i * 7919 % 100_003) / 1e6
        attrs = {
            "LeakyRelu": {"alpha": v},
            "Elu": {"alpha": 1 + v},
            "HardSigmoid": {"alpha": 0.2 + v, "beta": 0.5},
            "LayerNormalization": {"axis": -1, "epsilon": 1e-5 * (1 + v)},
            "Selu": {"alpha": 1.6 + v, "gamma": 1.05 + v},
            "ThresholdedRelu": {"alpha": v},
            "Celu": {"alpha": 1 + v},
        }[op]
        inputs = [current, "scale", "bias"] if op == "LayerNormalization" else [current]
        graph_nodes.append(helper.make_node(op, inputs, [f"t{i}"], name=f"n{i}", **attrs))
        current = f"t{i}"
    return _save_nodes(path, graph_nodes, "varied", (["N", hidden], ["N", hidden]), inits)


def make_stale_declaration(path: Path, source: Path, every: int) -> int:
    """`make_ifs_every(path, source, every)`, and one value_info entry that declares the
    first Reshape's output with a rank its node does not compute (as a tool that edited the
    graph leaves it): strict inference fails, and validity confirms its errors without the
    declarations (`validity.inference_problems`). Returns the node count."""
    count = make_ifs_every(path, source, every)
    model = onnx.load(path)
    reshape = next(node for node in model.graph.node if node.op_type == "Reshape")
    model.graph.value_info.append(
        helper.make_tensor_value_info(reshape.output[0], TensorProto.FLOAT, [1, 2, 3, 4, 5])
    )
    onnx.save(model, path)
    return count


def make_body_network(path: Path, nodes: int, loop: bool = False) -> int:
    """A network inside bodies: an If whose two branches each hold a chain of `nodes` / 2
    unary ops (a scripted model's `if` around the whole network), or (`loop`) a Loop of
    three iterations whose body holds a chain of `nodes`. One top-level node. Returns the
    node count, bodies' included."""
    ops = ("Relu", "Sigmoid", "Tanh", "Abs", "Neg", "Exp", "Sqrt", "Erf")

    def chain(prefix: str, count: int, first: str) -> tuple[list[onnx.NodeProto], str]:
        made, current = [], first
        for i in range(count):
            made.append(helper.make_node(ops[i % 8], [current], [f"{prefix}{i}"], f"{prefix}n{i}"))
            current = f"{prefix}{i}"
        return made, current

    def value(name: str, elem: int = TensorProto.FLOAT, shape=("N", 64)):
        return helper.make_tensor_value_info(name, elem, None if shape is None else list(shape))

    inputs = [value("x"), value("cond", TensorProto.BOOL, [])]
    if loop:
        made, last = chain("b", nodes, "v_in")
        made.append(helper.make_node("Identity", ["cond_in"], ["cond_out"]))
        carried = [value("iter", TensorProto.INT64, []), value("cond_in", TensorProto.BOOL, [])]
        outputs = [value("cond_out", TensorProto.BOOL, []), value(last)]
        body = helper.make_graph(made, "body", [*carried, value("v_in")], outputs)
        top = helper.make_node("Loop", ["trip", "cond", "x"], ["y"], "loop", body=body)
        inits = [numpy_helper.from_array(np.array(3, np.int64), "trip")]
    else:
        branches = {}
        for side in ("then", "else"):
            made, last = chain(side[0], nodes // 2, "x")
            branches[f"{side}_branch"] = helper.make_graph(
                made, side, [], [value(last, shape=None)]
            )
        top = helper.make_node("If", ["cond"], ["y"], "if", **branches)
        inits = []
    graph = helper.make_graph([top], "body_network", inputs, [value("y")], inits)
    _save(path, graph)
    return nodes


def make_random_ops(path: Path, nodes: int, seed: int = 0) -> int:
    """A chain of common ops drawn at random, each with attributes and constants of its own
    (as a generated stress test makes them): Transpose (a random perm), Softmax (a random
    axis), LeakyRelu (a random alpha), Clip (its own bounds), Add and Mul (their own [1, 1, 1,
    d] constants), Gather (a permutation of one axis), Cast to FLOAT16 and back, Abs and Pow,
    Relu, ReduceMean subtracted, Unsqueeze and Squeeze, Slice of a whole axis, over a
    [2, 3, 4, 5] input. Returns the node count."""
    rng, values = random.Random(seed), np.random.default_rng(seed)
    shape, graph_nodes, inits, current = [2, 3, 4, 5], [], [], "x"
    ops = ("Transpose", "Softmax", "LeakyRelu", "Clip", "Add", "Mul", "Gather", "Cast", "Pow",
           "Relu", "ReduceMean", "Unsqueeze", "Slice")  # fmt: skip

    def constant(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs) -> None:
        graph_nodes.append(helper.make_node(op, inputs, [output], f"n{len(graph_nodes)}", **attrs))

    while len(graph_nodes) < nodes:
        op, i = rng.choice(ops), len(graph_nodes)
        out = f"t{i}"
        if op == "Transpose":
            perm = rng.sample(range(4), 4)
            node(op, [current], out, perm=perm)
            shape = [shape[p] for p in perm]
        elif op == "Softmax":
            node(op, [current], out, axis=rng.randrange(-4, 4))
        elif op == "LeakyRelu":
            node(op, [current], out, alpha=rng.random())
        elif op == "Clip":
            low = constant(f"low{i}", np.float32(-rng.random()))
            node(op, [current, low, constant(f"high{i}", np.float32(rng.random() + 1))], out)
        elif op in ("Add", "Mul"):
            weights = values.standard_normal([1, 1, 1, shape[3]]).astype(np.float32)
            node(op, [current, constant(f"c{i}", weights)], out)
        elif op == "Gather":
            axis = rng.randrange(4)
            indices = constant(f"g{i}", values.permutation(shape[axis]).astype(np.int64))
            node(op, [current, indices], out, axis=axis)
        elif op == "Cast":
            node(op, [current], f"{out}_half", to=TensorProto.FLOAT16)
            node(op, [f"{out}_half"], out, to=TensorProto.FLOAT)
        elif op == "Pow":
            node("Abs", [current], f"{out}_abs")
            exponent = constant(f"e{i}", np.float32(rng.choice([1.0, 2.0, 0.5])))
            node(op, [f"{out}_abs", exponent], out)
        elif op == "Relu":
            node(op, [current], out)
        elif op == "ReduceMean":
            axes = constant(f"ax{i}", np.array([rng.randrange(4)], np.int64))
            node(op, [current, axes], f"{out}_mean", keepdims=1)
            node("Sub", [current, f"{out}_mean"], out)
        elif op == "Unsqueeze":
            node(op, [current, constant(f"u{i}", np.array([0], np.int64))], f"{out}_u")
            node("Squeeze", [f"{out}_u", constant(f"s{i}", np.array([0], np.int64))], out)
        else:  # Slice of a whole axis
            axis = rng.randrange(4)
            bounds = [constant(f"{k}{i}", np.array([v], np.int64))
                      for k, v in (("st", 0), ("en", shape[axis]), ("sa", axis))]  # fmt: skip
            node(op, [current, *bounds], out)
        current = out
    graph = helper.make_graph(
        graph_nodes,
        "random_ops",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 5])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, shape)],
        inits,
    )
    _save(path, graph, opset=18)
    return len(graph_nodes)


def _save_chain_model(path: Path, nodes, inputs, outputs, inits=(), value_info=()) -> int:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits), value_info=value_info)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    domains = sorted({n.domain for n in nodes} - {""})
    model.opset_import.extend(helper.make_opsetid(d, 1) for d in domains)
    onnx.save(model, path)
    return len(nodes)


def make_generated(path: Path, shape: str, nodes: int) -> int:
    """A 100,000-node model of a shape a test generator makes with onnx.helper (the names
    short, as such generators name them; graph outputs declared with their shapes, as
    onnx.checker wants them): "unsupported_chain" (BitShift nodes, which no
    importer takes), "invalid_chain" (Adds of one input), "wide_outputs" (Relus of one
    input, every output a graph output), "const_adds" (Constants of 64 floats in float_data,
    `helper.make_tensor`, added in a chain), "declared_all" (a Relu/Sigmoid chain with
    value_info for every tensor), "shape_chain" (Shape, Gather, Unsqueeze, Concat, Reshape,
    Relu), "identity_chain", "wide_concat" (one Concat of `nodes - 1` Relus),
    "distinct_custom_ops" (custom ops, each an op type of its own), "ifs_mid_bodies" (Ifs of
    two 48-Relu branches) or "ifs_mid_bodies320" (two 320-Relu branches). Returns the node
    count (top level)."""
    f32, x = TensorProto.FLOAT, "x"
    x_info = helper.make_tensor_value_info(x, f32, ["N", 64])

    def chain(op: str, count: int, **attrs) -> list:
        return [
            helper.make_node(op, [f"t{i}" if i else x], [f"t{i + 1}"], name=f"n{i}", **attrs)
            for i in range(count)
        ]

    def last(count: int, elem: int = f32, shape=("N", 64)):
        return [helper.make_tensor_value_info(f"t{count}", elem, list(shape))]

    if shape == "unsupported_chain":
        shift = helper.make_tensor("s", TensorProto.UINT32, [1], [1])
        made = [
            helper.make_node("BitShift", [f"t{i}" if i else x, "s"], [f"t{i + 1}"],
                             name=f"n{i}", direction="LEFT")
            for i in range(nodes)
        ]  # fmt: skip
        uint = helper.make_tensor_value_info(x, TensorProto.UINT32, ["N", 64])
        return _save_chain_model(path, made, [uint], last(nodes, TensorProto.UINT32), [shift])
    if shape == "invalid_chain":
        made = [helper.make_node("Add", [f"t{i}" if i else x], [f"t{i + 1}"]) for i in range(nodes)]
        return _save_chain_model(path, made, [x_info], last(nodes))
    if shape == "wide_outputs":
        made = [helper.make_node("Relu", [x], [f"o{i}"], name=f"n{i}") for i in range(nodes)]
        outs = [helper.make_tensor_value_info(f"o{i}", f32, ["N", 64]) for i in range(nodes)]
        return _save_chain_model(path, made, [x_info], outs)
    if shape == "const_adds":
        rng = np.random.default_rng(0)
        made = []
        for i in range(nodes // 2):
            value = helper.make_tensor(f"cv{i}", f32, [64], rng.random(64, np.float32))
            made.append(helper.make_node("Constant", [], [f"c{i}"], value=value))
            made.append(helper.make_node("Add", [f"t{i}" if i else x, f"c{i}"], [f"t{i + 1}"]))
        return _save_chain_model(path, made, [x_info], last(nodes // 2))
    if shape == "declared_all":
        made = [
            helper.make_node("Relu" if i % 2 else "Sigmoid", [f"t{i}" if i else x], [f"t{i + 1}"])
            for i in range(nodes)
        ]
        declared = [helper.make_tensor_value_info(f"t{i}", f32, ["N", 64]) for i in range(1, nodes)]
        return _save_chain_model(path, made, [x_info], last(nodes, f32, ["N", 64]), (), declared)
    if shape == "shape_chain":
        inits = [
            helper.make_tensor("i0", TensorProto.INT64, [], [0]),
            helper.make_tensor("ax", TensorProto.INT64, [1], [0]),
            helper.make_tensor("m1", TensorProto.INT64, [1], [-1]),
        ]
        made, current = [], x
        for i in range(nodes // 6):
            made += [
                helper.make_node("Shape", [current], [f"s{i}"]),
                helper.make_node("Gather", [f"s{i}", "i0"], [f"g{i}"], axis=0),
                helper.make_node("Unsqueeze", [f"g{i}", "ax"], [f"u{i}"]),
                helper.make_node("Concat", [f"u{i}", "m1"], [f"c{i}"], axis=0),
                helper.make_node("Reshape", [current, f"c{i}"], [f"r{i}"]),
                helper.make_node("Relu", [f"r{i}"], [f"y{i}"]),
            ]
            current = f"y{i}"
        out = [helper.make_tensor_value_info(current, f32, ["N", None])]
        return _save_chain_model(path, made, [x_info], out, inits)
    if shape == "identity_chain":
        return _save_chain_model(path, chain("Identity", nodes), [x_info], last(nodes))
    if shape == "wide_concat":
        made = [helper.make_node("Relu", [x], [f"r{i}"]) for i in range(nodes - 1)]
        made.append(helper.make_node("Concat", [f"r{i}" for i in range(nodes - 1)], ["y"], axis=0))
        return _save_chain_model(
            path, made, [x_info], [helper.make_tensor_value_info("y", f32, [None, 64])]
        )
    if shape == "distinct_custom_ops":
        made = [
            helper.make_node(f"MyOp{i}", [f"t{i}" if i else x], [f"t{i + 1}"], name=f"n{i}",
                             domain="custom.ops")
            for i in range(nodes)
        ]  # fmt: skip
        return _save_chain_model(path, made, [x_info], last(nodes))
    if shape in ("ifs_mid_bodies", "ifs_mid_bodies320"):
        per = 48 if shape == "ifs_mid_bodies" else 320
        made, current = [], x
        for k in range(nodes // (2 * per + 1)):

            def branch(side: str, k=k, current=current) -> onnx.GraphProto:
                body = [
                    helper.make_node("Relu", [f"{side}{k}_{i - 1}" if i else current],
                                     [f"{side}{k}_{i}"])
                    for i in range(per)
                ]  # fmt: skip
                out = helper.make_tensor_value_info(f"{side}{k}_{per - 1}", f32, ["N", 64])
                return helper.make_graph(body, side, [], [out])

            made.append(
                helper.make_node("If", ["c"], [f"y{k}"], then_branch=branch("t"),
                                 else_branch=branch("e"))
            )  # fmt: skip
            made.append(helper.make_node("Relu", [f"y{k}"], [f"z{k}"]))
            current = f"z{k}"
        cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
        out = [helper.make_tensor_value_info(current, f32, ["N", 64])]
        return _save_chain_model(path, made, [x_info, cond], out)
    raise ValueError(f"unknown generated shape {shape!r}")


def make_saved_after_inference(path: Path, source: Path) -> int:
    """`source` as a user saves it after ONNX's shape inference (every tensor declared in
    value_info as inference computed it). Returns the node count."""
    model = onnx.shape_inference.infer_shapes(onnx.load(source), data_prop=True)
    onnx.save(model, path)
    return len(model.graph.node)


def make_big_weights(path: Path, layers: int = 12, width: int = 8192) -> int:
    """An MLP of `layers` [width, width] FP32 MatMuls, weights in one sparse external file.

    Returns the external data size in bytes.
    """
    data = path.with_suffix(".weights")
    per = width * width * 4
    inits, graph_nodes = [], []
    cur = "x"
    for i in range(layers):
        w = TensorProto(name=f"W{i}", data_type=TensorProto.FLOAT, dims=[width, width])
        w.data_location = TensorProto.EXTERNAL
        for key, value in (("location", data.name), ("offset", str(i * per)), ("length", str(per))):
            entry = w.external_data.add()
            entry.key, entry.value = key, value
        inits.append(w)
        graph_nodes.append(helper.make_node("MatMul", [cur, f"W{i}"], [f"h{i}"], name=f"fc{i}"))
        graph_nodes.append(helper.make_node("Relu", [f"h{i}"], [f"a{i}"], name=f"relu{i}"))
        cur = f"a{i}"
    graph = helper.make_graph(
        graph_nodes,
        "big_weights",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, [1, width])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path.write_bytes(model.SerializeToString())
    with open(data, "wb") as handle:
        handle.truncate(layers * per)  # sparse: no blocks allocated
    return layers * per


#: runs argv[1:] (`-m module args…` or `-c code args…`) and writes this process's peak RSS
#: (VmHWM: the peak of this process image; getrusage's ru_maxrss would include the RSS the
#: parent had when it forked) to the file named by TRTFORGE_BENCH_HWM. trt-check leaves with
#: os._exit (no atexit handlers), so that is wrapped too; a process it forks (shape inference
#: runs in a child for large models) writes its own peak to the same name + ".child".
HWM_WRAPPER = """
import atexit, os, runpy, sys

_main_pid, _real_exit = os.getpid(), os._exit

def _hwm():
    path = os.environ["TRTFORGE_BENCH_HWM"] + ("" if os.getpid() == _main_pid else ".child")
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(path, "w") as out:
                    out.write(line.split()[1])

def _exit(code):
    _hwm()
    _real_exit(code)

atexit.register(_hwm)
os._exit = _exit
mode, target, *rest = sys.argv[1:]
sys.argv = [target, *rest]
if mode == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<bench>", "exec"), {"__name__": "__main__"})
"""

PHASES = """
import json, sys, time
clock = time.perf_counter  # wall: shape inference overlaps reading the graph (a forked child)
t0 = clock()
from trtforge.analyzer.loading import load_model
from trtforge.analyzer.backends.static import check_static
from trtforge.analyzer.reports import render
from trtforge.analyzer.targets import parse_target
t1 = clock()
loaded = load_model(sys.argv[1])
t2 = clock()
report = check_static(loaded, parse_target(sys.argv[2]))
t3 = clock()
text = render(report, "json")
t4 = clock()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "check": t3 - t2, "render": t4 - t3,
                  "nodes": len(report.nodes), "supported": report.supported}))
"""

PARSER = """
import json, sys, time
t0 = time.perf_counter()
import tensorrt_rtx as trt
t1 = time.perf_counter()
logger = trt.Logger(trt.Logger.ERROR)
builder = trt.Builder(logger)
network = builder.create_network(0)
parser = trt.OnnxParser(network, logger)
ok = parser.parse_from_file(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "parse": t2 - t1, "ok": bool(ok),
                  "errors": parser.num_errors, "layers": network.num_layers,
                  "version": trt.__version__}))
"""


def measure(argv: list[str], timeout: float = 900) -> dict:
    """Runs `python -m …` / `python -c …` (argv without the interpreter) in a subprocess.

    Returns wall seconds, CPU seconds (user + system of the process and of the children it
    reaped, from os.wait4), peak RSS in MiB (VmHWM
    of the child), exit status and stdout.
    """
    hwm = tempfile.NamedTemporaryFile(prefix="hwm-", delete=False)
    hwm.close()
    env = dict(os.environ, TRTFORGE_BENCH_HWM=hwm.name)
    out_file = tempfile.TemporaryFile(mode="w+")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", HWM_WRAPPER, *argv],
        stdout=out_file,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    deadline = start + timeout
    rc: int | str
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            rc = os.waitstatus_to_exitcode(status)
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            rc = "timeout"
            break
        time.sleep(0.005)
    wall = time.perf_counter() - start
    proc.returncode = rc if isinstance(rc, int) else -9
    out_file.seek(0)
    text = Path(hwm.name).read_text().strip()
    os.unlink(hwm.name)
    child = Path(hwm.name + ".child")
    child_text = child.read_text().strip() if child.exists() else ""
    child.unlink(missing_ok=True)
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": int(text) / 1024 if text else None,
        "child_rss_mib": int(child_text) / 1024 if child_text else None,
        "rc": rc,
        "out": out_file.read(),
    }


def _last_json(text: str) -> dict | None:
    """The last line of `text` that is a JSON object (libraries may print before it)."""
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def repeated(argv: list[str], runs: int) -> dict:
    """`measure` `runs` times: medians of wall, CPU, peak RSS and of every number the command
    printed as JSON (under "json"; empty when a run failed); rc of the last run."""
    results = [measure(argv) for _ in range(max(1, runs))]
    out = dict(results[-1])
    for key in ("wall", "cpu"):
        out[key] = statistics.median(r[key] for r in results)
    for key in ("rss_mib", "child_rss_mib"):
        rss = [r[key] for r in results if r[key] is not None]
        out[key] = statistics.median(rss) if rss else None
    printed = [_last_json(r["out"]) for r in results if r["rc"] == 0]
    printed = [p for p in printed if p is not None]
    merged: dict = {}
    if len(printed) == len(results):
        merged = dict(printed[-1])
        for key, value in merged.items():
            if isinstance(value, float):
                merged[key] = statistics.median(p[key] for p in printed)
    out["json"] = merged
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--dir", help="scratch folder (default: a temporary one)")
    parser.add_argument("--no-parser", action="store_true", help="skip the TensorRT-RTX parser")
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure (median)")
    args = parser.parse_args()

    scratch = Path(args.dir or tempfile.mkdtemp(prefix="trtforge-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    many = scratch / "nodes-100k.onnx"
    big = scratch / "weights-3g.onnx"
    small = scratch / "weights-small.onnx"
    blocks = scratch / "blocks-100k.onnx"
    common = scratch / "common-100k.onnx"
    n = make_many_nodes(many, args.nodes)
    nc = make_common_ops(common, args.nodes)
    nb = make_repeated_blocks(blocks, args.nodes)
    ext = make_big_weights(big)
    ext_small = make_big_weights(small, width=256)
    models = [
        (f"{n:,} nodes ({many.stat().st_size / 2**20:.1f} MiB file)", many),
        (
            f"{nc:,} nodes: a chain of common ops ({common.stat().st_size / 2**20:.1f} MiB file)",
            common,
        ),
        (
            f"{nb:,} nodes: repeated transformer blocks "
            f"({blocks.stat().st_size / 2**20:.1f} MiB file)",
            blocks,
        ),
        (f"24 nodes + {ext / 2**30:.1f} GiB external data (sparse)", big),
        (f"same 24 nodes + {ext_small / 2**20:.1f} MiB external data", small),
    ]
    has_rtx = False
    if not args.no_parser:
        import importlib.util

        has_rtx = importlib.util.find_spec("tensorrt_rtx") is not None

    rows = []
    for label, path in models:
        out = scratch / (path.stem + ".json")
        cli_argv = ["-m", "trtforge.analyzer.cli.check", str(path), "--backend", "static"]
        cli_argv += ["--target", TARGET, "--format", "json", "-o", str(out)]
        cli = repeated(cli_argv, args.repeat)
        phases = repeated(["-c", PHASES, str(path), TARGET], args.repeat)
        row = {
            "model": label,
            "cli": cli,
            "phases": phases["json"],
            "phases_rss": phases["rss_mib"],
        }
        if has_rtx:
            rtx = repeated(["-c", PARSER, str(path)], args.repeat)
            row["parser"] = rtx
            row["parser_info"] = rtx["json"]
        rows.append(row)
        print(json.dumps(row, default=str), file=sys.stderr)

    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"python {platform.python_version()}, onnx {onnx.__version__}, {os.cpu_count()} cores")
    print(f"each figure: median of {args.repeat} run(s)")
    print()
    print(
        "| model | trt-check static (CLI): wall / CPU | peak RSS (+ inference child) | in-process "
        "wall: load + check + render | TensorRT-RTX parser: wall / CPU | of which parse (wall) "
        "| peak RSS |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        cli, ph = row["cli"], row["phases"]
        inproc = (
            f"{ph['load']:.2f} + {ph['check']:.2f} + {ph['render']:.2f} "
            f"= {ph['load'] + ph['check'] + ph['render']:.2f} s"
            if ph
            else "failed"
        )
        if "parser" in row:
            p, info = row["parser"], row["parser_info"]
            parse = (
                f"{info['parse']:.2f} s ({'ok' if info.get('ok') else 'failed'}, "
                f"{info.get('layers', 0):,} layers)"
                if info
                else f"failed (exit {p['rc']})"
            )
            parser_cols = (
                f"{p['wall']:.2f} s / {p['cpu']:.2f} s | {parse} | {p['rss_mib'] or 0:.0f} MiB"
            )
        else:
            parser_cols = "not installed | – | –"
        rss = f"{cli['rss_mib'] or 0:.0f} MiB"
        if cli.get("child_rss_mib"):
            rss += f" (+ {cli['child_rss_mib']:.0f} MiB)"
        print(
            f"| {row['model']} | {cli['wall']:.2f} s / {cli['cpu']:.2f} s (exit {cli['rc']}) | "
            f"{rss} | {inproc} | {parser_cols} |"
        )


if __name__ == "__main__":
    main()
