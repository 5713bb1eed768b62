"""Fuzz and abuse campaign for trt-check (static and parser backends), trt-rewrite and trt-build.

Each case builds a folder `case/in/` (a model, maybe external data, links, FIFOs) and
`case/out/` (maybe a device node, FIFO, socket, link or directory where an output goes), runs
one command on it, and checks what a user must be able to rely on:

- no traceback and no exit 3 (internal error), no `KeyboardInterrupt` text;
- no death by a signal we did not send, no hang (a timeout per case);
- the exit code is one the command documents (0/1/2, or 128+N after our signal N);
- after a failure, `case/out/` is exactly as before (nothing written, no temporary left, a
  device/FIFO/socket/link still what it was); after a success, every output is a complete
  regular file with the umask's mode, a rewritten model passes `onnx.checker`, a JSON report
  validates against the shipped schema, text reports carry no raw control characters;
- `case/in/` is unchanged (every file's bytes and kind);
- nothing outside the case folder was opened: an audit hook in the child records every
  `open` under the campaign's folder (in-process runs), and bait files beside the cases have
  their access time watched (every run, subprocess ones and the TensorRT worker included).

Categories: `bytes` (byte-level mutations of small models), `struct` (protobuf field
changes), `extdata` (external data abuse), `outpath` (special output paths and injected disk
errors), `signal` (SIGINT/SIGTERM/SIGHUP/SIGKILL during writes), `text` (hostile names in
every report format). Most cases run in a child forked from a parent that imported
everything once (the CLI's `main()` called in-process, as its console script would); a share
runs the real console scripts as subprocesses; trt-build always runs as a subprocess.

    python benchmarks/fuzz.py -n 10000 --seed 1 --out /tmp/fuzz --results fuzz.json

Do not edit, merge or check out the source tree while a campaign runs: forked children import
what the parent has not imported yet from the tree as it is at that moment.

The CI test (tests/test_fuzz.py) runs a few hundred cases of the same generators.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import errno
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BIN = Path(sys.executable).parent
HOSTILE = [
    "\x1b[31mred\x1b[0m",
    "line\nbreak",
    "a|b|c",
    "<script>alert(1)</script>",
    "\x1b]0;title\x07",
    "back\rspace\x08",
    "\u202eevil",
    "nul\x00byte",
    "tab\tname",
    "`code` **bold** [x](y)",
    "x" * 5000,
    "\x9bcsi",
    "名前",
    "",
]
BAD_TYPES = [0, -1, 99, 255, 12345, 17, 16, 23, 25, 8, 2**31 - 1]
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


# --- seed models ---------------------------------------------------------------------------


def _ln(width: int = 8) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, width])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3, width])
    inits = [
        numpy_helper.from_array(rng.standard_normal(width).astype(np.float32), "gamma"),
        numpy_helper.from_array(rng.standard_normal(width).astype(np.float32), "beta"),
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
        numpy_helper.from_array(np.array(1e-5, np.float32), "eps"),
        numpy_helper.from_array(np.array([-1], np.int64), "axes"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], "rm1", axes=[-1]),
        helper.make_node("Sub", ["x", "mean"], ["d"], "sub"),
        helper.make_node("Pow", ["d", "two"], ["p"], "pow"),
        helper.make_node("ReduceMean", ["p"], ["var"], "rm2", axes=[-1]),
        helper.make_node("Add", ["var", "eps"], ["e"], "add_eps"),
        helper.make_node("Sqrt", ["e"], ["s"], "sqrt"),
        helper.make_node("Div", ["d", "s"], ["n"], "div"),
        helper.make_node("Mul", ["n", "gamma"], ["y"], "mul"),
        helper.make_node("Add", ["y", "beta"], ["z"], "add_beta"),
    ]
    graph = helper.make_graph(nodes, "ln", [x], [z], inits[:4])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _relu_add(n: int = 64) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.arange(n, dtype=np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Add", ["x", "w"], ["s"], "add"),
            helper.make_node("Relu", ["s"], ["y"], "relu"),
        ],
        "ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])],
        [w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _topk() -> onnx.ModelProto:
    graph = helper.make_graph(
        [
            helper.make_node("TopK", ["x", "k"], ["v", "i"], "topk", axis=-1),
            helper.make_node("Transpose", ["v"], ["t"], "tr", perm=[1, 0]),
        ],
        "topk",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, "n"]),
            helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
        ],
        [
            helper.make_tensor_value_info("t", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("i", TensorProto.INT64, None),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _if_model() -> onnx.ModelProto:
    def branch(name, op):
        return helper.make_graph(
            [helper.make_node(op, ["x"], [f"{name}_y"], f"{name}_n")],
            name,
            [],
            [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, [4])],
        )

    graph = helper.make_graph(
        [
            helper.make_node(
                "If",
                ["c"],
                ["y"],
                "if",
                then_branch=branch("then", "Relu"),
                else_branch=branch("else", "Neg"),
            )
        ],
        "ifg",
        [
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _conv() -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "cw")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "cw"], ["c"], "conv", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"], "relu"),
            helper.make_node("GlobalAveragePool", ["r"], ["y"], "gap"),
        ],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 1, 1])],
        [w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _gelu() -> onnx.ModelProto:
    consts = [
        numpy_helper.from_array(np.array(v, np.float32), n)
        for n, v in (("sq2", 1.4142135), ("one", 1.0), ("half", 0.5))
    ]
    graph = helper.make_graph(
        [
            helper.make_node("Div", ["x", "sq2"], ["a"], "div"),
            helper.make_node("Erf", ["a"], ["b"], "erf"),
            helper.make_node("Add", ["b", "one"], ["c"], "add"),
            helper.make_node("Mul", ["x", "c"], ["d"], "mul"),
            helper.make_node("Mul", ["d", "half"], ["y"], "mul2"),
        ],
        "gelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, "s", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, "s", 16])],
        consts,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _qdq() -> onnx.ModelProto:
    """A quantized layer as onnxruntime writes it: Q/DQ of the activation (per-tensor scale
    and zero point), DQ of the weight (per-channel), MatMul, and an EyeLike fed by a custom
    op (whose untyped output crashes ONNX's inference)."""
    rng = np.random.default_rng(2)
    inits = [
        numpy_helper.from_array(np.array(0.05, np.float32), "sx"),
        numpy_helper.from_array(np.array(0, np.int8), "zx"),
        numpy_helper.from_array(rng.integers(-8, 8, (4, 4)).astype(np.int8), "wq"),
        numpy_helper.from_array(np.full(4, 0.02, np.float32), "sw"),
        numpy_helper.from_array(np.zeros(4, np.int8), "zw"),
    ]
    graph = helper.make_graph(
        [
            helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["q"], "q"),
            helper.make_node("DequantizeLinear", ["q", "sx", "zx"], ["dq"], "dq"),
            helper.make_node("DequantizeLinear", ["wq", "sw", "zw"], ["w"], "dqw", axis=1),
            helper.make_node("MatMul", ["dq", "w"], ["y"], "mm"),
            helper.make_node("Custom", ["x"], ["c"], "custom", domain="my.domain"),
            helper.make_node("EyeLike", ["c"], ["e"], "eye", dtype=TensorProto.FLOAT),
        ],
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 4]),
            helper.make_tensor_value_info("e", TensorProto.FLOAT, [4, 4]),
        ],
        inits,
    )
    opsets = [helper.make_opsetid("", 21), helper.make_opsetid("my.domain", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=10)


SEEDS = {
    "ln": _ln,
    "relu_add": _relu_add,
    "topk": _topk,
    "if": _if_model,
    "conv": _conv,
    "gelu": _gelu,
    "qdq": _qdq,
}
_SEED_CACHE: dict[str, bytes] = {}


def seed_bytes(name: str) -> bytes:
    if name not in _SEED_CACHE:
        _SEED_CACHE[name] = SEEDS[name]().SerializeToString()
    return _SEED_CACHE[name]


def seed_model(name: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    model.ParseFromString(seed_bytes(name))
    return model


# --- mutations -----------------------------------------------------------------------------


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            break
        kind = rng.choice(["flip", "flip", "truncate", "insert", "delete", "dup", "fill", "head"])
        i = rng.randrange(len(buf))
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                j = rng.randrange(len(buf))
                buf[j] = rng.randrange(256)
        elif kind == "truncate":
            del buf[i:]
        elif kind == "insert":
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        elif kind == "delete":
            del buf[i : i + rng.randint(1, 32)]
        elif kind == "dup":
            j = rng.randrange(len(buf))
            buf[i:i] = buf[j : j + rng.randint(1, 64)]
        elif kind == "fill":
            buf[i : i + rng.randint(1, 16)] = bytes([rng.choice([0, 0xFF, 0x80])]) * len(
                buf[i : i + rng.randint(1, 16)]
            )
        else:  # the header: ir_version, producer, opset fields live at the start
            for _ in range(rng.randint(1, 4)):
                j = rng.randrange(min(len(buf), 48))
                buf[j] = rng.randrange(256)
    return bytes(buf)


def _nodes(model):
    return list(model.graph.node)


def _all_values(model):
    g = model.graph
    return list(g.input) + list(g.output) + list(g.value_info)


def _m_elem_type(rng, model):
    values = _all_values(model)
    if values and rng.random() < 0.6:
        rng.choice(values).type.tensor_type.elem_type = rng.choice(BAD_TYPES)
    elif model.graph.initializer:
        rng.choice(model.graph.initializer).data_type = rng.choice(BAD_TYPES)


def _m_drop_input(rng, model):
    nodes = [n for n in _nodes(model) if n.input]
    if nodes:
        node = rng.choice(nodes)
        i = rng.randrange(len(node.input))
        node.input[i] = rng.choice(["", "ghost", node.output[0] if node.output else "x"])


def _m_cycle(rng, model):
    nodes = _nodes(model)
    if len(nodes) >= 2:
        i = rng.randrange(len(nodes) - 1)
        j = rng.randrange(i, len(nodes))
        if nodes[i].input and nodes[j].output:
            model.graph.node[i].input[0] = nodes[j].output[0]


def _m_dup_output(rng, model):
    nodes = _nodes(model)
    if len(nodes) >= 2:
        a, b = rng.sample(range(len(nodes)), 2)
        if nodes[a].output and nodes[b].output:
            model.graph.node[a].output[0] = nodes[b].output[0]


def _m_attr(rng, model):
    nodes = _nodes(model)
    if not nodes:
        return
    node = rng.choice(model.graph.node)
    choice = rng.randrange(5)
    if choice == 0 and node.attribute:
        attr = rng.choice(node.attribute)
        attr.type = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 0, 99])
    elif choice == 1:
        node.attribute.append(helper.make_attribute("perm", [5, 7]))
    elif choice == 2:
        node.attribute.append(helper.make_attribute("axis", rng.choice([-(2**40), 99, 2**62])))
    elif choice == 3:
        node.attribute.append(helper.make_attribute("then_branch", 3))
    else:
        node.attribute.append(helper.make_attribute(rng.choice(HOSTILE) or "a", "s"))


