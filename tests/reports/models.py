"""Small real models for the report, bad-input and CLI tests (built here, never read from disk)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def topk_model(k_constant: bool = True, name: str = "topk_0", copies: int = 1) -> onnx.ModelProto:
    """`copies` TopK nodes on x[4, 16]; K an initializer (supported) or a graph input (not)."""
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])]
    inits = []
    if k_constant:
        inits.append(numpy_helper.from_array(np.array([3], np.int64), "k"))
    else:
        inputs.append(helper.make_tensor_value_info("k", TensorProto.INT64, [1]))
    nodes, outputs = [], []
    for i in range(copies):
        suffix = "" if copies == 1 else f"_{i}"
        nodes.append(
            helper.make_node(
                "TopK", ["x", "k"], [f"values{suffix}", f"indices{suffix}"], name=f"{name}{suffix}"
            )
        )
        outputs += [
            helper.make_tensor_value_info(f"values{suffix}", TensorProto.FLOAT, None),
            helper.make_tensor_value_info(f"indices{suffix}", TensorProto.INT64, None),
        ]
    graph = helper.make_graph(nodes, "topk", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def custom_op_model(name: str = "act", copies: int = 1) -> onnx.ModelProto:
    """A chain of `copies` com.microsoft FastGelu nodes: custom-domain ops with no importer."""
    nodes = []
    for i in range(copies):
        src = "x" if i == 0 else f"t{i - 1}"
        dst = "y" if i == copies - 1 else f"t{i}"
        suffix = "" if copies == 1 else f"_{i}"
        nodes.append(
            helper.make_node(
                "FastGelu", [src], [dst], name=f"{name}{suffix}", domain="com.microsoft"
            )
        )
    graph = helper.make_graph(
        nodes,
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])],
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        ir_version=8,
    )


def nonzero_model() -> onnx.ModelProto:
    """NonZero: built through a TensorRT plugin; TensorRT-RTX has none."""
    graph = helper.make_graph(
        [helper.make_node("NonZero", ["x"], ["y"], name="nz")],
        "nonzero",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def save(model: onnx.ModelProto, path) -> str:
    onnx.save(model, str(path))
    return str(path)


def run_cli(module: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs `python -m <module> args…` (text mode)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout
    )
