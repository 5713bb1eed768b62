"""Invalid graphs are findings, never "supported"; hostile files never give a traceback.

Each case builds a broken model and checks: `trt-check` exits 1 with an `invalid/…` finding
in a report that validates against the shipped schema (static backend; the parser backend on
the cases TensorRT's parser takes on trust), and `trt-rewrite --auto` exits 2 with one error
line and one hint, writing nothing.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import validity
from trtforge.analyzer.api import parser_available
from trtforge.analyzer.cli.check import main as check_main
from trtforge.analyzer.cli.rewrite import main as rewrite_main
from trtforge.analyzer.graph import NodeFields

from .schema_check import validate_check_json

N = helper.make_node


def _vi(name: str, elem: int = TensorProto.FLOAT, shape=(2, 2)):
    return helper.make_tensor_value_info(name, elem, list(shape))


def _model(nodes, inputs=None, outputs=None, inits=(), opset=17, ir=8, value_info=()):
    graph = helper.make_graph(
        nodes,
        "g",
        inputs if inputs is not None else [_vi("x")],
        outputs if outputs is not None else [_vi("y")],
        list(inits),
        value_info=list(value_info),
    )
    model = helper.make_model(graph, ir_version=ir)
    del model.opset_import[:]
    if opset is not None:
        model.opset_import.append(helper.make_opsetid("", opset))
    return model


def _relu(**kw):
    return _model([N("Relu", ["x"], ["y"], name="r")], **kw)


def _raw(name: str, elem: int, raw: bytes, dims=(2, 2)) -> TensorProto:
    tensor = TensorProto(name=name, data_type=elem, dims=list(dims))
    tensor.raw_data = raw
    return tensor


def _add_w(w: TensorProto, **kw):
    return _model([N("Add", ["x", "w"], ["y"], name="add")], inits=[w], **kw)


def _wrong_attr_type():
    node = N("Transpose", ["x"], ["y"], name="t")
    node.attribute.append(helper.make_attribute("perm", 1.5))
    return _model([node])


def _typed_short():
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 2])
    w.float_data.extend([1.0, 2.0, 3.0])
    return _add_w(w)


#: name -> (model builder, code of the finding, words of the one-line message)
CASES = {
    "cycle": (
        lambda: _model(
            [
                N("Relu", ["b"], ["a"], name="r1"),
                N("Add", ["a", "x"], ["b"], name="r2"),
                N("Relu", ["b"], ["y"], name="r3"),
            ]
        ),
        "invalid/cycle",
        "a cycle",
    ),
    "dangling-input": (
        lambda: _model([N("Add", ["x", "ghost"], ["y"], name="add")]),
        "invalid/dangling",
        "'ghost' is produced by no node",
    ),
    "relu-no-input": (
        lambda: _model([N("Relu", [], ["y"], name="r")]),
        "invalid/input-count",
        "has 0 input(s)",
    ),
    "duplicate-output": (
        lambda: _model([N("Relu", ["x"], ["y"], name="r1"), N("Sigmoid", ["x"], ["y"], name="s")]),
        "invalid/duplicate-output",
        "output 'y' is already produced",
    ),
    "same-node-output-twice": (
        lambda: _model([N("Split", ["x"], ["y", "y"], name="s", axis=0, num_outputs=2)], opset=18),
        "invalid/duplicate-output",
        "output 'y' is already produced",
    ),
    "transpose-perm": (
        lambda: _model([N("Transpose", ["x"], ["y"], name="t", perm=[5, 7])]),
        "invalid/attribute-value",
        "Invalid attribute perm",
    ),
    "attribute-wrong-type": (_wrong_attr_type, "invalid/attribute-type", "'perm' is FLOAT"),
    "if-branch-is-int": (
        lambda: _model(
            [N("If", ["c"], ["y"], name="if", then_branch=3, else_branch=4)],
            inputs=[_vi("x"), _vi("c", TensorProto.BOOL, ())],
        ),
        "invalid/attribute-type",
        "is INT, the op defines it as GRAPH",
    ),
    "no-opset-import": (lambda: _relu(opset=None), "invalid/opset-import", "no opset_import"),
    "opset-99": (lambda: _relu(opset=99), "invalid/opset", "opset 99 does not exist"),
    "opset-1e6": (lambda: _relu(opset=10**6), "invalid/opset", "opset 1000000 does not exist"),
    "opset-0": (lambda: _relu(opset=0), "invalid/opset", "opset 0"),
    "ir-99": (lambda: _relu(ir=99), "invalid/ir-version", "IR version 99"),
    "raw-data-1-byte": (
        lambda: _add_w(_raw("w", TensorProto.FLOAT, b"\x01")),
        "invalid/tensor-size",
        "1 bytes of raw_data, needs 16",
    ),
    "typed-data-short": (_typed_short, "invalid/tensor-size", "3 values in float_data"),
    "empty-op-type": (
        lambda: _model([N("", ["x"], ["y"], name="n")]),
        "invalid/op-type",
        "has no op_type",
    ),
}
for _elem in (99, 255, 12345, -1):
    CASES[f"input-type-{_elem}"] = (
        lambda e=_elem: _relu(inputs=[_vi("x", e)]),
        "invalid/element-type",
        f"input 'x' has element type {_elem}",
    )
    CASES[f"output-type-{_elem}"] = (
        lambda e=_elem: _relu(outputs=[_vi("y", e)]),
        "invalid/element-type",
        f"output 'y' has element type {_elem}",
    )
    CASES[f"value-info-type-{_elem}"] = (
        lambda e=_elem: _model(
            [N("Relu", ["x"], ["h"], name="r1"), N("Relu", ["h"], ["y"], name="r2")],
            value_info=[_vi("h", e)],
        ),
        "invalid/element-type",
        f"value_info 'h' has element type {_elem}",
    )
    CASES[f"value-info-sequence-type-{_elem}"] = (
        lambda e=_elem: _model(
            [N("Relu", ["x"], ["h"], name="r1"), N("Relu", ["h"], ["y"], name="r2")],
            value_info=[_vi("h"), helper.make_tensor_sequence_value_info("s", e, None)],
        ),
        "invalid/element-type",
        f"value_info 's' has element type {_elem}",
    )
    CASES[f"initializer-type-{_elem}"] = (
        lambda e=_elem: _add_w(_raw("w", e, b"\0" * 16)),
        "invalid/element-type",
        f"initializer 'w' has element type {_elem}",
    )


# a graph input or output with no type, or no element type (the checker passes the latter;
# TensorRT-RTX 1.7.1's parser refuses both: "Failed to convert ONNX data type")
def _lrn(*attributes) -> onnx.ModelProto:
    node = N("LRN", ["x"], ["y"], name="lrn")
    node.attribute.extend(attributes)
    return _model(
        [node], inputs=[_vi("x", shape=(1, 2, 3, 3))], outputs=[_vi("y", shape=(1, 2, 3, 3))]
    )


def _mistyped_size() -> onnx.AttributeProto:
    size = helper.make_attribute("size", 3)
    size.f = 1.0  # an INT attribute holding a FLOAT value too
    return size


def _untyped_size() -> onnx.AttributeProto:
    size = helper.make_attribute("size", 3)
    size.ClearField("type")
    return size


def _referenced_size() -> onnx.AttributeProto:
    return onnx.AttributeProto(name="size", ref_attr_name="s", type=onnx.AttributeProto.INT)


CASES["attribute-given-twice"] = (  # the parser reads the first (16), others the last
    lambda: _lrn(helper.make_attribute("size", 16), helper.make_attribute("size", 3)),
    "invalid/attribute-duplicate",
    "'size' is given more than once",
)
CASES["attribute-two-values"] = (
    lambda: _lrn(_mistyped_size()),
    "invalid/attribute-type",
    "'size' holds several values",
)


def _two_lrns(second: onnx.AttributeProto) -> onnx.ModelProto:
    """A sound LRN (size 3), then one whose `size` is `second`."""
    first = N("LRN", ["x"], ["h"], name="lrn0", size=3)
    other = N("LRN", ["h"], ["y"], name="lrn1")
    other.attribute.append(second)
    shape = (1, 2, 3, 3)
    return _model(
        [first, other],
        inputs=[_vi("x", shape=shape)],
        outputs=[_vi("y", shape=shape)],
        value_info=[_vi("h", shape=shape)],
    )


CASES["attribute-two-values-after-a-sound-one"] = (  # one name and type, other fields held
    lambda: _two_lrns(_mistyped_size()),
    "invalid/attribute-type",
    "'size' holds several values",
)
CASES["attribute-without-type"] = (
    lambda: _lrn(_untyped_size()),
    "invalid/attribute-type",
    "'size' declares no type",
)
CASES["attribute-reference-outside-function"] = (
    lambda: _lrn(_referenced_size()),
    "invalid/attribute-reference",
    "refers to the function attribute 's'",
)


def _calling(body: str, call: str = "y = local.F(x)") -> onnx.ModelProto:
    import onnx.parser

    return onnx.parser.parse_model(
        f"""<ir_version: 8, opset_import: ["": 18, "local": 1]>
        g (float[2,2] x) => (float[2,2] y) {{ {call} }}
        <domain: "local", opset_import: ["": 18]>
        {body}"""
    )


CASES["function-output-made-by-no-node"] = (
    lambda: _calling("F (a) => (b) { c = Relu(a) }"),
    "invalid/function-body",
    "output 'b' is made by no node",
)
CASES["function-reads-undefined-value"] = (
    lambda: _calling("F (a) => (b) { b = Add(a, zz) }"),
    "invalid/function-body",
    "reads 'zz'",
)
CASES["function-call-more-inputs"] = (
    lambda: _calling("F (a) => (b) { b = Relu(a) }", "y = local.F(x, x)"),
    "invalid/function-call",
    "2 input(s)",
)
CASES["function-call-input-left-out"] = (
    lambda: _calling("F (a, c) => (b) { b = Add(a, c) }"),
    "invalid/function-call",
    "input 'c', which its body reads",
)


def _double_regressor() -> onnx.ModelProto:
    """skl2onnx with DoubleTensorType: a TreeEnsembleRegressor (Y: tensor(float) by its
    schema) whose output is declared DOUBLE."""
    node = N(
        "TreeEnsembleRegressor", ["x"], ["y"], domain="ai.onnx.ml", name="trees", n_targets=1,
        nodes_treeids=[0], nodes_nodeids=[0], nodes_featureids=[0], nodes_values=[0.0],
        nodes_modes=["LEAF"], nodes_truenodeids=[0], nodes_falsenodeids=[0],
        target_treeids=[0], target_nodeids=[0], target_ids=[0], target_weights=[1.0],
    )  # fmt: skip
    model = _model(
        [node], inputs=[_vi("x", shape=(2, 3))], outputs=[_vi("y", TensorProto.DOUBLE, (2, 1))]
    )
    model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 1))  # (no type inference)
    return model


CASES["ml-output-declared-double"] = (
    _double_regressor,
    "invalid/inconsistent-types",
    "output 0 is declared DOUBLE, but the op makes FLOAT",
)
CASES["initializer-named-twice"] = (  # which of the two values is 'w' is undefined
    lambda: _model(
        [N("Add", ["x", "w"], ["y"], name="add")],
        inits=[
            numpy_helper.from_array(np.ones((2, 2), np.float32), "w"),
            numpy_helper.from_array(np.zeros((2, 2), np.float32), "w"),
        ],
    ),
    "invalid/duplicate-initializer",
    "initializer 'w' is declared more than once",
)
CASES["graph-input-named-twice"] = (
    lambda: _model([N("Relu", ["x"], ["y"], name="r")], inputs=[_vi("x"), _vi("x")]),
    "invalid/duplicate-input",
    "graph input 'x' is declared more than once",
)
CASES["output-without-type"] = (
    lambda: _relu(outputs=[helper.ValueInfoProto(name="y")]),
    "invalid/missing-type",
    "graph output 'y' has no element type",
)
CASES["output-element-type-0"] = (
    lambda: _relu(outputs=[_vi("y", TensorProto.UNDEFINED)]),
    "invalid/missing-type",
    "graph output 'y' has no element type",
)
CASES["input-without-type"] = (
    lambda: _relu(inputs=[helper.ValueInfoProto(name="x")]),
    "invalid/missing-type",
    "graph input 'x' has no element type",
)

# shapes that do not fit, judged by strict shape inference from the graph's inputs and weights
# (onnxruntime refuses each at load; unnamed nodes, as many exporters write them)
CASES["matmul-inner-dims"] = (
    lambda: _model(
        [N("MatMul", ["x", "w"], ["y"])],
        inputs=[_vi("x", shape=(2, 3)), _vi("w", shape=(4, 5))],
        outputs=[_vi("y", shape=(2, 5))],
    ),
    "invalid/inconsistent-shapes",
    "MatMul node '<MatMul #0>': Incompatible dimensions for matrix multiplication",
)
CASES["split-sizes-sum"] = (
    lambda: _model(
        [N("Split", ["x", "s"], ["a", "b"], axis=0)],
        inputs=[_vi("x", shape=(6,))],
        outputs=[_vi("a", shape=(2,)), _vi("b", shape=(2,))],
        inits=[numpy_helper.from_array(np.array([2, 2], np.int64), "s")],
    ),
    "invalid/inconsistent-shapes",
    "Mismatch between the sum of 'split'",
)
CASES["softmax-axis-out-of-range"] = (
    lambda: _model([N("Softmax", ["x"], ["y"], axis=4)]),
    "invalid/inconsistent-shapes",
    "Softmax node '<Softmax #0>': 'axis' must be in",
)
CASES["squeeze-of-a-dim-that-is-not-1"] = (
    lambda: _model(
        [N("Squeeze", ["x", "a"], ["y"], name="sq")],
        outputs=[_vi("y", shape=(2,))],
        inits=[numpy_helper.from_array(np.array([0], np.int64), "a")],
    ),
    "invalid/inconsistent-shapes",
    "Squeeze node 'sq': Dimension of input 0 must be 1",
)
CASES["transpose-perm-unnamed"] = (
    lambda: _model(
        [N("Transpose", ["x"], ["y"], perm=[1, 0, 2])], outputs=[_vi("y", shape=(2, 2))]
    ),
    "invalid/attribute-value",
    "Transpose node '<Transpose #0>': Invalid attribute perm",
)

CASES["add-float-and-int64"] = (
    lambda: _add_w(numpy_helper.from_array(np.ones((2, 2), np.int64), "w")),
    "invalid/inconsistent-types",
    "Add node 'add': inputs 0 and 1 are both of its type T, but are FLOAT and INT64",
)
CASES["concat-float16-and-float"] = (
    lambda: _model(
        [N("Cast", ["x"], ["h"], to=TensorProto.FLOAT16), N("Concat", ["x", "h"], ["y"], axis=0)],
        outputs=[_vi("y", shape=(4, 2))],
    ),
    "invalid/inconsistent-types",
    "inputs 0 and 1 are both of its type T, but are FLOAT and FLOAT16",
)
CASES["where-in-a-branch"] = (  # a body's node, reported on the If that holds it
    lambda: _model(
        [
            N(
                "If",
                ["c"],
                ["y"],
                name="if",
                then_branch=helper.make_graph(
                    [N("Where", ["m", "x", "i"], ["t"], name="where")],
                    "then",
                    [],
                    [_vi("t")],
                ),
                else_branch=helper.make_graph(
                    [N("Identity", ["x"], ["e"])], "else", [], [_vi("e")]
                ),
            )
        ],
        inputs=[_vi("x"), _vi("c", TensorProto.BOOL, ()), _vi("m", TensorProto.BOOL)],
        inits=[numpy_helper.from_array(np.ones((2, 2), np.int32), "i")],
    ),
    "invalid/inconsistent-types",
    "where': inputs 1 and 2 are both of its type T, but are FLOAT and INT32",
)


def _loop(outputs: list[str], body_outputs: int = 2) -> onnx.ModelProto:
    """Loop(M=3, cond, x) whose body (i, c, a) -> (c2, a2) gives its first `body_outputs`."""
    body = helper.make_graph(
        [N("Identity", ["c"], ["c2"]), N("Relu", ["a"], ["a2"])],
        "body",
        [_vi("i", TensorProto.INT64, ()), _vi("c", TensorProto.BOOL, ()), _vi("a")],
        [_vi("c2", TensorProto.BOOL, ()), _vi("a2")][:body_outputs],
    )
    return _model(
        [N("Loop", ["m", "c0", "x"], outputs, name="loop", body=body)],
        outputs=[_vi(o) for o in outputs if o] or [_vi("y")],
        inits=[
            numpy_helper.from_array(np.array(3, np.int64), "m"),
            numpy_helper.from_array(np.array(True), "c0"),
        ],
    )


# onnx.checker takes both; onnxruntime refuses the first ("Loop::Info") and crashes on the
# second (SIGSEGV), TensorRT's parser refuses both
CASES["loop-body-without-outputs"] = (
    lambda: _loop(["y"], body_outputs=0),
    "invalid/body-signature",
    "Loop node 'loop': its body takes 3 input(s) and gives 0 output(s)",
)
CASES["loop-unnamed-output"] = (
    lambda: _loop(["", "y"]),
    "invalid/body-signature",
    "Loop node 'loop': output 0 has no name",
)


def _if_reading(name: str, nested: bool = False) -> onnx.ModelProto:
    """An If whose then-branch reads `name` (its own output 'y': a cycle), the read one If
    deeper where `nested`."""
    then = helper.make_graph([N("Identity", [name], ["t"], name="read")], "then", [], [_vi("t")])
    if nested:
        inner_else = helper.make_graph([N("Identity", ["x"], ["ie"])], "ie", [], [_vi("ie")])
        then = helper.make_graph(
            [N("If", ["c"], ["t"], name="inner", then_branch=then, else_branch=inner_else)],
            "outer_then",
            [],
            [_vi("t")],
        )
    other = helper.make_graph([N("Identity", ["x"], ["e"])], "else", [], [_vi("e")])
    return _model(
        [N("If", ["c"], ["y"], name="if", then_branch=then, else_branch=other)],
        inputs=[_vi("x"), _vi("c", TensorProto.BOOL, ())],
    )


def _loop_reading_its_output() -> onnx.ModelProto:
    body = helper.make_graph(
        [N("Identity", ["cond"], ["c_out"]), N("Add", ["v", "vf"], ["v_out"], name="add")],
        "body",
        [_vi("i", TensorProto.INT64, ()), _vi("cond", TensorProto.BOOL, ()), _vi("v")],
        [_vi("c_out", TensorProto.BOOL, ()), _vi("v_out")],
    )
    return _model(
        [N("Loop", ["m", "c", "x"], ["vf"], name="loop", body=body)],
        inputs=[_vi("x"), _vi("c", TensorProto.BOOL, ()), _vi("m", TensorProto.INT64, ())],
        outputs=[_vi("vf")],
    )


# a body that reads the output of the node holding it (ONNX's checker: "must be topologically
# sorted"; onnxruntime refuses to load it): static said "supported"
CASES["if-branch-reads-its-if"] = (
    lambda: _if_reading("y"),
    "invalid/cycle",
    "input 'y' is an output of the node that holds this body",
)
CASES["if-branch-reads-its-if-two-deep"] = (
    lambda: _if_reading("y", nested=True),
    "invalid/cycle",
    "input 'y' is an output of the node that holds this body",
)
CASES["loop-body-reads-its-loop"] = (
    _loop_reading_its_output,
    "invalid/cycle",
    "input 'vf' is an output of the node that holds this body",
)


def _pad(pads, y_shape=(2, 2)) -> onnx.ModelProto:
    return _model(
        [N("Pad", ["x", "p"], ["y"], name="pad")],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
        inits=[numpy_helper.from_array(np.array(pads, np.int64), "p")],
    )


# negative pads that cut more than the input holds: ONNX infers a size of -8, onnxruntime fails
# at run time, the parser refuses the node; static said "supported" and trt-rewrite copied it
CASES["pad-cuts-more-than-the-input-declared"] = (
    lambda: _pad([-5, -5, -5, -5]),
    "invalid/negative-dim",
    "size below 0",
)
CASES["pad-cuts-more-than-the-input"] = (
    lambda: _pad([-5, -5, -5, -5], y_shape=None),
    "invalid/negative-dim",
    "has the shape [-8, -8]",
)


def test_a_pad_that_cuts_less_than_the_input_is_valid():
    from trtforge.analyzer.session import ModelSession

    session = ModelSession.unchecked(_pad([-1, 0, 0, 0], y_shape=(1, 2)), True)
    assert not [p for p in session.problems() if p.finding.is_error]


def _if_with_then(then: onnx.GraphProto, cond_type: int = TensorProto.BOOL) -> onnx.ModelProto:
    other = helper.make_graph([N("Neg", ["x"], ["e"])], "else", [], [_vi("e")])
    return _model(
        [N("If", ["c"], ["y"], name="if", then_branch=then, else_branch=other)],
        inputs=[_vi("x"), _vi("c", cond_type, ())],
    )


# scoping and types across bodies (onnx.checker and onnxruntime refuse each; both backends
# said "supported", and trt-build built the first two)
CASES["body-output-named-as-an-outer-value"] = (
    lambda: _if_with_then(
        helper.make_graph(
            [N("Relu", ["x"], ["x"], name="shadow"), N("Identity", ["x"], ["t"])],
            "then",
            [],
            [_vi("t")],
        )
    ),
    "invalid/duplicate-output",
    "output 'x' is already a value of an enclosing graph",
)
CASES["body-output-is-an-outer-value"] = (
    lambda: _if_with_then(helper.make_graph([], "then", [], [_vi("x")])),
    "invalid/dangling",
    "body output 'if/then_branch/x' is a value of an enclosing graph",
)
CASES["if-condition-float"] = (
    lambda: _if_with_then(
        helper.make_graph([N("Neg", ["x"], ["t"])], "then", [], [_vi("t")]), TensorProto.FLOAT
    ),
    "invalid/input-type",
    "input 0 ('cond') is FLOAT; the op takes B as bool only",
)
CASES["where-condition-int64"] = (
    lambda: _model(
        [N("Where", ["m", "x", "x"], ["y"], name="w")],
        inputs=[_vi("x"), _vi("m", TensorProto.INT64)],
    ),
    "invalid/input-type",
    "input 0 ('condition') is INT64",
)


def test_an_input_type_a_runtime_registers_beyond_the_schema_is_no_problem():
    """TorchScript's opset-11 mT5 and WavLM take a Min of INT64 (opset 11's schema lists float
    types only; onnxruntime runs it, TensorRT builds it): not called invalid."""
    from trtforge.analyzer.validity import type_not_allowed

    assert type_not_allowed("Min", "", 11, ["INT64", "INT64"]) is None
    assert type_not_allowed("If", "", 17, ["FLOAT"]) is not None


def _rank0(op: str, inputs: list[str], values: dict) -> onnx.ModelProto:
    return _model(
        [N(op, ["x", *inputs], ["y"], name="n")],
        inits=[numpy_helper.from_array(np.array(v, np.int64), k) for k, v in values.items()],
    )


# inputs the schema defines as 1-D given as scalars: onnxruntime refuses them when it runs the
# node, TensorRT-RTX's parser died of SIGSEGV (ConstantOfShape, Slice) and took trt-build along
CASES["constantofshape-shape-rank-0"] = (
    lambda: _model(
        [N("ConstantOfShape", ["s"], ["c"], name="n"), N("Add", ["x", "c"], ["y"])],
        inits=[numpy_helper.from_array(np.array(2, np.int64), "s")],
    ),
    "invalid/input-rank",
    "input 0 has rank 0; the op takes a 1-D tensor there",
)
CASES["slice-starts-rank-0"] = (
    lambda: _rank0("Slice", ["st", "en"], {"st": 0, "en": 1}),
    "invalid/input-rank",
    "input 1 has rank 0",
)


def test_a_body_reads_values_defined_before_its_node():
    """The control: a branch reading an outer value defined before the If is valid."""
    from trtforge.analyzer.validity import validate

    assert not [p for p in validate(_if_reading("x")) if p.severity == "error"]


#: cases TensorRT's parser accepts on its own (it takes them on trust)
PARSER_CASES = (
    "attribute-wrong-type",
    "graph-input-named-twice",
    "ir-99",
    "value-info-type-99",
    "split-sizes-sum",
    "transpose-perm-unnamed",
)


def _write(tmp_path, case: str) -> str:
    path = tmp_path / "model.onnx"
    path.write_bytes(CASES[case][0]().SerializeToString())
    return str(path)


def _check(path: str, tmp_path, capsys, backend: str = "static"):
    out = tmp_path / "report.json"
    args = [path, "--backend", backend, "--format", "json", "-o", str(out)]
    if backend == "static":
        args += ["--target", "rtx-1"]
    code = check_main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    doc = json.loads(out.read_text())
    validate_check_json(doc)
    return code, doc


def _codes(doc: dict) -> dict[str, str]:
    reasons = [r for n in doc["nodes"] for r in n["reasons"]] + doc["graph"]["reasons"]
    return {r["code"]: r["message"] for r in reasons}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_reports_invalid_graph(case, tmp_path, capsys):
    code, doc = _check(_write(tmp_path, case), tmp_path, capsys)
    _, wanted, words = CASES[case]
    assert code == 1
    assert doc["supported"] is False
    codes = _codes(doc)
    assert wanted in codes, codes
    assert words in codes[wanted]


@pytest.mark.skipif(not parser_available(), reason="no TensorRT parser installed")
@pytest.mark.parametrize("case", PARSER_CASES)
def test_parser_backend_reports_invalid_graph(case, tmp_path, capsys):
    code, doc = _check(_write(tmp_path, case), tmp_path, capsys, backend="parser")
    assert code == 1
    assert CASES[case][1] in _codes(doc)


def _assert_refused(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("trt-rewrite: error: ") and lines[1].startswith("Hint: ")
    assert len(lines[0]) < 600
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize("case", sorted(CASES))
def test_rewrite_refuses_invalid_graph(case, tmp_path, capsys):
    path = _write(tmp_path, case)
    before = sorted(os.listdir(tmp_path))
    out = tmp_path / "out.onnx"
    code = rewrite_main([path, "-o", str(out), "--auto", "--target", "rtx-1"])
    _assert_refused(code, capsys.readouterr().err, "invalid ONNX graph", CASES[case][2])
    assert sorted(os.listdir(tmp_path)) == before  # nothing written, not even a temporary


def _external(tmp_path, data: bytes, length: int | None) -> str:
    """Add(x, w) with a [2,2] FLOAT `w` in external data w.bin holding `data`."""
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 2])
    w.data_location = TensorProto.EXTERNAL
    fields = {"location": "w.bin", "offset": "0"}
    if length is not None:
        fields["length"] = str(length)
    for key, value in fields.items():
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    (tmp_path / "w.bin").write_bytes(data)
    path = tmp_path / "model.onnx"
    path.write_bytes(_add_w(w).SerializeToString())
    return str(path)


def test_external_data_length_shorter_than_tensor(tmp_path, capsys):
    path = _external(tmp_path, b"\0" * 4, length=4)
    code, doc = _check(path, tmp_path, capsys)
    assert code == 1
    assert "external data length 4 bytes, needs 16" in _codes(doc)["invalid/tensor-size"]
    (tmp_path / "report.json").unlink()
    before = sorted(os.listdir(tmp_path))
    code = rewrite_main([path, "-o", str(tmp_path / "out.onnx"), "--auto"])
    err = capsys.readouterr().err
    _assert_refused(code, err, "needs 16")
    assert "wrote" not in err and "graph unchanged" not in err
    assert sorted(os.listdir(tmp_path)) == before


def test_external_data_file_shorter_than_tensor(tmp_path, capsys):
    path = _external(tmp_path, b"\0" * 4, length=None)  # no length: dims say 16 bytes
    before = sorted(os.listdir(tmp_path))
    code = check_main([path, "--backend", "static"])
    err = capsys.readouterr().err
    assert code == 2 and "too short (4 bytes, needs 16)" in err
    code = rewrite_main([path, "-o", str(tmp_path / "out.onnx"), "--auto"])
    _assert_refused(code, capsys.readouterr().err, "too short")
    assert sorted(os.listdir(tmp_path)) == before


def test_valid_models_have_no_validity_problem():
    """The bundled real exports are valid: no invalid/ finding (no false alarm)."""
    from pathlib import Path

    from trtforge.analyzer.validity import validate

    repo = Path(__file__).resolve().parents[2]
    models = sorted((repo / "tests" / "fixtures" / "hf").glob("*.onnx"))
    models.append(repo / "examples" / "transformer_block.onnx")
    assert len(models) > 1
    for path in models:
        proto = onnx.load(str(path), load_external_data=False)
        assert validate(proto) == [], path


def test_unsorted_graph_is_a_warning_not_an_error(tmp_path, capsys):
    """The parser sorts the graph itself: an unsorted acyclic graph is only a warning."""
    model = _model([N("Relu", ["h"], ["y"], name="second"), N("Relu", ["x"], ["h"], name="first")])
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    code, doc = _check(str(path), tmp_path, capsys)
    assert code == 0
    reason = doc["nodes"][0]["reasons"][0]
    assert reason["code"] == "invalid/not-sorted" and reason["severity"] == "warning"


@pytest.mark.parametrize(
    "op, opset, attrs, warned",
    [
        ("DequantizeLinear", 11, {"axis": 1}, True),  # onnxruntime's quantizer at opset 11
        ("DequantizeLinear", 13, {"axis": 1}, False),
        ("Relu", 17, {"alpha": 0.5}, True),
        ("Relu", 17, {"__internal": 1}, False),  # names onnx.checker skips
        ("LayerNormalization", 17, {"anything": 1}, False),  # its schema takes any attribute
    ],
)
def test_an_attribute_the_schema_does_not_define_is_a_warning(op, opset, attrs, warned):
    """onnx.checker refuses an attribute the op does not define at the model's opset, and
    so does onnxruntime; TensorRT's parser reads the attributes it knows whatever the opset:
    a warning (`invalid/attribute-unknown`) that leaves the verdict as it is, exactly where
    onnx.checker refuses the node."""
    from trtforge.analyzer.api import check

    inputs = {"DequantizeLinear": ["w", "s"], "LayerNormalization": ["x", "s"]}.get(op, ["x"])
    node = N(op, inputs, ["y"], name="n", **attrs)
    inits = [
        numpy_helper.from_array(np.ones((2, 2), np.int8), "w"),
        numpy_helper.from_array(np.array(0.5, np.float32), "s"),
    ]
    if op == "LayerNormalization":
        inits[1] = numpy_helper.from_array(np.ones(2, np.float32), "s")
    model = _model([node], inputs=[_vi("x")], inits=inits, opset=opset)
    try:
        onnx.checker.check_model(model)
        refused = False
    except onnx.checker.ValidationError as err:
        refused = "Unrecognized attribute" in str(err)
    assert refused == warned
    report = check(model, target="rtx-1", backend="static")
    codes = {(r.code, r.severity) for n in report.nodes for r in n.reasons}
    assert (("invalid/attribute-unknown", "warning") in codes) == warned
    assert report.supported


def test_weights_in_the_model_are_checked_without_slowing_small_models(tmp_path, capsys):
    """A valid model with real weights passes (sizes agree for raw and typed data)."""
    w = numpy_helper.from_array(np.ones((2, 2), np.float32), "w")
    path = tmp_path / "model.onnx"
    path.write_bytes(_add_w(w).SerializeToString())
    code, doc = _check(str(path), tmp_path, capsys)
    assert code == 0, _codes(doc)


def test_repeated_opset_import_is_valid_only_at_one_version():
    """skl2onnx writes the default domain twice at the same version (onnx.checker accepts
    it); two versions of one domain leave the ops' meaning undefined."""
    from onnx import TensorProto, helper

    from trtforge.analyzer.api import check

    def model(*versions):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
        graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
        return helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", v) for v in versions]
        )

    assert check(model(17, 17), target="trt-10", backend="static").supported
    report = check(model(17, 13), target="trt-10", backend="static")
    assert not report.supported
    assert "invalid/opset-import" in [f.code for f in report.graph_findings]