def _m_opset(rng, model):
    choice = rng.randrange(4)
    if choice == 0:
        del model.opset_import[:]
    elif choice == 1 and model.opset_import:
        model.opset_import[0].version = rng.choice([0, -1, 1, 5, 99, 10**6, 2**62])
    elif choice == 2:
        model.opset_import.append(helper.make_opsetid(rng.choice(HOSTILE + ["ai.onnx"]), 1))
    else:
        model.opset_import.append(helper.make_opsetid("", rng.choice([13, 17])))


def _m_ir(rng, model):
    model.ir_version = rng.choice([0, -1, 1, 2, 3, 99, 2**40])


def _m_op_type(rng, model):
    nodes = _nodes(model)
    if nodes:
        node = rng.choice(model.graph.node)
        if rng.random() < 0.6:
            node.op_type = rng.choice(
                HOSTILE + ["NotAnOp", "Loop", "Scan", "If", "TopK", "NonZero", "Attention"]
            )
        else:
            node.domain = rng.choice(HOSTILE + ["com.microsoft", "ai.onnx.ml", "trtforge"])


def _m_names(rng, model):
    nodes = _nodes(model)
    for node in model.graph.node:
        if rng.random() < 0.5:
            node.name = rng.choice(HOSTILE)
    if nodes and rng.random() < 0.5:
        model.graph.name = rng.choice(HOSTILE)
    if rng.random() < 0.3:
        model.producer_name = rng.choice(HOSTILE)
    if rng.random() < 0.3:
        model.doc_string = rng.choice(HOSTILE)


def _m_rename_tensor(rng, model):
    name = rng.choice(HOSTILE[:-1])
    values = [v for v in model.graph.input]
    if not values:
        return
    old = rng.choice(values).name
    for v in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        if v.name == old:
            v.name = name
    for node in model.graph.node:
        for i, x in enumerate(node.input):
            if x == old:
                node.input[i] = name


