"""Hostile files: one error line and a hint (exit 2), or a report — never a traceback (exit 3).

Covers text that is not UTF-8 in the model's header and names (with large weights, so the
weightless copy for shape inference is made), control-flow attributes that are not graphs,
an external-data symlink loop, a hard-linked external-data file (trt-rewrite loads the data),
If nesting deeper than protobuf parses, a 100k-character external-data location, and an
external weight of an element type ONNX does not define.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer.cli.check import main as check_main
from trtforge.analyzer.cli.rewrite import main as rewrite_main

N = helper.make_node


def _heavy_model() -> onnx.ModelProto:
    """MatMul(x, w) then Relu, with a 64 KiB initializer (heavy: left out of inference)."""
    w = numpy_helper.from_array(np.ones((128, 128), np.float32), "WEIGHTX")
    graph = helper.make_graph(
        [N("MatMul", ["INPUTX", "WEIGHTX"], ["h"], name="NODEX"), N("Relu", ["h"], ["y"])],
        "GRAPHX",
        [helper.make_tensor_value_info("INPUTX", TensorProto.FLOAT, [2, 128])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 128])],
        [w],
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8, producer_name="PRODX"
    )


def _run(tool: str, args: list[str], capsys) -> tuple[int, str]:
    code = (check_main if tool == "check" else rewrite_main)(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err and code != 3, err
    return code, err


def _one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Hint: "), err
    assert len(lines[0]) < 400, lines[0]
    return lines[0]


@pytest.mark.parametrize("tag", [b"PRODX", b"GRAPHX", b"NODEX", b"INPUTX", b"WEIGHTX"])
def test_text_that_is_not_utf8(tag, tmp_path, capsys):
    path = tmp_path / "model.onnx"
    path.write_bytes(_heavy_model().SerializeToString().replace(tag, tag[:-2] + b"\xff\xfe"))
    code, _ = _run("check", [str(path), "--backend", "static"], capsys)
    assert code == 0  # TensorRT takes such names; the report shows them escaped
    out = tmp_path / "out.onnx"
    code, err = _run("rewrite", [str(path), "-o", str(out), "--fold-constants"], capsys)
    if tag == b"PRODX":  # metadata, kept as it is
        assert code == 0 and out.exists()
    else:
        assert "is not UTF-8 text" in _one_line_error(code, err)
        assert not out.exists()


def _control_flow(node) -> str:
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize(
    "node",
    [
        N("If", ["c"], ["y"], name="if", then_branch=3, else_branch=4),
        N("Loop", ["", "c"], ["y"], name="loop", body=5),
        N("Scan", ["c"], ["y"], name="scan", body=[1.0], num_scan_inputs=1),
    ],
    ids=["if-ints", "loop-int", "scan-floats"],
)
def test_control_flow_attributes_that_are_not_graphs(node, tmp_path, capsys):
    path = tmp_path / "model.onnx"
    path.write_bytes(_control_flow(node))
    code, _ = _run("check", [str(path), "--backend", "static"], capsys)
    assert code == 1
    out = tmp_path / "out.onnx"
    code, err = _run("rewrite", [str(path), "-o", str(out), "--auto"], capsys)
    assert "invalid ONNX graph" in _one_line_error(code, err)
    assert not out.exists()


def _external_model(folder, location: str) -> str:
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "8")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [N("Add", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as handle:
        handle.write(model.SerializeToString())
    return path


def test_external_data_symlink_loop(tmp_path, capsys):
    os.symlink("b.bin", tmp_path / "a.bin")
    os.symlink("a.bin", tmp_path / "b.bin")
    path = _external_model(tmp_path, "a.bin")
    for tool, args in (("check", []), ("rewrite", ["-o", str(tmp_path / "o.onnx"), "--auto"])):
        code, err = _run(tool, [path, *args], capsys)
        assert "symlink loop" in _one_line_error(code, err)
    assert not (tmp_path / "o.onnx").exists()


def test_external_data_location_of_100k_characters(tmp_path, capsys):
    path = _external_model(tmp_path, "a" * 100_000)
    code, err = _run("check", [path, "--backend", "static"], capsys)
    _one_line_error(code, err)
    assert len(err) < 1000


def test_hard_linked_external_data(tmp_path, capsys):
    path = _external_model(tmp_path, "w.bin")
    (tmp_path / "w.bin").write_bytes(np.ones(2, np.float32).tobytes())
    os.link(tmp_path / "w.bin", tmp_path / "other.bin")
    out = tmp_path / "out.onnx"
    before = sorted(os.listdir(tmp_path))
    code, err = _run("rewrite", [path, "-o", str(out), "--fold-constants", "-q"], capsys)
    assert "hard link" in _one_line_error(code, err)
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("held_in", ["initializer", "Constant"])
def test_external_weight_of_an_element_type_onnx_does_not_define(held_in, tmp_path, capsys):
    """An external weight with data_type 99 and no length: its size cannot be known, and the
    graph is invalid (a report), whether the loader reads it from the file's bytes (an
    initializer) or from the parsed protos (a Constant's value)."""
    w = TensorProto(name="w", data_type=99, dims=[2])
    w.data_location = TensorProto.EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", "w.bin"
    (tmp_path / "w.bin").write_bytes(bytes(64))
    nodes = [N("Add", ["x", "w"], ["y"])]
    if held_in == "Constant":
        nodes.insert(0, N("Constant", [], ["w"], value=w))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [w] if held_in == "initializer" else [],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    code, _ = _run("check", [str(path), "--backend", "static", "--format", "json"], capsys)
    assert code == 1


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_if_nested_deeper_than_protobuf_parses(tmp_path, capsys):
    """Written byte by byte: onnx's own classes cannot build it."""
    body = helper.make_graph(
        [N("Relu", ["x"], ["z"])],
        "b",
        [],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])],
    ).SerializeToString()
    leaf, graph = body, body
    out_type = helper.make_tensor_value_info("z", TensorProto.FLOAT, [2]).SerializeToString()

    def branch(name: bytes, g: bytes) -> bytes:  # AttributeProto: name 1, g 6, type 20 = GRAPH
        return _field(1, name) + _field(6, g) + _varint(20 << 3) + _varint(5)

    for _ in range(120):
        node = _field(1, b"c") + _field(2, b"z") + _field(4, b"If")
        node += _field(5, branch(b"then_branch", graph)) + _field(5, branch(b"else_branch", leaf))
        graph = _field(1, node) + _field(2, b"n") + _field(12, out_type)
    model = helper.make_model(
        helper.make_graph([], "top", [], []), opset_imports=[helper.make_opsetid("", 17)]
    )
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString() + _field(7, graph))
    code, err = _run("check", [str(path), "--backend", "static"], capsys)
    line = _one_line_error(code, err)
    assert "deeper than protobuf can parse" in line and "truncated" not in err


def test_op_type_that_is_not_utf8_is_bad_input_for_rewrite(tmp_path, capsys):
    """benchmarks/fuzz.py seed 2030 case 3464 (a byte mutation of a GELU model): protobuf
    hands the undecodable op_type over as bytes, which the checker gate's schema look-up
    did not expect (exit 3)."""
    src = Path(__file__).parents[1] / "fixtures" / "hostile" / "op_type_not_utf8.onnx"
    out = tmp_path / "out.onnx"
    code, err = _run("rewrite", [str(src), "-o", str(out), "--fuse-gelu", "-q"], capsys)
    assert code == 2 and "Traceback" not in err, err
    assert not out.exists()
    for target in ("rtx-1", "trt-10"):  # and trt-check judges it (no schema is asked of it)
        code, err = _run("check", [str(src), "--backend", "static", "--target", target], capsys)
        assert code == 1, err
