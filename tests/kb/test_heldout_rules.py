"""Rules found by the held-out corpus variants: static verdicts on the fixtures of
`oracle_cases_heldout.py`, and the same models through TensorRT-RTX's parser where it is
installed (one subprocess for all of them).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from _oracle import HAS_RTX, assert_refused, assert_supported, parse_models
from onnx import TensorProto, helper, numpy_helper
from oracle_cases_heldout import CASES, Case

from trtforge.analyzer import check


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_static_verdict(case: Case) -> None:
    report = check(case.model, target=case.target, backend="static")
    verdict = report.nodes[-1]
    if case.code is None:
        assert_supported(report, case.id)
    else:
        assert_refused(verdict, case.id, case.code, sourced=True)


@pytest.mark.parametrize("target", ["trt-10", "trt-11"])
def test_same_verdict_on_tensorrt_targets(target: str) -> None:
    """These are facts of the open-source parser and TensorRT's layers, not of RTX: the
    TensorRT targets give the same verdicts where the op is available there."""
    wrong = []
    checked = 0
    for case in CASES:
        report = check(case.model, target=target, backend="static")
        codes = [f.code for n in report.nodes for f in n.errors]
        if "not-available" in codes:
            continue  # e.g. TensorScatter before TensorRT 11
        checked += 1
        if (case.code is None) != report.supported or (case.code and case.code not in codes):
            wrong.append(f"{case.id}: {codes}")
    assert not wrong, wrong
    assert checked > len(CASES) * 0.9


@pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")
def test_cases_agree_with_parser() -> None:
    results = parse_models({c.id: c.model for c in CASES})
    wrong = [
        f"{c.id}: expected {'ok' if c.code is None else c.code}, parser "
        f"{'ok' if results[c.id].ok else results[c.id].errors[:1]}"
        for c in CASES
        if results[c.id].ok != (c.code is None)
    ]
    assert not wrong, "\n".join(wrong)


def test_an_empty_initializer_in_an_external_file_is_unsupported(tmp_path) -> None:
    """onnx.save(..., size_threshold=0) writes a tensor of no element externally (offset 0,
    length 0): the parser fails to import it; the same tensor inline parses."""
    graph = helper.make_graph(
        [helper.make_node("Concat", ["x", "empty"], ["y"], axis=0)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [numpy_helper.from_array(np.zeros((0, 4), np.float32), "empty")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    inline = tmp_path / "inline.onnx"
    onnx.save(model, inline)
    external = tmp_path / "external.onnx"
    onnx.save(model, external, save_as_external_data=True, size_threshold=0, location="w.data")
    codes = lambda path: {  # noqa: E731
        f.code for f in check(str(path), target="rtx-1", backend="static").graph_findings
    }
    assert "graph/empty-external-initializer" in codes(external)
    assert "graph/empty-external-initializer" not in codes(inline)


def _accumulating_loop(op: str, trip_count: bool) -> onnx.ModelProto:
    """tf.while_loop / a scripted `acc = cat((acc, x))`: a Loop whose carried value the body
    makes by `op` of itself (Add keeps the shape)."""
    vi = helper.make_tensor_value_info
    pieces = {
        "Concat": [helper.make_node("Concat", ["acc_in", "x"], ["acc_out"], axis=0)],
        "Add": [helper.make_node("Add", ["acc_in", "x"], ["acc_out"])],
        "Tile": [helper.make_node("Tile", ["acc_in", "reps"], ["acc_out"])],
        "Slice": [helper.make_node("Slice", ["acc_in", "one", "big", "zero"], ["acc_out"])],
        "Slice-whole": [helper.make_node("Slice", ["acc_in", "zero", "big", "zero"], ["acc_out"])],
    }
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), *pieces[op]],
        "body",
        [
            vi("i", TensorProto.INT64, []),
            vi("cond_in", TensorProto.BOOL, []),
            vi("acc_in", TensorProto.FLOAT, None),
        ],  # fmt: skip
        [vi("cond_out", TensorProto.BOOL, []), vi("acc_out", TensorProto.FLOAT, None)],
    )
    inits = [
        numpy_helper.from_array(np.array(3, np.int64), "n"),
        numpy_helper.from_array(np.array(True), "c"),
        numpy_helper.from_array(np.zeros((1, 4), np.float32), "acc0"),
        numpy_helper.from_array(np.zeros((0, 4), np.float32), "empty"),
        numpy_helper.from_array(np.array([2, 1], np.int64), "reps"),
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([2**62], np.int64), "big"),
    ]
    start = "empty" if op == "Concat" else "acc0"  # (the pass's form: rows from nothing)
    loop = helper.make_node("Loop", ["n" if trip_count else "", "c", start], ["acc"], body=body)
    graph = helper.make_graph(
        [loop], "g", [vi("x", TensorProto.FLOAT, [1, 4])], [vi("acc", TensorProto.FLOAT, None)],
        inits,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(("op", "code"), [("Concat", "loop/carried-shape"),
                                          ("Tile", "loop/carried-shape"), ("Add", None),
                                          ("Slice", "loop/carried-shape"),
                                          ("Slice-whole", None)])  # fmt: skip
def test_a_loop_carried_value_that_changes_shape_is_unsupported(op, code) -> None:
    """The parser takes such a Loop; its builder refuses it ("IRecurrenceLayer must have
    inputs with same shape", TensorRT-RTX 1.7.1 on tf2onnx's while-loop accumulators)."""
    report = check(_accumulating_loop(op, True), target="rtx-1", backend="static")
    codes = {r.code for n in report.nodes for r in n.reasons if r.is_error}
    assert (code in codes) if code else not codes, codes


def test_loop_concat_scan_is_named_only_with_a_trip_count() -> None:
    """Without a trip count TensorRT cannot size the scan output the pass would write."""
    from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
    from trtforge.analyzer.targets import parse_target

    def fixes(trip_count):
        report = check(_accumulating_loop("Concat", trip_count), target="rtx-1", backend="static")
        return {f.name for n in report.unsupported_nodes for f in n.fixes}

    assert "loop-concat-scan" in fixes(True) and "loop-concat-scan" not in fixes(False)
    result = rewrite_model(
        _accumulating_loop("Concat", False),
        ["loop-concat-scan"],
        RewriteOptions(parse_target("rtx-1")),
    )
    assert not result.changed


@pytest.mark.parametrize("length", [0, 1, 4, (1, 3)])
def test_an_instance_norm_scale_of_another_length_than_the_channels_is_refused(length) -> None:
    """ONNX's shape inference passes it; onnxruntime refuses to run it, and TensorRT-RTX 1.7.1
    parses it and its builder fails (for lengths other than 1), so no backend may call it
    supported."""
    import onnxruntime as ort

    graph = helper.make_graph(
        [helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 2])],
        [
            numpy_helper.from_array(np.ones(length, np.float32), "s"),
            numpy_helper.from_array(np.zeros(length, np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="scale"):
        session.run(None, {"x": np.ones((1, 3, 2), np.float32)})
    report = check(model, target="rtx-1", backend="static")
    assert_refused(report.nodes[-1], "instancenorm", "instancenormalization/shapes-mismatch")
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.ones(3, np.float32), "s"))
    model.graph.initializer[1].CopyFrom(numpy_helper.from_array(np.zeros(3, np.float32), "b"))
    assert check(model, target="rtx-1", backend="static").supported