def _m_dims(rng, model):
    values = _all_values(model)
    if not values:
        return
    shape = rng.choice(values).type.tensor_type.shape
    if shape.dim:
        dim = rng.choice(shape.dim)
        if rng.random() < 0.7:
            dim.dim_value = rng.choice([-5, 0, 1, 2**40, 2**62])
        else:
            dim.dim_param = rng.choice(HOSTILE)
    else:
        for _ in range(rng.randint(1, 40)):
            shape.dim.add().dim_value = 1


def _m_init_data(rng, model):
    if not model.graph.initializer:
        return
    t = rng.choice(model.graph.initializer)
    choice = rng.randrange(5)
    if choice == 0 and t.raw_data:
        t.raw_data = t.raw_data[: rng.randrange(len(t.raw_data) + 1)]
    elif choice == 1:
        del t.dims[:]
        t.dims.extend(rng.choice([[2, 2], [-1], [0], [2**31, 2**31], [1] * 9]))
    elif choice == 2:
        t.raw_data = b"\x01"
        del t.float_data[:]
    elif choice == 3:
        t.float_data.extend([1.0, 2.0])
    else:
        model.graph.initializer.append(t)  # a duplicate name


def _m_if_attr(rng, model):
    inner = helper.make_graph(
        [helper.make_node("Relu", ["nope"], ["o"], "inner")],
        rng.choice(HOSTILE) or "g",
        [],
        [helper.make_tensor_value_info("o", TensorProto.FLOAT, None)],
    )
    node = helper.make_node(
        rng.choice(["If", "Loop", "Scan"]), ["c"], ["yy"], "ctl", then_branch=inner
    )
    if rng.random() < 0.5:
        node.attribute.append(helper.make_attribute("else_branch", rng.choice([1, 2.0, "s"])))
    model.graph.node.append(node)


def _m_deep(rng, model):
    depth = rng.choice([20, 60, 99, 120, 300])
    out = helper.make_tensor_value_info("d0", TensorProto.FLOAT, [1])
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["d0"], "leaf")], "leaf", [], [out])
    leaf = g
    for i in range(depth):  # only then_branch nests (both would double the size per level)
        o = f"d{i + 1}"
        node = helper.make_node("If", ["c"], [o], f"if{i}", then_branch=g, else_branch=leaf)
        g = helper.make_graph(
            [node], f"g{i}", [], [helper.make_tensor_value_info(o, TensorProto.FLOAT, [1])]
        )
    model.graph.node.append(g.node[0])


def _m_many_inputs(rng, model):
    nodes = _nodes(model)
    if nodes:
        node = rng.choice(model.graph.node)
        node.input.extend([node.input[0] if node.input else "x"] * rng.choice([10, 1000]))


def _m_function(rng, model):
    fn = helper.make_function(
        "local",
        "Self",
        ["a"],
        ["b"],
        [helper.make_node("Self", ["a"], ["b"], domain="local")],
        [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)],
    )
    model.functions.append(fn)
    model.opset_import.append(helper.make_opsetid("local", 1))
    if model.graph.node:
        model.graph.node[0].op_type, model.graph.node[0].domain = "Self", "local"


def _m_remove_io(rng, model):
    target = rng.choice([model.graph.input, model.graph.output])
    if target:
        del target[rng.randrange(len(target))]


def _m_sparse(rng, model):
    sp = model.graph.sparse_initializer.add()
    sp.values.CopyFrom(numpy_helper.from_array(np.ones(3, np.float32), "sp"))
    sp.indices.CopyFrom(numpy_helper.from_array(np.array([0, 9, 2**40], np.int64), "spi"))
    sp.dims.extend(rng.choice([[4], [2, 2], [-3]]))


MUTATORS = [
    _m_elem_type,
    _m_drop_input,
    _m_cycle,
    _m_dup_output,
    _m_attr,
    _m_opset,
    _m_ir,
    _m_op_type,
    _m_names,
    _m_rename_tensor,
    _m_dims,
    _m_init_data,
    _m_if_attr,
    _m_deep,
    _m_many_inputs,
    _m_function,
    _m_remove_io,
    _m_sparse,
]


def mutate_struct(rng: random.Random, model: onnx.ModelProto) -> bytes:
    for _ in range(rng.randint(1, 3)):
        rng.choice(MUTATORS)(rng, model)
    return model.SerializeToString()


# --- cases ---------------------------------------------------------------------------------


@dataclass
class Case:
    """One run: what was set up, the command, and what is expected of it."""

    index: int
    category: str
    tool: str  # check-static, check-parser, rewrite, build
    mode: str  # fork or subprocess
    detail: str = ""
    argv: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)  # paths the command may write
    fmt: str | None = None  # trt-check's --format
    signal: int | None = None
    signal_at: str = "temp"  # "temp": when a temporary appears; else a delay in seconds
    fault: dict | None = None  # injected OSError (fork mode only)
    success_codes: tuple = (0, 1)
    report: str | None = None  # trt-rewrite's --report, written also when verification fails


def _failure_report(path: str) -> bool:
    """True for a trt-rewrite report of a failed verification (exit 1): the command writes it
    on purpose, saying which output differed, with `"written": false` (the model is not)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(data, dict)
        and data.get("written") is False
        and data.get("verification", {}).get("ok") is False
    )


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _external(model: onnx.ModelProto, name: str, location: str, **extra) -> None:
    """Moves initializer `name`'s data to `location` (entries overridable by `extra`)."""
    for t in model.graph.initializer:
        if t.name == name:
            raw = numpy_helper.to_array(t).tobytes()
            t.ClearField("float_data")
            t.ClearField("raw_data")
            t.data_location = TensorProto.EXTERNAL
            entries = {"location": location, "offset": "0", "length": str(len(raw))}
            entries.update(extra)
            for k, v in entries.items():
                e = t.external_data.add()
                e.key, e.value = k, v
            return raw
    return b""