@pytest.mark.parametrize("named", [True, False])
def test_rewrite_refuses_inputs_that_do_not_broadcast(named, tmp_path, capsys):
    """Add([2, 4], [3, 4]): onnx.checker's light check passes, but onnxruntime and TensorRT
    refuse the node and the full check fails, so trt-rewrite writes nothing (not even an
    unchanged copy)."""
    node = helper.make_node("Add", ["x", "g"], ["y"], name="bad add" if named else "")
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4]),
            helper.make_tensor_value_info("g", TensorProto.FLOAT, [3, 4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)  # the light check does not see it
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    before = sorted(os.listdir(tmp_path))
    code = rewrite_main(
        [str(path), "-o", str(tmp_path / "out.onnx"), "--auto", "--target", "rtx-1"]
    )
    err = capsys.readouterr().err
    # the knowledge base's broadcast rule or strict inference's confirmed error, whichever
    # trt-rewrite reports first
    assert code == 2 and ("do not broadcast" in err or "Incompatible dimensions" in err), err
    assert ("'bad add'" in err) == named
    assert sorted(os.listdir(tmp_path)) == before


def test_a_stale_declared_shape_is_not_an_invalid_graph(tmp_path, capsys):
    """A value_info or graph output declaring a shape the nodes do not compute (left by a tool
    that edited the graph) makes strict inference fail, but the graph itself is sound: the
    check confirms each shape error without those declarations before calling it invalid."""
    model = _model(
        [N("Relu", ["x"], ["h"]), N("Relu", ["h"], ["y"])],
        value_info=[_vi("h", shape=(3, 3))],
        outputs=[_vi("y", shape=(5, 5))],
    )
    path = tmp_path / "stale.onnx"
    onnx.save(model, path)
    with pytest.raises(Exception, match="Inference error"):
        onnx.shape_inference.infer_shapes(model, strict_mode=True)
    code, doc = _check(str(path), tmp_path, capsys)
    assert not [c for c in _codes(doc) if c.startswith("invalid/")], _codes(doc)
    assert doc["supported"] is True


def _ifs_then(last: list[onnx.NodeProto], value_info=(), inits=()) -> onnx.ModelProto:
    """Six Ifs, each followed by a Relu, over x [2, 2], then the nodes `last` (reading r5)."""
    nodes = []
    current = "x"
    for i in range(6):
        branches = {
            f"{side}_branch": helper.make_graph(
                [N(op, [current], [f"{side}{i}"])],
                f"{side}{i}",
                [],
                [helper.make_tensor_value_info(f"{side}{i}", TensorProto.FLOAT, None)],
            )
            for side, op in (("then", "Identity"), ("else", "Neg"))
        }
        nodes += [N("If", ["cond"], [f"i{i}"], name=f"if{i}", **branches)]
        nodes += [N("Relu", [f"i{i}"], [f"r{i}"], name=f"relu{i}")]
        current = f"r{i}"
    return _model(
        nodes + last,
        inputs=[_vi("x"), helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        outputs=[helper.make_tensor_value_info(last[-1].output[0], TensorProto.FLOAT, None)],
        value_info=value_info,
        inits=inits,
    )


@pytest.mark.parametrize("stale", [True, False], ids=["stale-declaration", "conflict"])
def test_conflicts_among_many_bodies_are_confirmed_as_one_run_confirms(stale, monkeypatch):
    """A graph of many Ifs has its strict-inference conflicts confirmed by run A alone
    (`_split_inference.top_level_error`, small scopes): a stale declaration is still no
    problem, a MatMul whose inputs do not fit still one; the problems are those confirming
    by one run finds."""
    from trtforge.analyzer import _split_inference, validity

    if _split_inference._split is None:
        pytest.skip("the native planner is not built")
    monkeypatch.setattr(_split_inference, "may_be_worth", lambda *_: True)
    monkeypatch.setattr(_split_inference, "worth_splitting", lambda *_: True)
    weight = numpy_helper.from_array(np.ones((2 if stale else 3, 2), np.float32), "w")
    model = _ifs_then(
        [N("MatMul", ["r5", "w"], ["y"], name="mm")],
        value_info=[_vi("r2", shape=(2, 7))] if stale else [],
        inits=[weight],
    )
    with pytest.raises(Exception, match="Inference error"):
        onnx.shape_inference.infer_shapes(model, strict_mode=True)
    error = validity._strict_error(model)
    made = []
    real = _split_inference.top_level_error
    monkeypatch.setattr(
        _split_inference, "top_level_error", lambda *a: made.append(real(*a)) or made[-1]
    )
    by_run_a = validity.inference_problems(error, model)
    assert made and made[0] is not None  # run A was made
    monkeypatch.setattr(_split_inference, "top_level_error", lambda *a: None)
    by_one_run = validity.inference_problems(error, model)
    assert [p.finding for p in by_run_a] == [p.finding for p in by_one_run]
    codes = [p.finding.code for p in by_run_a]
    assert codes == ([] if stale else ["invalid/inconsistent-shapes"]), codes


def test_an_error_of_strict_inference_on_an_unnamed_node_counts(tmp_path, capsys):
    """ConvTranspose with a full N,C,H,W output_shape: TensorRT's parser takes it, but ONNX
    (strict inference, onnx.checker's full check) and onnxruntime refuse the model, so it is
    invalid, never "supported" (an unnamed node, whose error names no node)."""
    weights = numpy_helper.from_array(np.ones((1, 2, 3, 3), np.float32), "w")
    node = N("ConvTranspose", ["x", "w"], ["y"], strides=[3, 2], output_shape=[1, 2, 10, 8])
    model = _model(
        [node],
        inputs=[_vi("x", shape=(1, 1, 3, 3))],
        outputs=[_vi("y", shape=(1, 2, 10, 8))],
        inits=[weights],
    )
    path = tmp_path / "deconv.onnx"
    onnx.save(model, path)
    code, doc = _check(str(path), tmp_path, capsys)
    assert code == 1 and doc["supported"] is False
    assert "output_shape has incorrect size" in _codes(doc)["invalid/attribute-value"]


def test_a_body_sees_the_names_defined_before_its_node():
    """Between many Constants (whose attributes are searched for tensors), an If's body
    sees exactly the names defined before the If: one defined after it is reported."""
    from trtforge.analyzer.validity import check_validity

    def constant(name: str) -> onnx.NodeProto:
        return N("Constant", [], [name], value=numpy_helper.from_array(np.ones(2, np.float32)))

    body = helper.make_graph([N("Add", ["early", "late"], ["out"])], "body", [], [_vi("out")])
    nodes = [constant(f"c{i}") for i in range(50)]
    nodes += [constant("early"), N("If", ["cond"], ["y"], name="if", then_branch=body,
                                   else_branch=body), constant("late")]  # fmt: skip
    nodes += [constant(f"d{i}") for i in range(50)]
    model = _model(nodes, inputs=[_vi("x"), _vi("cond", TensorProto.BOOL, ())])
    messages = [p.message for p in check_validity(model)]
    assert any("'late'" in m for m in messages), messages
    assert not any("'early'" in m for m in messages), messages


def test_initializer_names_read_from_the_file_define_what_the_protos_do():
    """`check_validity` given the initializers' names read from the file's bytes
    (`LoadedModel.initializer_heads`) finds what it finds reading them from the protos: an
    input read from an initializer is defined, one from nowhere is dangling; names of
    another count are not used."""
    from trtforge.analyzer.loading import load_model
    from trtforge.analyzer.validity import check_validity

    graph = helper.make_graph(
        [
            helper.make_node("Add", ["x", "w"], ["y"], name="reads_w"),
            helper.make_node("Add", ["y", "nowhere"], ["z"], name="dangles"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.ones(2, np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    loaded = load_model(model.SerializeToString())
    names = loaded.initializer_heads.names
    assert names == ["w"]
    from_file = check_validity(loaded.proto, initializer_names=names)
    assert [(p.node, p.finding.code) for p in from_file] == [
        (p.node, p.finding.code) for p in check_validity(loaded.proto)
    ]
    assert [p.node for p in from_file if p.finding.code.endswith("dangling")] == [1]
    wrong = check_validity(loaded.proto, initializer_names=["w", "nowhere"])  # not this graph's
    assert [p.finding.code for p in wrong] == [p.finding.code for p in from_file]


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_an_invalid_graph_gets_no_rewrite_command(fmt, tmp_path, capsys):
    """A node both invalid and fixable on its own (a STRING scale: unsupported-dtype, which
    --fold-constants would fix on a valid graph): trt-rewrite refuses an invalid graph, so the
    report gives no trt-rewrite command and says to fix the graph first."""
    from trtforge.analyzer.reports._summary import INVALID_LINE

    inits = [
        numpy_helper.from_array(np.array([1, 2, 3, 4], np.int8), "w"),
        helper.make_tensor("s", TensorProto.STRING, [], [b"-1"]),
    ]
    node = N("DequantizeLinear", ["w", "s"], ["y"], name="dq")
    model = _model([node], inputs=[], outputs=[_vi("y", shape=(4,))], inits=inits, opset=21)
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    out = tmp_path / f"report.{fmt}"
    code = check_main(
        [str(path), "--backend", "static", "--target", "rtx-1", "--format", fmt, "-o", str(out)]
    )
    text = " ".join(out.read_text().split())
    assert code == 1
    assert "invalid/" in text and "unsupported-dtype" in text
    assert "trt-rewrite " + str(path) not in text
    assert " ".join(INVALID_LINE.split()) in text


@pytest.mark.parametrize(
    "case", ["add-float-and-int64", "concat-float16-and-float", "where-in-a-branch"]
)
def test_inputs_bound_to_one_type_agree_with_the_full_checker(case, tmp_path, capsys):
    """A type-variable mismatch is what onnx.checker's full check refuses ("inconsistent
    type" / "bound to different types"), and trt-quantize refuses it as trt-rewrite does:
    exit 2, one line, no traceback (onnxruntime died on it in calibration)."""
    from trtforge.analyzer.cli.quantize import main as quantize_main

    model = CASES[case][0]()
    with pytest.raises(onnx.shape_inference.InferenceError, match="inconsistent type"):
        onnx.checker.check_model(model, full_check=True)
    path = _write(tmp_path, case)
    code = quantize_main([path, "-o", str(tmp_path / "q.onnx"), "--random-calibration"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "inconsistent-types" not in err, err
    assert CASES[case][2] in err
    assert not (tmp_path / "q.onnx").exists()


def test_inputs_of_one_type_or_of_types_the_schema_keeps_apart_are_valid():
    """One type per type variable (Add of two FLOAT, a Concat of three), types the schema
    binds to different variables (DequantizeLinear's INT8 data and FLOAT scale, Reshape's
    INT64 shape), a Loop's carried values of any types (a heterogeneous variadic) and
    unknown types: no finding, as onnx.checker's full check passes them."""
    from trtforge.analyzer import validity

    assert validity.type_mismatch("Add", "", 17, ["FLOAT", "FLOAT"]) is None
    assert validity.type_mismatch("Concat", "", 13, ["FLOAT"] * 3) is None
    assert validity.type_mismatch("DequantizeLinear", "", 21, ["INT8", "FLOAT", "INT8"]) is None
    assert validity.type_mismatch("Reshape", "", 14, ["FLOAT", "INT64"]) is None
    assert validity.type_mismatch("Loop", "", 16, ["INT64", "BOOL", "FLOAT", "INT32"]) is None
    assert validity.type_mismatch("Add", "", 17, ["FLOAT", "UNDEFINED"]) is None
    assert validity.type_mismatch("Add", "com.example", 1, ["FLOAT", "INT64"]) is None
    assert "INT8 and UINT8" in validity.type_mismatch(
        "DequantizeLinear", "", 21, ["INT8", "FLOAT", "UINT8"]
    )
    assert "FLOAT and INT64" in validity.type_mismatch("Sum", "", 13, ["FLOAT", "FLOAT", "INT64"])
    quantized = _model(
        [N("DequantizeLinear", ["q", "s", "z"], ["y"])],
        inputs=[_vi("q", TensorProto.INT8)],
        inits=[
            numpy_helper.from_array(np.array(0.5, np.float32), "s"),
            numpy_helper.from_array(np.array(0, np.int8), "z"),
        ],
        opset=21,
    )
    onnx.checker.check_model(quantized, full_check=True)
    from trtforge.analyzer.session import ModelSession

    assert ModelSession.unchecked(quantized).problems() == []


def test_a_body_signature_inside_a_model_local_function_is_checked():
    """A Loop of unnamed output inside a function: onnxruntime crashed (SIGSEGV) in
    trt-quantize's calibration, and the static backend said SUPPORTED."""
    from trtforge.analyzer.validity import validate

    loop = _loop(["", "y"]).graph.node[0]
    function = helper.make_function(
        "local", "F", ["x"], ["y"], [loop], [helper.make_opsetid("", 17)]
    )
    model = _model(
        [N("F", ["x"], ["y"], domain="local")],
        inits=[
            numpy_helper.from_array(np.array(3, np.int64), "m"),
            numpy_helper.from_array(np.array(True), "c0"),
        ],
    )
    model.functions.append(function)
    model.opset_import.append(helper.make_opsetid("local", 1))
    codes = [p.finding.code for p in validate(model) if p.finding.is_error]
    assert "invalid/body-signature" in codes, codes


def test_an_invalid_node_without_importer_is_promised_no_fix():
    """trt-rewrite refuses an invalid graph, so trt-check names no pass for its node (the
    lower-ml fix line was printed beside the invalid finding of a DOUBLE-declared tree)."""
    from trtforge.analyzer import check

    (node,) = check(_double_regressor(), target="rtx-1", backend="static").nodes
    assert "invalid/inconsistent-types" in {f.code for f in node.errors}
    assert not node.fixes


def _problems_found(model: onnx.ModelProto) -> list[tuple]:
    return [
        (p.node, p.finding.code, p.finding.message, p.finding.severity)
        for p in validity.check_validity(model)
    ]


def _in_a_branch(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with its nodes inside an If's then branch (their outputs the branch's; the
    else branch passes the first input through as each of them): what a body holding them
    finds, which a large body checks in bulk."""
    graph = model.graph
    outputs = [o.name for o in graph.output]
    then_branch = helper.make_graph(list(graph.node), "then", [], list(graph.output))
    first = graph.input[0].name if len(graph.input) else outputs[0]
    passed = [N("Identity", [first], [f"{name}_else"]) for name in outputs]
    else_outputs = [helper.make_value_info(f"{name}_else", o.type) for name, o in zip(
        outputs, graph.output, strict=True)]  # fmt: skip
    else_branch = helper.make_graph(passed, "else", [], else_outputs)
    wrapped = onnx.ModelProto()
    wrapped.CopyFrom(model)
    del wrapped.graph.node[:], wrapped.graph.output[:]
    wrapped.graph.input.append(helper.make_tensor_value_info("cond", TensorProto.BOOL, []))
    wrapped.graph.node.append(
        N("If", ["cond"], [f"{name}_if" for name in outputs], name="branch",
          then_branch=then_branch, else_branch=else_branch)
    )  # fmt: skip
    wrapped.graph.output.extend(
        helper.make_value_info(f"{name}_if", o.type)
        for name, o in zip(outputs, graph.output, strict=True)
    )
    return wrapped


def _invalid_nodes_among_sound_ones() -> onnx.ModelProto:
    """Adds of one input (their signature breaks Add's schema) among Relus, a Constant
    with a tensor of the wrong size (an attribute problem) and an If whose branch reads an
    undefined value: what the bulk check finds in node order, schema problems first."""
    bad = onnx.TensorProto(name="v", data_type=TensorProto.FLOAT, dims=[3], float_data=[1.0])
    branch = helper.make_graph([N("Relu", ["nowhere"], ["b"])], "then", [], [_vi("b")])
    nodes = [
        N("Relu", ["x"], ["r0"], name="r0"),
        N("Add", ["r0"], ["a0"], name="a0"),
        N("Constant", [], ["c"], name="c", value=bad),
        N("Add", ["a0"], ["a1"], name="a1"),
        N("If", ["cond"], ["i"], name="if", then_branch=branch, else_branch=branch),
        N("Add", ["a1"], ["a2"], name="a2"),
        N("Sum", ["a2", "c"], ["y"], name="sum"),
    ]
    inputs = [_vi("x"), helper.make_tensor_value_info("cond", TensorProto.BOOL, [])]
    return _model(nodes, inputs)


@pytest.mark.parametrize("case", [*sorted(CASES), "invalid-among-sound"])
def test_the_graph_checked_in_bulk_finds_what_the_walk_finds(case, monkeypatch):
    """The top-level graph read as columns is checked in bulk (`_GraphChecker._sound`),
    nodes whose signature breaks their schema included (100,000 Adds of one input): the
    problems (node, code, message, severity, in order) are those the node-by-node walk
    finds."""
    model = _invalid_nodes_among_sound_ones() if case == "invalid-among-sound" else CASES[case][0]()
    walked = _problems_found(model)
    bulk_checks = []
    sound = validity._GraphChecker._sound

    def spied(self, *args, **kwargs):
        bulk_checks.append(sound(self, *args, **kwargs))
        return bulk_checks[-1]

    monkeypatch.setattr(validity._GraphChecker, "_sound", spied)
    fields = NodeFields.read(model.graph)
    bulk = [
        (p.node, p.finding.code, p.finding.message, p.finding.severity)
        for p in validity.check_validity(model, fields=fields)
    ]
    assert bulk == walked
    if case == "invalid-among-sound":
        codes = [code for _, code, _, _ in walked]
        assert codes.count("invalid/input-count") == 3 and len(set(codes)) >= 3, codes
        assert bulk_checks == [True]  # (checked in bulk, not walked)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bodies_checked_in_bulk_find_what_the_walk_finds(case, monkeypatch):
    """A large body is read as columns and checked in bulk where it can be
    (`BULK_BODY_NODES`): on every case, as it is and with its nodes inside an If's branch,
    the problems (node, code, message, severity, in order) are those the node-by-node walk
    finds."""
    model = CASES[case][0]()
    models = [model]
    if len(model.graph.output):
        models.append(_in_a_branch(model))
    for each in models:
        monkeypatch.setattr(validity, "BULK_BODY_NODES", 10**9)
        walked = _problems_found(each)
        monkeypatch.setattr(validity, "BULK_BODY_NODES", 1)
        assert _problems_found(each) == walked


@pytest.mark.parametrize(
    ("declared_as", "run"),
    [("value_info", False), ("graph output", True), ("written twice", True)],
)
def test_a_merge_with_a_value_info_declaration_alone_needs_no_confirming_run(
    declared_as, run, monkeypatch
):
    """A node's output merged with a shape only value_info declares (onnxruntime-genai's
    builder declares a shared constant of rank 1 with rank 0 in every model it writes) is a
    stale declaration without the run on the graph without declarations: that run cannot
    raise it again. Declared as a graph output, or written by two nodes, the merge could
    come from those: the run is made. The problems are those the run finds either way."""
    from trtforge.analyzer import validity

    nodes = [N("Relu", ["x"], ["h"], name="relu"), N("Relu", ["h"], ["y"], name="last")]
    value_info, outputs = [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if declared_as == "value_info":
        value_info = [_vi("h", shape=(3,))]
    elif declared_as == "graph output":
        outputs = [_vi("y", shape=(3,))]
    else:
        nodes.append(N("Identity", ["x"], ["h"], name="again"))
        value_info = [_vi("h", shape=(3,))]
    model = _model(nodes, value_info=value_info, outputs=outputs)
    error = validity._strict_error(model)
    assert "existing shape differ in rank" in error, error
    made = []
    real = validity._strict_error
    monkeypatch.setattr(validity, "_strict_error", lambda *a, **k: made.append(1) or real(*a, **k))
    problems = validity.inference_problems(error, model)
    assert bool(made) == run
    # the graph's columns, where the caller has them, read as the nodes are
    del made[:]
    by_columns = validity.inference_problems(error, model, NodeFields.read(model.graph))
    assert bool(made) == run and by_columns == problems
    monkeypatch.setattr(validity, "_declaration_merges", lambda *_: set())
    assert [p.finding for p in problems] == [
        p.finding for p in validity.inference_problems(error, model)
    ]


def _errors_piece_by_piece(error: str) -> list[tuple[str, str, str, str]]:
    """`validity._inference_errors`' reading, each line cut where each node's error starts:
    the reference for its one match over the whole text."""
    import re

    out = []
    for top in error.split("\n"):
        parent = ""
        for position, piece in enumerate(re.split(r"(?=\(op_type:)", top)):
            match = re.search(r"\(op_type:([^,)]*)(?:, node name: ([^)]*))?\): (.*)", piece)
            if match is not None:
                op, name, raw = match.groups()
                why = re.sub(r"^(\[[A-Za-z]+\]\s*)+", "", " ".join(raw.split()))
                out.append((op.strip(), name or "", why, parent if position > 1 else ""))
                if position == 1:
                    parent = op.strip()
    return out


def test_inference_errors_are_read_as_each_line_cut_at_each_node():
    """What strict inference raised is read as each of its lines cut where each node's error
    starts: on ONNX's own errors (a cascade after MeanVarianceNormalization's failing function
    body, an error inside it, nodes with and without names) and on random text of the pieces
    such errors are made of (names holding their marks, several nodes on a line, none)."""
    import random

    nodes = [N("MeanVarianceNormalization", ["x"], ["m"], name="mvn")]
    nodes += [N("Relu", ["m"], ["r"]), N("Softmax", ["r"], ["y"], name="soft, max): (op_type:")]
    error = validity._strict_error(_model(nodes))
    assert "(op_type:Constant)" in error and "instead is null" in error, error
    assert validity._inference_errors(error) == _errors_piece_by_piece(error)
    assert any(
        parent == "MeanVarianceNormalization" for *_, parent in _errors_piece_by_piece(error)
    )
    pieces = ["(op_type:", ", node name: ", "): ", "\n", ")", ",", "[ShapeInferenceError] ", " ",
              "(", "Add", "n1", "\r", "(op_type", "\x0b", "\u2028", "\t", "x"]  # fmt: skip
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        assert validity._inference_errors(text) == _errors_piece_by_piece(text), repr(text)


def test_the_domains_input_problems_reads_are_onnx_s():
    """`validity.input_problems` reads onnx's schemas only: the domains they are of are the
    ones it looks a node's inputs up for (a custom op's are never looked up)."""
    schemas = onnx.defs.get_all_schemas_with_history()
    assert validity._ONNX_SCHEMA_DOMAINS == {schema.domain for schema in schemas}


def test_invalid_nodes_alike_share_their_verdict_as_rendered():
    """Nodes of one kind that break their schema alike (Adds of one input) get findings
    that differ only by the node's name: their verdicts share a `kin`, which the renderers
    ask once (100,000 such nodes are grouped in one pass). A node that breaks it otherwise
    (an Add of three inputs) is a kind of its own, and the findings stay each node's."""
    from trtforge.analyzer.api import check

    alike = [N("Add", [f"t{i}" if i else "x"], [f"t{i + 1}"], name=f"a{i}") for i in range(40)]
    other = N("Add", ["t40", "x", "x"], ["y"], name="three")
    model = _model([*alike, other])
    report = check(model, target="rtx-1", backend="static")
    verdicts = report.nodes
    assert all(v.status == "unsupported" for v in verdicts)
    assert all(v.reasons[0].code == "invalid/input-count" for v in verdicts)
    # each finding names its own node
    assert [v.reasons[0].message.split(":")[0] for v in verdicts[:2]] == [
        "Add node 'a0'",
        "Add node 'a1'",
    ]
    kins = {id(v.kin) for v in verdicts[:40]}
    assert len(kins) == 1 and verdicts[0].kin is not None
    assert verdicts[40].kin is not verdicts[0].kin
    # rendered as without the sharing: the report's text, JSON and Markdown are the same
    from trtforge.analyzer.reports import render

    shown = {fmt: render(report, fmt) for fmt in ("text", "json", "markdown")}
    for verdict in verdicts:
        verdict.kin = None
    assert shown == {fmt: render(report, fmt) for fmt in ("text", "json", "markdown")}
    assert "and 36 more Add nodes with the same findings" in shown["text"]


def test_a_verdict_with_findings_of_its_own_keeps_them_apart():
    """`validity.attach` lets verdicts share only where they shared before (or had no
    finding): a node with a finding of its own that also breaks its schema is kin to none."""
    from trtforge.analyzer.findings import Finding
    from trtforge.analyzer.report import NodeVerdict, Report

    verdicts = NodeVerdict.many(["a", "b", "c"], ["Add"] * 3, [""] * 3)
    verdicts[2].status = "unsupported"
    verdicts[2].reasons = [Finding("add/own", "Add node 'c': its own")]
    report = Report(model=None, target="rtx-1", backend="static", nodes=verdicts)
    finding = Finding("invalid/input-count", "Add node '?': has 1 input(s)")
    alike = object()
    problems = [validity.Problem(i, finding, alike) for i in range(3)]
    validity.attach(report, problems)
    assert verdicts[0].kin is verdicts[1].kin is not None
    assert verdicts[2].kin is None
    assert [r.code for r in verdicts[2].reasons] == ["invalid/input-count", "add/own"]


def _checker_wants_a_shape(model: onnx.ModelProto) -> bool:
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as err:
        return "Field 'shape' of 'type' is required" in str(err)
    return False


@pytest.mark.parametrize("backend", ["static", "parser"])
def test_graph_outputs_without_shape_are_a_warning_as_onnx_checker_refuses_them(
    backend, tmp_path, capsys
):
    """Top-level graph outputs of an element type and no shape: onnx.checker refuses the
    model, TensorRT's parser takes it. One warning names them (three, then how many more),
    the verdict stands (exit 0), and it is given exactly where the checker asks for a shape:
    not for a scalar (a shape without dims), an untyped output (`missing-type`), or a body's
    outputs."""
    if backend == "parser" and not parser_available():
        pytest.skip("no TensorRT parser installed")
    shapeless = [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in range(5)]
    nodes = [N("Relu", ["x"], [f"y{i}"], name=f"r{i}") for i in range(5)]
    branch = helper.make_graph(
        [N("Relu", ["x"], ["b"])],
        "b",
        [],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)],
    )
    cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    cases = {
        "one": (_model(nodes[:1], outputs=shapeless[:1]), "graph output 'y0' declares no shape"),
        "five": (
            _model(nodes, outputs=shapeless),
            "graph outputs 'y0', 'y1', 'y2' and 2 more declare no shape",
        ),
        "scalar": (
            _model([N("ReduceSum", ["x"], ["y"], keepdims=0)], outputs=[_vi("y", shape=())]),
            None,
        ),
        "shaped": (_relu(), None),
        "body": (
            _model(
                [N("If", ["c"], ["y"], then_branch=branch, else_branch=branch)],
                inputs=[_vi("x"), cond],
                outputs=[_vi("y")],
            ),
            None,
        ),
    }
    for case, (model, words) in cases.items():
        path = tmp_path / f"{case}.onnx"
        path.write_bytes(model.SerializeToString())
        code, doc = _check(str(path), tmp_path, capsys, backend)
        codes = _codes(doc)
        assert (words is not None) == _checker_wants_a_shape(model), case
        if words is None:
            assert "invalid/output-shape" not in codes, (case, codes)
            continue
        assert code == 0 and doc["supported"] is True, (case, codes)
        assert words in codes["invalid/output-shape"], codes
        (finding,) = [r for r in doc["graph"]["reasons"] if r["code"] == "invalid/output-shape"]
        assert finding["severity"] == "warning" and "infer_shapes" in finding["hint"]
    # trt-rewrite refuses such a model, and says how to give it the shapes; so fixed, it
    # rewrites it
    path, out = tmp_path / "one.onnx", tmp_path / "out.onnx"
    assert rewrite_main([str(path), "-o", str(out), "--auto"]) == 2 and not out.exists()
    assert "infer_shapes" in capsys.readouterr().err
    onnx.save(onnx.shape_inference.infer_shapes(onnx.load(path)), path)
    assert rewrite_main([str(path), "-o", str(out), "--auto"]) == 0
    onnx.checker.check_model(onnx.load(out))