@pytest.mark.parametrize(
    ("shape", "parses"),
    [
        ([2**31 - 1], True),
        ([2**31], False),
        ([0, 2**31], False),  # empty, and still refused
        ([2**20, 2**20], True),  # 2^40 elements
        ([2**20, 2**20 + 1], False),
        (["N", 2**31], False),
        (["N", 2**21, 2**20], True),  # the volume is unknown
    ],
)
def test_a_network_input_above_the_tensor_limits_is_refused(shape, parses) -> None:
    """importInput fails ("Failed to add input to the network") for a static dim above
    2^31 - 1 or more than 2^40 elements, observed with TensorRT-RTX 1.7.1."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    report = check(model, target="rtx-1", backend="static")
    codes = [f.code for f in report.graph_findings if f.is_error]
    assert ("graph/input-too-large" not in codes) is parses, codes
    if HAS_RTX:
        assert parse_models({"m": model})["m"].ok is parses


# -- what the parser imports whether or not anything reads it ---------------------------------
_IMPORTABLE = ("INT32", "DOUBLE", "BOOL", "BFLOAT16", "FLOAT8E4M3FN", "INT4", "FLOAT4E2M1")
_NOT_IMPORTABLE = ("INT16", "UINT16", "UINT32", "UINT64", "FLOAT8E5M2", "FLOAT8E4M3FNUZ",
                   "FLOAT8E8M0", "UINT4", "INT2", "STRING", "COMPLEX64")  # fmt: skip


def _unused(dtype: str, as_constant: bool) -> onnx.ModelProto:
    """Relu(x) beside an unused initializer (or Constant) of element type `dtype`."""
    elem = getattr(TensorProto, dtype)
    value = helper.make_tensor("u", elem, [2], ["a", "b"] if dtype == "STRING" else [0, 1])
    return _relu_beside(value, as_constant, opset=25, ir_version=11)


def _relu_beside(value, as_constant: bool, opset: int, ir_version: int) -> onnx.ModelProto:
    """Relu(x) beside `value`, an unused initializer (or the value of an unused Constant)."""
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    if as_constant:
        nodes.append(helper.make_node("Constant", [], ["k"], value=value, name="const"))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [] if as_constant else [value],
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version
    )


def _import_cases() -> dict[str, tuple[onnx.ModelProto, bool]]:
    return {
        f"{'const' if as_constant else 'init'}-{dtype}": (_unused(dtype, as_constant), ok)
        for dtypes, ok in ((_IMPORTABLE, True), (_NOT_IMPORTABLE, False))
        for dtype in dtypes
        for as_constant in (False, True)
    }


@pytest.mark.parametrize("case", sorted(_import_cases()))
def test_an_unused_weight_of_a_type_the_parser_cannot_import_is_refused(case) -> None:
    model, ok = _import_cases()[case]
    report = check(model, target="rtx-1", backend="static")
    assert report.supported == ok, case
    if not ok:
        codes = {f.code for f in report.graph_findings} | {
            f.code for n in report.nodes for f in n.errors
        }
        assert codes & {"graph/initializer-dtype", "constant/value-dtype"}, codes


def _split_with_outputs(outputs: list[str]) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Split", ["x"], outputs, axis=0, num_outputs=3, name="split")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, [1, 2]) for o in outputs if o],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def _sparse_read(read: bool) -> onnx.ModelProto:
    sparse = onnx.SparseTensorProto()
    sparse.values.CopyFrom(numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "w"))
    sparse.indices.CopyFrom(numpy_helper.from_array(np.array([0, 3], np.int64), "w_idx"))
    sparse.dims.extend([2, 3])
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    if read:
        nodes = [
            helper.make_node("Relu", ["w"], ["r"], name="relu"),
            helper.make_node("Add", ["x", "r"], ["y"], name="add"),
        ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        sparse_initializer=[sparse],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _graph_cases() -> dict[str, tuple[onnx.ModelProto, str | None]]:
    return {
        "split-empty-middle-output": (_split_with_outputs(["a", "", "c"]), "split/empty-output"),
        "split-empty-last-output": (_split_with_outputs(["a", "b", ""]), "split/empty-output"),
        "split-all-outputs": (_split_with_outputs(["a", "b", "c"]), None),
        "sparse-initializer-read": (_sparse_read(True), "graph/sparse-initializer"),
        "sparse-initializer-unused": (_sparse_read(False), None),
    }


def _assert_verdict(case: str, model: onnx.ModelProto, code: str | None) -> None:
    """The static verdict: supported where `code` is None, else refused with that code (on a
    node or the graph)."""
    report = check(model, target="rtx-1", backend="static")
    codes = {f.code for f in report.graph_findings} | {
        f.code for n in report.nodes for f in n.errors
    }
    assert report.supported == (code is None), (case, codes)
    assert code is None or code in codes


@pytest.mark.parametrize("case", sorted(_graph_cases()))
def test_empty_outputs_and_sparse_initializers(case) -> None:
    _assert_verdict(case, *_graph_cases()[case])


@pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")
def test_unused_weights_empty_outputs_and_sparse_initializers_agree_with_parser() -> None:
    cases = {name: model for name, (model, _) in _import_cases().items()}
    cases.update({name: model for name, (model, _) in _graph_cases().items()})
    expected = {name: ok for name, (_, ok) in _import_cases().items()}
    expected.update({name: code is None for name, (_, code) in _graph_cases().items()})
    results = parse_models(cases)
    wrong = {name: results[name] for name in cases if results[name].ok != expected[name]}
    assert not wrong, wrong


def test_a_graph_without_outputs_builds_no_engine() -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    report = check(model, target="rtx-1", backend="static")
    assert not report.supported
    assert "graph/no-outputs" in {f.code for f in report.graph_findings}


def _named(length: int, where: str) -> onnx.ModelProto:
    name = "t" * length
    if where == "node":
        nodes, x = [helper.make_node("Relu", ["x"], ["y"], name=name)], "x"
    elif where == "tensor":  # an unnamed node: TensorRT names its layer "node_of_<output>"
        nodes, x = (
            [helper.make_node("Relu", ["x"], [name]), helper.make_node("Relu", [name], ["y"])],
            "x",
        )
    else:
        nodes, x = [helper.make_node("Relu", [name], ["y"])], name
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def _nested_ifs(depth: int) -> onnx.ModelProto:
    def out(name):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, [4])

    inner = helper.make_graph([helper.make_node("Relu", ["x"], ["o0"])], "b0", [], [out("o0")])
    for i in range(1, depth + 1):
        other = helper.make_graph(
            [helper.make_node("Identity", ["x"], [f"e{i}"])], f"e{i}", [], [out(f"e{i}")]
        )
        name = "y" if i == depth else f"o{i}"
        node = helper.make_node("If", ["c"], [name], then_branch=inner, else_branch=other)
        inner = helper.make_graph([node], f"b{i}", [], [out(name)])
    graph = helper.make_graph(
        list(inner.node),
        "g",
        [out("x"), helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [out("y")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def _rank9(as_constant: bool) -> onnx.ModelProto:
    value = numpy_helper.from_array(np.zeros([1] * 9, np.float32), "u")
    return _relu_beside(value, as_constant, opset=17, ir_version=8)


def _limit_cases() -> dict[str, tuple[onnx.ModelProto, str | None]]:
    return {
        "name-4095-input": (_named(4095, "input"), None),
        "name-4096-input": (_named(4096, "input"), "graph/name-too-long"),
        "name-4096-node": (_named(4096, "node"), "graph/name-too-long"),
        "name-4088-unnamed-producer": (_named(4088, "tensor"), "graph/name-too-long"),
        "nesting-24": (_nested_ifs(24), None),
        "nesting-25": (_nested_ifs(25), "graph/nesting-too-deep"),
        "initializer-rank-9": (_rank9(False), "graph/initializer-rank"),
        "constant-rank-9": (_rank9(True), "constant/value-rank"),
    }


@pytest.mark.parametrize("case", sorted(_limit_cases()))
def test_names_nesting_and_ranks_past_the_parser_s_limits(case) -> None:
    _assert_verdict(case, *_limit_cases()[case])


@pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")
def test_the_limits_agree_with_parser() -> None:
    cases = _limit_cases()
    results = parse_models({name: model for name, (model, _) in cases.items()})
    wrong = {
        name: results[name]
        for name, (_, code) in cases.items()
        if results[name].ok != (code is None)
    }
    assert not wrong, wrong