class Campaign:
    """Makes case folders under `root` and judges runs."""

    def __init__(self, root: Path, seed: int, weights: dict | None = None) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.secret = root / "secret"
        self.secret.mkdir(parents=True, exist_ok=True)
        self.bait = [self.secret / "s.bin", self.secret / "model.onnx"]
        self.bait[0].write_bytes(np.arange(1024, dtype=np.float32).tobytes())
        self.bait[1].write_bytes(seed_bytes("relu_add"))
        self.umask = os.umask(0)
        os.umask(self.umask)
        self.weights = weights or {
            "bytes": 0.22,
            "struct": 0.30,
            "extdata": 0.16,
            "outpath": 0.16,
            "signal": 0.08,
            "text": 0.08,
        }
        # parser, build and subprocess cases cost 20-50 times more CPU (a TensorRT import each)
        self.tool_weights = {"check-static": 0.56, "rewrite": 0.43, "check-parser": 0.01}
        self.build_share = 0.003
        self.subprocess_share = 0.006
        self.has_trt = _has_rtx()

    # -- choosing -----------------------------------------------------------------------
    def make(self, index: int) -> Case:
        rng = self.rng
        category = rng.choices(list(self.weights), list(self.weights.values()))[0]
        tools = dict(self.tool_weights)
        if not self.has_trt:
            tools.pop("check-parser", None)
        tool = rng.choices(list(tools), list(tools.values()))[0]
        if self.has_trt and category in ("bytes", "struct", "extdata", "outpath"):
            if rng.random() < self.build_share / 0.8:
                tool = "build"
        if category == "signal":
            tool = rng.choice(["rewrite", "rewrite", "check-static"])
        mode = "fork"
        if tool == "build" or rng.random() < self.subprocess_share:
            mode = "subprocess"
        case = Case(index, category, tool, mode)
        folder = self.root / f"case{index}"
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "in").mkdir(parents=True)
        (folder / "out").mkdir()
        model = getattr(self, f"_setup_{category}")(case, folder)
        self._command(case, folder, model)
        return case

    def _model_file(self, folder: Path, data: bytes, name: str = "model.onnx") -> Path:
        path = folder / "in" / name
        _write(path, data)
        return path

    def _setup_bytes(self, case, folder):
        seed = self.rng.choice(list(SEEDS))
        case.detail = seed
        return self._model_file(folder, mutate_bytes(self.rng, seed_bytes(seed)))

    def _setup_struct(self, case, folder):
        seed = self.rng.choice(list(SEEDS))
        model = seed_model(seed)
        for _ in range(5):
            try:
                data = mutate_struct(self.rng, model)
                break
            except Exception:  # noqa: BLE001 - a mutation protobuf itself refuses
                model = seed_model(seed)
        else:
            data = seed_bytes(seed)
        case.detail = seed
        return self._model_file(folder, data)

    def _setup_text(self, case, folder):
        seed = self.rng.choice(["topk", "ln", "if", "relu_add", "gelu"])
        model = seed_model(seed)
        _m_names(self.rng, model)
        for node in model.graph.node:
            node.name = self.rng.choice(HOSTILE)
        if self.rng.random() < 0.5:
            _m_op_type(self.rng, model)
        if self.rng.random() < 0.3:
            _m_rename_tensor(self.rng, model)
        name = self.rng.choice(["model.onnx", "m\x1b[2Jodel.onnx", "a|b\n.onnx", "<b>.onnx"])
        case.detail = f"{seed} {name!r}"
        return self._model_file(folder, model.SerializeToString(), name)

    def _setup_extdata(self, case, folder):
        rng = self.rng
        seed = rng.choice(["relu_add", "ln", "conv"])
        model = seed_model(seed)
        name = model.graph.initializer[0].name
        fin = folder / "in"
        variant = rng.choice(
            [
                "ok",
                "missing",
                "short",
                "parent",
                "absolute",
                "link-out",
                "link-in",
                "link-loop",
                "self-loop",
                "hardlink",
                "huge-location",
                "nul",
                "dir",
                "fifo",
                "dev",
                "offset-huge",
                "offset-negative",
                "offset-text",
                "length-huge",
                "length-negative",
                "model-itself",
                "no-entries",
                "raw-too",
                "dup-keys",
            ]
        )
        case.detail = f"{seed} {variant}"
        raw = _external(model, name, "w.bin")
        loc = "w.bin"
        data_file = fin / "w.bin"
        data_file.write_bytes(raw)
        t = model.graph.initializer[0]

        def set_entry(key, value):
            for e in t.external_data:
                if e.key == key:
                    e.value = value
                    return
            e = t.external_data.add()
            e.key, e.value = key, value

        if variant == "missing":
            data_file.unlink()
        elif variant == "short":
            data_file.write_bytes(raw[: rng.randrange(len(raw))])
        elif variant == "parent":
            loc = "../../secret/s.bin"
        elif variant == "absolute":
            loc = str(rng.choice(self.bait))
        elif variant == "link-out":
            os.symlink(self.bait[0], fin / "link.bin")
            loc = "link.bin"
        elif variant == "link-in":
            os.symlink("w.bin", fin / "link.bin")
            loc = "link.bin"
        elif variant == "link-loop":
            os.symlink("b.bin", fin / "a.bin")
            os.symlink("a.bin", fin / "b.bin")
            loc = "a.bin"
        elif variant == "self-loop":
            os.symlink("self.bin", fin / "self.bin")
            loc = "self.bin"
        elif variant == "hardlink":
            os.link(data_file, fin / "hard.bin")
            loc = rng.choice(["hard.bin", "w.bin"])
        elif variant == "huge-location":
            loc = "a" * rng.choice([300, 5000, 100_000])
        elif variant == "nul":
            loc = "w.bin\x00../../secret/s.bin"
        elif variant == "dir":
            (fin / "d").mkdir()
            loc = rng.choice(["d", ".", ""])
        elif variant == "fifo":
            os.mkfifo(fin / "f.bin")
            loc = "f.bin"
        elif variant == "dev":
            loc = rng.choice(["/dev/zero", "/dev/urandom", "/proc/self/mem"])
        elif variant == "offset-huge":
            set_entry("offset", str(rng.choice([2**40, 2**63, 10**30])))
        elif variant == "offset-negative":
            set_entry("offset", "-8")
        elif variant == "offset-text":
            set_entry("offset", rng.choice(["abc", "1e3", "", " 4"]))
        elif variant == "length-huge":
            set_entry("length", str(rng.choice([2**40, 2**63, 10**30])))
        elif variant == "length-negative":
            set_entry("length", "-1")
        elif variant == "model-itself":
            loc = "model.onnx"
        elif variant == "no-entries":
            del t.external_data[:]
        elif variant == "raw-too":
            t.raw_data = raw
        elif variant == "dup-keys":
            e = t.external_data.add()
            e.key, e.value = "location", "../../secret/s.bin"
        set_entry("location", loc)
        return self._model_file(folder, model.SerializeToString())

    def _setup_outpath(self, case, folder):
        seed = self.rng.choice(["ln", "relu_add", "topk", "gelu"])
        case.detail = seed
        return self._model_file(folder, seed_bytes(seed))

    def _setup_signal(self, case, folder):
        seed = self.rng.choice(["big_ln", "relu_add", "ln"])
        case.detail = seed
        if seed == "big_ln":
            if "big_ln" not in _SEED_CACHE:
                _SEED_CACHE["big_ln"] = _ln(1 << 19).SerializeToString()  # 4 MiB of weights
            return self._model_file(folder, _SEED_CACHE["big_ln"])
        return self._model_file(folder, seed_bytes(seed))

    # -- the command ----------------------------------------------------------------------
    def _special_output(self, case, folder, base: str) -> str:
        """An output path for the `outpath` category: something trtforge must refuse or write
        as a regular file."""
        rng = self.rng
        out = folder / "out"
        kind = rng.choice(
            [
                "chardev",
                "fulldev",
                "fifo",
                "socket",
                "dir",
                "link-file",
                "link-out",
                "link-dangling",
                "missing-parent",
                "parent-file",
                "existing",
                "long-name",
                "empty",
                "odd-name",
                "input",
                "fault",
                "fault",
                "fault",
            ]
        )
        path = out / base
        case.detail += f" {kind}"
        if kind == "chardev":
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        elif kind == "fulldev":
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "socket":
            sock = socket.socket(socket.AF_UNIX)
            try:
                sock.bind(str(path))
            except OSError:
                path.write_bytes(b"")
            finally:
                sock.close()
        elif kind == "dir":
            path.mkdir()
        elif kind == "link-file":
            (out / "target.bin").write_bytes(b"old")
            os.symlink("target.bin", path)
        elif kind == "link-out":
            os.symlink(self.bait[0], path)
        elif kind == "link-dangling":
            os.symlink("nowhere/none", path)
        elif kind == "missing-parent":
            path = out / "nope" / base
        elif kind == "parent-file":
            (out / "file").write_bytes(b"x")
            path = out / "file" / base
        elif kind == "existing":
            path.write_bytes(b"old contents")
        elif kind == "long-name":
            path = out / ("n" * rng.choice([200, 250, 300]) + base)
        elif kind == "empty":
            return ""
        elif kind == "odd-name":
            path = out / rng.choice(["a\nb", "\x1b[31m", "-o", " ", "x|y", "名"])
        elif kind == "input":
            return "INPUT"
        elif kind == "fault":
            case.fault = {
                "errno": rng.choice([errno.EACCES, errno.EROFS, errno.ENOSPC, errno.EDQUOT]),
                "call": rng.choice(["open", "fsync", "replace", "write", "mkdir"]),
                "nth": rng.choice([1, 1, 2, 3]),
                "under": str(out),
            }
            if case.mode != "fork":
                case.fault = None
        return str(path)

    def _command(self, case: Case, folder: Path, model: Path) -> None:
        rng = self.rng
        out = folder / "out"
        outpath = case.category == "outpath"
        if case.tool.startswith("check"):
            backend = "parser" if case.tool == "check-parser" else "static"
            fmt = rng.choice(["text", "json", "sarif", "markdown"])
            case.fmt = fmt
            argv = [str(model), "--backend", backend, "--format", fmt]
            argv += [
                "--target",
                "rtx-1" if backend == "parser" else rng.choice(["trt-10", "trt-11", "rtx-1"]),
            ]
            if rng.random() < 0.4:
                argv.append("--no-advice")
            if outpath or case.category == "signal" or rng.random() < 0.6:
                target = (
                    self._special_output(case, folder, "report.txt")
                    if outpath
                    else str(out / "report.txt")
                )
                if target == "INPUT":
                    target = str(model)
                argv += ["-o", target]
                case.outputs = [target]
        elif case.tool == "rewrite":
            argv = [str(model)]
            target = (
                self._special_output(case, folder, "m.onnx") if outpath else str(out / "m.onnx")
            )
            if target == "INPUT":
                target = str(model)
            argv += ["-o", target]
            case.outputs = [target, target + ".data"]
            passes = rng.choice(
                [["--auto"], ["--fuse-layernorm"], ["--fold-constants"], ["--auto", "--fuse-gelu"]]
            )
            argv += passes
            if case.category == "signal" or rng.random() < 0.6:
                argv.append("--no-verify")
            if rng.random() < 0.4:
                report = str(out / "r.json")
                if outpath and rng.random() < 0.5:
                    # the special path goes to --report instead, the model to a plain path
                    argv[2] = str(out / "m.onnx")
                    case.outputs = [argv[2], argv[2] + ".data"]
                    report = target if target != str(model) else str(out / "r.json")
                argv += ["--report", report]
                case.outputs.append(report)
                case.report = report
            argv += ["--target", rng.choice(["trt-10", "rtx-1"]), "-q"]
            case.success_codes = (0,)
        else:  # build
            argv = [str(model)]
            target = (
                self._special_output(case, folder, "m.plan") if outpath else str(out / "m.plan")
            )
            if target == "INPUT":
                target = str(model)
            argv += ["-o", target, "--flavour", "tensorrt_rtx", "--compute-capability", "89"]
            case.outputs = [target, target + ".json"]
            if rng.random() < 0.5:
                argv += ["--shapes", rng.choice(["x:1x2,3x4,5x6", "k:1,1,1", "x:bad", "zz:1,2,3"])]
            case.success_codes = (0,)
        case.argv = argv
        if case.category == "signal":
            case.signal = rng.choice(SIGNALS + [signal.SIGKILL])
            case.signal_at = "temp" if rng.random() < 0.6 else f"{rng.uniform(0, 1.5):.3f}"


def _has_rtx() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("tensorrt_rtx") is not None
    except Exception:  # noqa: BLE001
        return False


# --- running -------------------------------------------------------------------------------

MODULES = {
    "check-static": "trtforge.analyzer.cli.check",
    "check-parser": "trtforge.analyzer.cli.check",
    "rewrite": "trtforge.analyzer.cli.rewrite",
    "build": "trtforge.plugins.cli.build",
}
SCRIPTS = {
    "check-static": "trt-check",
    "check-parser": "trt-check",
    "rewrite": "trt-rewrite",
    "build": "trt-build",
}


def preimport() -> None:
    """Imports what the commands use, once, in the parent (children fork from it)."""
    import trtforge.analyzer.api  # noqa: F401
    import trtforge.analyzer.backends.static  # noqa: F401
    import trtforge.analyzer.cli.check  # noqa: F401
    import trtforge.analyzer.cli.rewrite  # noqa: F401
    import trtforge.analyzer.reports.json_report  # noqa: F401
    import trtforge.analyzer.reports.markdown_report  # noqa: F401
    import trtforge.analyzer.reports.sarif_report  # noqa: F401
    import trtforge.analyzer.reports.text_report  # noqa: F401
    import trtforge.analyzer.rewrite.manager  # noqa: F401
    import trtforge.analyzer.rewrite.registry as registry
    import trtforge.analyzer.rewrite.verify  # noqa: F401

    for pid in registry.all_passes():
        registry.get_pass(pid)
    # warm the caches (knowledge-base discovery, rich, onnxruntime) once, in the parent
    from trtforge.analyzer.api import check
    from trtforge.analyzer.reports import render
    from trtforge.analyzer.rewrite.base import RewriteOptions
    from trtforge.analyzer.rewrite.verify import verify
    from trtforge.analyzer.targets import parse_target

    for target in ("trt-10", "trt-11", "rtx-1"):
        for seed in ("topk", "ln", "if"):
            report = check(seed_model(seed), target=target, backend="static")
            for fmt in ("text", "json", "sarif", "markdown"):
                render(report, fmt)
    ln = seed_model("ln")
    result = trtforge.analyzer.rewrite.manager.rewrite_model(
        ln, ["fuse-layernorm"], RewriteOptions(parse_target("trt-10"))
    )
    verify(ln, result.proto, seed=0)


def _install_fault(fault: dict) -> None:
    """Makes the `nth` matching call under `under` fail with `errno` (in the child)."""
    import builtins

    count = [0]
    under = fault["under"]
    err = fault["errno"]

    def hit(path) -> bool:
        try:
            text = os.fsdecode(path)
        except TypeError:
            return False
        if not os.path.abspath(text).startswith(under):
            return False
        count[0] += 1
        return count[0] >= fault["nth"]

    def boom(path="?"):
        raise OSError(err, os.strerror(err), str(path))

    call = fault["call"]
    if call == "open":
        real = os.open

        def fake_open(path, flags, *a, **k):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and hit(path):
                boom(path)
            return real(path, flags, *a, **k)

        os.open = fake_open
        real_bopen = builtins.open

        def fake_bopen(file, mode="r", *a, **k):
            if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+"):
                if hit(file):
                    boom(file)
            return real_bopen(file, mode, *a, **k)

        builtins.open = fake_bopen
    elif call == "fsync":
        real_fsync = os.fsync

        def fake_fsync(fd):
            try:
                path = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                path = ""
            if hit(path):
                boom(path)
            return real_fsync(fd)

        os.fsync = fake_fsync
    elif call == "replace":
        real_replace = os.replace

        def fake_replace(src, dst, *a, **k):
            if hit(dst):
                boom(dst)
            return real_replace(src, dst, *a, **k)

        os.replace = fake_replace
    elif call == "mkdir":
        real_mkdir = os.mkdir

        def fake_mkdir(path, *a, **k):
            if hit(path):
                boom(path)
            return real_mkdir(path, *a, **k)

        os.mkdir = fake_mkdir
    elif call == "write":
        real_write = os.write
        real_fdopen = os.fdopen

        def fake_fdopen(fd, mode="r", *a, **k):
            handle = real_fdopen(fd, mode, *a, **k)
            try:
                path = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                return handle
            if "w" in mode and hit(path):

                class Full:
                    def __init__(self, inner):
                        self._inner = inner

                    def write(self, data):
                        boom(path)

                    def __getattr__(self, name):
                        return getattr(self._inner, name)

                    def __enter__(self):
                        return self

                    def __exit__(self, *exc):
                        self._inner.close()

                return Full(handle)
            return handle

        os.fdopen = fake_fdopen
        del real_write


def _child(case: Case, log: Path, workroot: str, casedir: str) -> None:
    """In the forked child: audit hook, fault, run main() as its console script would."""
    code = 98
    try:
        os.setpgid(0, 0)
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        out_fd = os.open(log / "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err_fd = os.open(log / "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.close(out_fd)
        os.close(err_fd)
        opened: list[str] = []
        logdir = str(log)

        def hook(event, args):
            if event == "open" and args and args[0] is not None and not isinstance(args[0], int):
                try:
                    path = os.path.abspath(os.fsdecode(args[0]))
                except Exception:  # noqa: BLE001
                    return
                if path.startswith(workroot) and not path.startswith((casedir, logdir)):
                    opened.append(path)

        import gc

        gc.disable()  # as trt-check's console script; fewer copy-on-write pages
        sys.addaudithook(hook)
        if case.fault:
            _install_fault(case.fault)
        import importlib

        module = importlib.import_module(MODULES[case.tool])
        sys.argv = [SCRIPTS[case.tool], *case.argv]
        try:
            code = module.main()  # argv None: exactly the console script's path
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
        with open(log / "opened.json", "w") as handle:  # noqa: PTH123
            json.dump(opened, handle)
    except BaseException:  # noqa: BLE001 - an escaped exception is a finding: record it
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        code = 97
    os._exit(code if isinstance(code, int) else 96)


@dataclass
class Outcome:
    case: Case
    code: int | None
    signaled: int | None
    elapsed: float
    bad: list[str]
    stderr_tail: str = ""


def _snapshot(folder: Path) -> dict:
    """Every entry below `folder`: kind, inode and (for files) a hash of the bytes."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:  # noqa: PTH123
                    digest = hashlib.sha256(handle.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.readlink(path)
            snap[os.path.relpath(path, folder)] = (stat.S_IFMT(st.st_mode), st.st_ino, digest)
    return snap


def _arm_bait(bait: list[Path]) -> dict:
    now = time.time()
    for path in bait:
        os.utime(path, (1.0, now))
    return {str(p): os.stat(p).st_atime for p in bait}


def _wait(pid: int, timeout: float, case: Case, out: Path, proc=None):
    """Waits for the child; sends the case's signal when due. Returns (status, hung)."""
    start = time.monotonic()
    sent = case.signal is None
    delay = None if case.signal_at == "temp" else float(case.signal_at)
    while True:
        if proc is not None:
            rc = proc.poll()
            if rc is not None:
                return rc, False
        else:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status, False
        elapsed = time.monotonic() - start
        if not sent:
            due = False
            if delay is not None:
                due = elapsed >= delay
            else:
                due = any(TAG in p.name for p in out.iterdir()) or elapsed > 20
            if due:
                try:
                    os.kill(pid, case.signal)
                except ProcessLookupError:
                    pass
                sent = True
        if elapsed > timeout:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if proc is not None:
                proc.wait()
                return None, True
            os.waitpid(pid, 0)
            return None, True
        time.sleep(0.002 if not sent else 0.005)


TAG = ".trtforge-"


def run_case(camp: Campaign, case: Case, timeout: float) -> Outcome:
    folder = camp.root / f"case{case.index}"
    log = camp.root / "logs" / f"case{case.index}"
    log.mkdir(parents=True, exist_ok=True)
    for name in ("stdout", "stderr"):  # (a signal case may stop the child before it opens them)
        (log / name).touch()
    before_in = _snapshot(folder / "in")
    before_out = _snapshot(folder / "out")
    workdir = folder / "cwd"  # the folder the command runs from: it must stay empty
    workdir.mkdir(exist_ok=True)
    atimes = _arm_bait(camp.bait)
    start = time.monotonic()
    sys.stdout.flush()
    sys.stderr.flush()
    if case.mode == "fork":
        pid = os.fork()
        if pid == 0:
            os.chdir(workdir)
            _child(case, log, str(camp.root), str(folder))
        status, hung = _wait(pid, timeout, case, folder / "out")
        code = signaled = None
        if status is not None:
            if os.WIFSIGNALED(status):
                signaled = os.WTERMSIG(status)
            else:
                code = os.WEXITSTATUS(status)
    else:
        script = BIN / SCRIPTS[case.tool]
        cmd = [str(script), *case.argv] if script.exists() else None
        if cmd is None:
            cmd = [sys.executable, "-m", MODULES[case.tool], *case.argv]
        with open(log / "stdout", "wb") as so, open(log / "stderr", "wb") as se:  # noqa: PTH123
            proc = subprocess.Popen(cmd, stdout=so, stderr=se, start_new_session=True, cwd=workdir)
            status, hung = _wait(proc.pid, timeout, case, folder / "out", proc)
        code = signaled = None
        if status is not None:
            if status < 0:
                signaled = -status
            else:
                code = status
    elapsed = time.monotonic() - start
    bad = judge(camp, case, folder, log, code, signaled, hung, before_in, before_out, atimes)
    stderr = (log / "stderr").read_bytes().decode(errors="replace")
    return Outcome(case, code, signaled, elapsed, bad, stderr[-2000:])


def _output_ok(camp: Campaign, case: Case, path: str, bad: list[str]) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        return
    if stat.S_IMODE(st.st_mode) != 0o666 & ~camp.umask:
        bad.append(f"mode:{oct(stat.S_IMODE(st.st_mode))}:{path}")


def _report_ok(case: Case, path: str | None, text: str, bad: list[str]) -> None:
    """Checks one trt-check report's text for its format."""
    fmt = case.fmt
    if fmt in ("text", "markdown"):
        stray = [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F]
        if stray:
            bad.append(f"raw-control-chars:{fmt}")
    if fmt == "markdown":
        lines = text.splitlines()
        widths = None
        for line in lines:
            if line.startswith("| # |") or line.startswith("| status |"):
                widths = _cells(line)
            elif line.startswith("|") and widths is not None and _cells(line) != widths:
                if not line.startswith("|---"):
                    bad.append("markdown-row-broken")
                    break
            elif not line.startswith("|"):
                widths = None
        if "<script" in re.sub(r"`[^`\n]*`", "", text).lower():  # outside code spans
            bad.append("markdown-html")
    if fmt in ("json", "sarif"):
        try:
            doc = json.loads(text)
        except ValueError:
            bad.append(f"invalid-{fmt}")
            return
        if fmt == "json":
            err = validate_schema(doc)
            if err:
                bad.append(f"schema:{err}")
        elif doc.get("version") != "2.1.0" or not isinstance(doc.get("runs"), list):
            bad.append("sarif-shape")


def _cells(line: str) -> int:
    count, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == "|":
            count += 1
        i += 1
    return count


_VALIDATOR = None


def validate_schema(doc) -> str | None:
    global _VALIDATOR
    if _VALIDATOR is None:
        import jsonschema

        import trtforge.analyzer as analyzer

        schema_path = Path(analyzer.__file__).parent / "schemas" / "check.schema.json"
        schema = json.loads(schema_path.read_text())
        _VALIDATOR = jsonschema.Draft202012Validator(schema)
    errors = sorted(_VALIDATOR.iter_errors(doc), key=lambda e: list(e.path))
    if not errors:
        return None
    e = errors[0]
    return f"{'/'.join(str(p) for p in e.path)}: {e.message[:80]}"


def _complete_after_kill(camp, case, folder, changed: set, after_out: dict) -> bool:
    """True when what a SIGKILLed run left in place is exactly what the same command writes
    when it is not killed. No program can defer SIGKILL: one that lands after the atomic
    rename (the harness saw the temporary, then killed) leaves the complete output, which is
    the promise (never a partial file), not a defect. The run is repeated without the signal
    and the outputs compared byte for byte."""
    rerun = dataclasses.replace(case, signal=None)
    outcome = run_case(camp, rerun, 120)
    if outcome.bad or outcome.code not in case.success_codes:
        return False
    again = _snapshot(folder / "out")
    same = lambda entry: None if entry is None else (entry[0], entry[2])  # noqa: E731 - no inode
    return all(same(again.get(k)) == same(after_out.get(k)) for k in changed)


def judge(camp, case, folder, log, code, signaled, hung, before_in, before_out, atimes):
    bad: list[str] = []
    stderr = (log / "stderr").read_bytes().decode(errors="replace")
    stdout_bytes = (log / "stdout").read_bytes()
    if hung:
        bad.append("hang")
    if "Traceback (most recent call last)" in stderr:
        bad.append("traceback")
    if "KeyboardInterrupt" in stderr:
        bad.append("keyboardinterrupt-text")
    if code == 3:
        bad.append("exit-3")
    if code in (96, 97, 98):
        bad.append(f"harness-escape-{code}")
    sent = case.signal
    if signaled is not None and signaled != sent:
        bad.append(f"crash-signal-{signaled}")
    interrupted = code is not None and sent is not None and code == 128 + sent
    if code is not None and code not in (0, 1, 2, 3) and not interrupted:
        bad.append(f"exit-{code}")
    if code == 0 and "interrupted" in stderr:
        bad.append("exit-0-interrupted")
    if code == 2 and len(stderr) > 20_000:
        bad.append("huge-error-message")
    success = code in case.success_codes
    # inputs untouched
    if _snapshot(folder / "in") != before_in:
        bad.append("input-modified")
    # nothing left in the folder the command ran from
    if (folder / "cwd").is_dir() and any((folder / "cwd").iterdir()):
        bad.append("wrote-to-working-folder")
    # nothing read outside the case folder
    for path, atime in atimes.items():
        if os.stat(path).st_atime != atime:
            bad.append("read-outside")
            break
    opened_file = log / "opened.json"
    if opened_file.exists():
        try:
            opened = json.loads(opened_file.read_text())
        except ValueError:  # a child killed while writing its log (SIGKILL cases)
            opened = [] if signaled else ["<the child's open log is unreadable>"]
        if opened:
            bad.append("open-outside")
    after_out = _snapshot(folder / "out")
    killed = signaled == signal.SIGKILL
    temps = [k for k in after_out if TAG in k] + [k for k in _snapshot(folder / "in") if TAG in k]
    if temps and not killed:
        bad.append("temp-left")
    if not success:
        changed = {k for k in set(after_out) | set(before_out) if TAG not in k}
        changed = {k for k in changed if after_out.get(k) != before_out.get(k)}
        report = os.path.relpath(case.report, folder / "out") if case.report else None
        if code == 1 and report in changed and _failure_report(case.report):
            changed.discard(report)  # the report of a failed verification, written on purpose
        if changed and killed and _complete_after_kill(camp, case, folder, changed, after_out):
            changed = set()
        if changed:
            bad.append("output-after-failure")
    else:
        for path in case.outputs:
            _output_ok(camp, case, path, bad)
        for key, value in before_out.items():  # special files stay what they were
            if value[0] != stat.S_IFREG and after_out.get(key, (None,))[0] != value[0]:
                if value[0] != stat.S_IFLNK:
                    bad.append("special-file-replaced")
        if case.tool == "rewrite" and case.outputs and os.path.isfile(case.outputs[0]):
            try:
                onnx.checker.check_model(onnx.load(case.outputs[0]))  # any name, its data
            except Exception as err:  # noqa: BLE001
                bad.append(f"invalid-output-model:{type(err).__name__}")
        if case.tool.startswith("check"):
            target = case.outputs[0] if case.outputs else None
            if target:
                if os.path.isfile(target):
                    _report_ok(case, target, Path(target).read_text(errors="replace"), bad)
                else:
                    bad.append("report-missing")
            else:
                _report_ok(case, None, stdout_bytes.decode(errors="replace"), bad)
    if killed and not success:
        # SIGKILL: a temporary may stay; the next write to the same OUT must clean it
        pass
    return bad


# --- the campaign --------------------------------------------------------------------------


def campaign(
    n: int,
    seed: int,
    root: Path,
    timeout: float = 120,
    results: Path | None = None,
    progress: bool = True,
    keep: bool = False,
    weights: dict | None = None,
    time_limit: float | None = None,
) -> dict:
    preimport()
    import gc

    gc.collect()
    gc.freeze()  # children share the parent's objects without the collector touching them
    camp = Campaign(root, seed, weights)
    counts: dict = collections.defaultdict(lambda: collections.Counter())
    bads: list[dict] = []
    started = time.time()
    elapsed_by_tool = collections.Counter()
    done = 0
    for i in range(n):
        if time_limit and time.time() - started > time_limit:
            break
        case = camp.make(i)
        outcome = run_case(camp, case, timeout)
        key = f"{case.category}/{case.tool}/{case.mode}"
        counts[key]["cases"] += 1
        counts[key][f"exit-{outcome.code}" if outcome.code is not None else "no-exit"] += 1
        elapsed_by_tool[case.tool] += outcome.elapsed
        for b in outcome.bad:
            counts[key][f"BAD:{b.split(':')[0]}"] += 1
        if outcome.bad:
            bads.append(
                {
                    "index": i,
                    "key": key,
                    "detail": case.detail,
                    "argv": case.argv,
                    "signal": case.signal,
                    "fault": case.fault,
                    "code": outcome.code,
                    "signaled": outcome.signaled,
                    "bad": outcome.bad,
                    "stderr": outcome.stderr_tail[-1200:],
                }
            )
            if progress:
                print(
                    f"[{i}] {key} {case.detail!r}: {outcome.bad} (exit {outcome.code})",
                    file=sys.stderr,
                )
        if not keep and not outcome.bad:
            shutil.rmtree(root / f"case{i}", ignore_errors=True)
            shutil.rmtree(root / "logs" / f"case{i}", ignore_errors=True)
        done += 1
        if progress and done % 200 == 0:
            rate = done / (time.time() - started)
            print(f"{done}/{n} cases, {rate:.1f}/s, {len(bads)} bad", file=sys.stderr)
        if results and done % 500 == 0:
            _dump(results, seed, done, counts, bads, started, elapsed_by_tool)
    summary = _dump(results, seed, done, counts, bads, started, elapsed_by_tool)
    return summary


def _dump(results, seed, done, counts, bads, started, elapsed_by_tool) -> dict:
    summary = {
        "seed": seed,
        "cases": done,
        "seconds": round(time.time() - started, 1),
        "by_key": {k: dict(v) for k, v in sorted(counts.items())},
        "seconds_by_tool": {k: round(v, 1) for k, v in elapsed_by_tool.items()},
        "bad_total": collections.Counter(b.split(":")[0] for x in bads for b in x["bad"]),
        "bad": bads,
    }
    if results:
        tmp = Path(str(results) + ".part")
        tmp.write_text(json.dumps(summary, indent=1, default=str))
        os.replace(tmp, results)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1000, help="number of cases")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, help="work folder (default: a new temporary one)")
    ap.add_argument("--results", type=Path, help="write the results (JSON) here")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per case")
    ap.add_argument("--time-limit", type=float, help="stop starting cases after this many s")
    ap.add_argument("--keep", action="store_true", help="keep the folders of good cases")
    ap.add_argument("-j", type=int, default=1, help="parallel runs (only 1 is supported)")
    args = ap.parse_args(argv)
    root = args.out or Path(tempfile.mkdtemp(prefix="trtforge-fuzz-"))
    root.mkdir(parents=True, exist_ok=True)
    summary = campaign(
        args.n,
        args.seed,
        root.resolve(),
        args.timeout,
        args.results,
        keep=args.keep,
        time_limit=args.time_limit,
    )
    print(json.dumps({k: summary[k] for k in ("cases", "seconds", "bad_total")}, default=str))
    return 0 if not summary["bad"] else 1


if __name__ == "__main__":
    sys.exit(main())
