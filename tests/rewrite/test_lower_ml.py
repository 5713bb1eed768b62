"""lower-ml: every ai.onnx.ml op the pass handles becomes standard ONNX computing what
onnxruntime's ai.onnx.ml kernel computes (the original runs in onnxruntime: the comparison is
against it), for every variant (post transforms, kernels, node modes, aggregations, binary and
multi-class layouts)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from trtforge.analyzer.rewrite.registry import passes_removing
from trtforge.analyzer.rewrite.verify import make_inputs, run_model, verify

ML = "ai.onnx.ml"
F = 4  # features
RNG = np.random.default_rng(7)


def ml_model(
    op, attrs, outputs, x_type=TensorProto.FLOAT, x_shape=("N", F), extra_inputs=(), ml_opset=3
):
    """One ai.onnx.ml node `op` on input x; `outputs` = [(name, elem_type, shape)]."""
    node = helper.make_node(
        op, ["x", *[i.name for i in extra_inputs]], [o[0] for o in outputs], domain=ML, **attrs
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", x_type, list(x_shape))],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        initializer=list(extra_inputs),
    )
    model = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", 17 if ml_opset < 5 else 21),
            helper.make_opsetid(ML, ml_opset),
        ],
        ir_version=8 if ml_opset < 5 else 10,
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def lowered(rw, model, **options):
    result = rw.apply(model, "lower-ml", **options)
    stats = result.passes["lower-ml"]
    assert stats.applied == 1, [s.reason for s in stats.skips]
    assert not any(n.domain == ML for n in result.proto.graph.node)
    onnx.checker.check_model(result.proto, full_check=True)
    for seed in (1, 2):
        check = verify(model, result.proto, seed=seed, dims={"N": 7})
        assert check.ok, check.describe_worst()
    assert not rw.apply(result.proto, "lower-ml").changed  # idempotent
    return result.proto


TRANSFORMS = ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]
SCORES = ("scores", TensorProto.FLOAT, ["N", None])
LABEL = ("label", TensorProto.INT64, ["N"])


def _rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32).reshape(-1).tolist()


# -- preprocessing ops --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "op,attrs,x_type",
    [
        ("Scaler", {"offset": [0.5, -1, 2, 0], "scale": [2.0, 0.5, 1, 3]}, TensorProto.FLOAT),
        ("Scaler", {"offset": [1.0], "scale": [0.25]}, TensorProto.DOUBLE),
        ("Scaler", {"offset": [1.0], "scale": [0.25]}, TensorProto.INT64),
        ("Normalizer", {"norm": "MAX"}, TensorProto.FLOAT),
        ("Normalizer", {"norm": "L1"}, TensorProto.FLOAT),
        ("Normalizer", {"norm": "L2"}, TensorProto.DOUBLE),
        ("Binarizer", {"threshold": 0.3}, TensorProto.FLOAT),
        ("Binarizer", {"threshold": 0.0}, TensorProto.FLOAT),
    ],
)
def test_elementwise_ops(rw, op, attrs, x_type):
    out_type = x_type if op == "Binarizer" else TensorProto.FLOAT
    if op == "Normalizer":
        out_type = TensorProto.FLOAT
    lowered(rw, ml_model(op, attrs, [("y", out_type, ["N", F])], x_type=x_type))


@pytest.mark.parametrize("norm", ["MAX", "L1", "L2"])
def test_normalizer_rows_of_norm_zero_stay_as_onnxruntime_leaves_them(rw, norm):
    """An all-zero row (sparse count or TF-IDF features) became NaN; onnxruntime keeps it
    (and, for MAX, a row whose largest value is 0; for L2, one whose squares underflow)."""
    model = ml_model("Normalizer", {"norm": norm}, [("y", TensorProto.FLOAT, ["N", F])])
    out = lowered(rw, model)
    x = np.array(
        [[0, 0, 0, 0], [-1, -2, 0, -3], [-1, -2, -4, -0.5], [1, 2, 3, 4], [0, 0, 0, 1e-30]],
        np.float32,
    )
    np.testing.assert_allclose(
        run_model(out, {"x": x})["y"], run_model(model, {"x": x})["y"], rtol=1e-6
    )


def test_imputer_nan_and_value(rw):
    lowered(
        rw,
        ml_model(
            "Imputer",
            {"imputed_value_floats": [1.0, 2, 3, 4], "replaced_value_float": float("nan")},
            [("y", TensorProto.FLOAT, ["N", F])],
        ),
    )
    model = ml_model(
        "Imputer",
        {"imputed_value_int64s": [7], "replaced_value_int64": 1},
        [("y", TensorProto.INT64, ["N", F])],
        x_type=TensorProto.INT64,
    )
    lowered(rw, model)


def test_imputer_replaces_nans_exactly(rw):
    model = ml_model(
        "Imputer",
        {"imputed_value_floats": [9.0], "replaced_value_float": float("nan")},
        [("y", TensorProto.FLOAT, ["N", F])],
    )
    out = lowered(rw, model)
    x = np.array([[np.nan, 1, 2, np.nan]], np.float32)
    np.testing.assert_array_equal(run_model(out, {"x": x})["y"], [[9, 1, 2, 9]])


def test_array_feature_extractor(rw):
    indices = helper.make_tensor("idx", TensorProto.INT64, [2], [3, 1])
    lowered(
        rw,
        ml_model(
            "ArrayFeatureExtractor",
            {},
            [("y", TensorProto.FLOAT, ["N", 2])],
            extra_inputs=[indices],
        ),
    )


@pytest.mark.parametrize("opset", [11, 17])
def test_array_feature_extractor_on_a_1d_label_table(rw, opset):
    """scikit-learn's converters pick class labels from a 1-D table by the ArgMax of the
    scores: onnxruntime returns one row [1, indices] (an MLP / naive Bayes / k-NN export)."""
    classes = helper.make_tensor("classes", TensorProto.INT64, [4], [10, 20, 30, 40])
    graph = helper.make_graph(
        [
            helper.make_node("ArgMax", ["x"], ["i"], axis=1, keepdims=1),
            helper.make_node("ArrayFeatureExtractor", ["classes", "i"], ["y"], domain=ML),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, [1, "N"])],
        initializer=[classes],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(ML, 1)],
        ir_version=7,
    )
    onnx.checker.check_model(model, full_check=True)
    out = lowered(rw, model)
    x = np.array([[0, 3, 1, 2], [9, 0, 0, 0], [0, 0, 0, 5]], np.float32)
    np.testing.assert_array_equal(run_model(out, {"x": x})["y"], [[20, 10, 40]])


@pytest.mark.parametrize(
    "attrs,x_type,y_type",
    [
        ({"keys_int64s": [0, 1, 2, 5], "values_int64s": [10, 11, 12, 15]}, 7, 7),
        ({"keys_int64s": [0, 1, 2], "values_floats": [0.5, 1.5, 2.5], "default_float": 9.0}, 7, 1),
        ({"keys_floats": [0.0, 1.0], "values_int64s": [3, 4], "default_int64": -7}, 1, 7),
    ],
)
def test_label_encoder_numeric(rw, attrs, x_type, y_type):
    model = ml_model("LabelEncoder", attrs, [("y", y_type, ["N"])], x_type=x_type, x_shape=["N"])
    model.opset_import[1].version = 2
    out = lowered(rw, model)
    keys = np.array(attrs.get("keys_int64s") or attrs["keys_floats"])
    x = np.concatenate([keys, keys + 100]).astype(np.int64 if x_type == 7 else np.float32)
    import onnxruntime as ort

    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_array_equal(run_model(out, {"x": x})["y"], want)


def test_label_encoder_strings_skipped_with_reason(rw):
    model = ml_model(
        "LabelEncoder",
        {"keys_strings": ["a", "b"], "values_int64s": [1, 2]},
        [("y", TensorProto.INT64, ["N"])],
        x_type=TensorProto.STRING,
        x_shape=["N"],
    )
    result = rw.apply(model, "lower-ml")
    assert not result.changed
    assert "string" in result.passes["lower-ml"].skips[0].reason


def test_one_hot_encoder(rw):
    model = ml_model(
        "OneHotEncoder",
        {"cats_int64s": [0, 1, 2, 3, 4, 5], "zeros": 1},
        [("y", TensorProto.FLOAT, ["N", 3, 6])],
        x_type=TensorProto.INT64,
        x_shape=["N", 3],
    )
    out = lowered(rw, model)
    x = np.array([[0, 5, 9]], np.int64)
    np.testing.assert_array_equal(run_model(out, {"x": x})["y"].argmax(-1), [[0, 5, 0]])


# -- linear models ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", TRANSFORMS)
@pytest.mark.parametrize("targets", [1, 3])
def test_linear_regressor(rw, kind, targets):
    attrs = {
        "coefficients": _rand(targets * F),
        "intercepts": _rand(targets),
        "targets": targets,
        "post_transform": kind,
    }
    if kind == "PROBIT":  # probit needs scores in (0, 1), away from its steep ends
        attrs["coefficients"] = [c * 0.01 for c in attrs["coefficients"]]
        attrs["intercepts"] = [0.8] * targets
    lowered(rw, ml_model("LinearRegressor", attrs, [("y", TensorProto.FLOAT, ["N", targets])]))


@pytest.mark.parametrize("kind", TRANSFORMS)
@pytest.mark.parametrize("classes,rows", [(3, 3), (2, 1), (2, 2)])
def test_linear_classifier(rw, kind, classes, rows):
    if kind == "PROBIT" and classes == 2 and rows == 1:
        pytest.skip("undefined in onnxruntime (test_linear_classifier_binary_probit_skipped)")
    attrs = {
        "coefficients": _rand(rows * F, scale=0.01 if kind == "PROBIT" else 1.0),
        "intercepts": [0.8] * rows if kind == "PROBIT" else _rand(rows),
        "classlabels_ints": [10 + 3 * k for k in range(classes)],
        "post_transform": kind,
    }
    lowered(rw, ml_model("LinearClassifier", attrs, [LABEL, SCORES]))


def test_linear_classifier_binary_probit_skipped(rw):
    attrs = {
        "coefficients": _rand(F),
        "intercepts": [0.1],
        "classlabels_ints": [0, 1],
        "post_transform": "PROBIT",
    }
    result = rw.apply(ml_model("LinearClassifier", attrs, [LABEL, SCORES]), "lower-ml")
    assert not result.changed
    assert "PROBIT" in result.passes["lower-ml"].skips[0].reason


def test_linear_classifier_int_input(rw):
    attrs = {"coefficients": _rand(3 * F), "intercepts": _rand(3), "classlabels_ints": [0, 1, 2]}
    lowered(rw, ml_model("LinearClassifier", attrs, [LABEL, SCORES], x_type=TensorProto.INT64))


def test_linear_classifier_string_labels(rw):
    attrs = {
        "coefficients": _rand(2 * F),
        "intercepts": _rand(2),
        "classlabels_strings": ["a", "b"],
    }
    model = ml_model("LinearClassifier", attrs, [("label", TensorProto.STRING, ["N"]), SCORES])
    result = rw.apply(model, "lower-ml")
    assert not result.changed
    assert "strings" in result.passes["lower-ml"].skips[0].reason


# -- SVM ------------------------------------------------------------------------------------------
KERNELS = {
    "LINEAR": [0.0, 0.0, 0.0],
    "POLY": [0.3, 1.0, 3.0],
    "RBF": [0.2, 0.0, 0.0],
    "SIGMOID": [0.1, 0.5, 0.0],
}


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("one_class", [0, 1])
def test_svm_regressor(rw, kernel, one_class):
    attrs = {
        "coefficients": _rand(5),
        "support_vectors": _rand(5 * F),
        "n_supports": 5,
        "kernel_type": kernel,
        "kernel_params": KERNELS[kernel],
        "rho": [0.1],
        "one_class": one_class,
    }
    lowered(rw, ml_model("SVMRegressor", attrs, [("y", TensorProto.FLOAT, ["N", 1])]))


def test_svm_regressor_linear_mode(rw):
    attrs = {"coefficients": _rand(F), "rho": [0.3], "kernel_type": "LINEAR"}
    attrs["kernel_params"] = [0.0, 0.0, 0.0]
    lowered(rw, ml_model("SVMRegressor", attrs, [("y", TensorProto.FLOAT, ["N", 1])]))


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("kind", ["NONE", "LOGISTIC", "SOFTMAX"])
@pytest.mark.parametrize("classes", [2, 3, 4])
def test_svm_classifier(rw, kernel, kind, classes):
    per_class = [2 + k % 2 for k in range(classes)]
    total = sum(per_class)
    pairs = classes * (classes - 1) // 2
    attrs = {
        "coefficients": _rand((classes - 1) * total),
        "support_vectors": _rand(total * F),
        "vectors_per_class": per_class,
        "kernel_type": kernel,
        "kernel_params": KERNELS[kernel],
        "rho": _rand(pairs),
        "classlabels_ints": [3 * k + 1 for k in range(classes)],
        "post_transform": kind,
    }
    lowered(rw, ml_model("SVMClassifier", attrs, [LABEL, SCORES]))


@pytest.mark.parametrize("classes", [2, 3])
def test_svm_classifier_linear_mode(rw, classes):
    attrs = {
        "coefficients": _rand(classes * F),
        "rho": [0.2],
        "kernel_type": "LINEAR",
        "kernel_params": [0.0, 0.0, 0.0],
        "classlabels_ints": list(range(classes)),
    }
    lowered(rw, ml_model("SVMClassifier", attrs, [LABEL, SCORES]))


def test_svm_classifier_probabilities_skipped(rw):
    attrs = {
        "coefficients": _rand(4),
        "support_vectors": _rand(4 * F),
        "vectors_per_class": [2, 2],
        "kernel_type": "RBF",
        "kernel_params": [0.1, 0, 0],
        "rho": [0.1],
        "prob_a": [-1.0],
        "prob_b": [0.1],
        "classlabels_ints": [0, 1],
    }
    result = rw.apply(ml_model("SVMClassifier", attrs, [LABEL, SCORES]), "lower-ml")
    assert not result.changed
    assert "prob_a" in result.passes["lower-ml"].skips[0].reason


# -- trees ------------------------------------------------------------------------------------------
def random_forest(trees, depth, targets, modes=("BRANCH_LEQ",), missing=False, seed=0, ids=None):
    """Random complete-ish trees as TreeEnsemble* attributes (prefix-free dict)."""
    rng = np.random.default_rng(seed)
    nodes = {k: [] for k in ("treeids", "nodeids", "featureids", "values", "modes")}
    nodes.update(truenodeids=[], falsenodeids=[], missing_value_tracks_true=[])
    leaves = {"treeids": [], "nodeids": [], "ids": [], "weights": []}
    for t in range(trees):
        counter = [0]

        def grow(level, t=t, counter=counter):
            me = counter[0]
            counter[0] += 1
            leaf = level >= depth or (level > 0 and rng.random() < 0.25)
            nodes["treeids"].append(t)
            nodes["nodeids"].append(me)
            nodes["featureids"].append(int(rng.integers(F)))
            nodes["values"].append(float(np.round(rng.standard_normal(), 2)))
            nodes["modes"].append("LEAF" if leaf else str(rng.choice(modes)))
            nodes["missing_value_tracks_true"].append(int(missing and rng.random() < 0.5))
            slot = len(nodes["nodeids"]) - 1
            nodes["truenodeids"].append(0)
            nodes["falsenodeids"].append(0)
            if leaf:
                for k in ids if ids is not None else range(targets):
                    leaves["treeids"].append(t)
                    leaves["nodeids"].append(me)
                    leaves["ids"].append(k)
                    leaves["weights"].append(float(rng.standard_normal()))
                return me
            nodes["truenodeids"][slot] = grow(level + 1)
            nodes["falsenodeids"][slot] = grow(level + 1)
            return me

        grow(0)
    return nodes, leaves


def tree_attrs(nodes, leaves, prefix):
    attrs = {f"nodes_{k}": v for k, v in nodes.items()}
    attrs.update({f"{prefix}_{k}": v for k, v in leaves.items()})
    return attrs


ALL_MODES = ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ")


@pytest.mark.parametrize("agg", ["SUM", "AVERAGE", "MIN", "MAX"])
@pytest.mark.parametrize("targets", [1, 2])
def test_tree_regressor_aggregates(rw, agg, targets):
    nodes, leaves = random_forest(3, 4, targets, modes=ALL_MODES, missing=True, seed=targets)
    attrs = tree_attrs(nodes, leaves, "target")
    attrs.update(n_targets=targets, aggregate_function=agg, base_values=_rand(targets))
    lowered(
        rw, ml_model("TreeEnsembleRegressor", attrs, [("y", TensorProto.FLOAT, ["N", targets])])
    )


def test_tree_regressor_modes_hit_thresholds_and_nans(rw):
    """Inputs equal to thresholds and NaNs exercise every mode and missing_value_tracks_true."""
    nodes, leaves = random_forest(4, 5, 1, modes=ALL_MODES, missing=True, seed=3)
    attrs = tree_attrs(nodes, leaves, "target")
    attrs.update(n_targets=1)
    model = ml_model("TreeEnsembleRegressor", attrs, [("y", TensorProto.FLOAT, ["N", 1])])
    out = lowered(rw, model)
    values = np.array(nodes["values"] + [np.nan], np.float32)
    x = np.random.default_rng(0).choice(values, size=(64, F)).astype(np.float32)
    import onnxruntime as ort

    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_allclose(run_model(out, {"x": x})["y"], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["NONE", "PROBIT"])
def test_tree_regressor_deep_single_target_transform(rw, kind):
    nodes, leaves = random_forest(2, 12, 1, seed=5)
    attrs = tree_attrs(nodes, leaves, "target")
    attrs["target_weights"] = [0.2 + 0.05 * np.tanh(w) for w in attrs["target_weights"]]
    attrs.update(n_targets=1, post_transform=kind, aggregate_function="AVERAGE")
    lowered(rw, ml_model("TreeEnsembleRegressor", attrs, [("y", TensorProto.FLOAT, ["N", 1])]))


@pytest.mark.parametrize("kind", ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO"])
@pytest.mark.parametrize(
    "classes,ids,base",
    [
        (3, None, 0),
        (3, None, 3),
        (4, [0, 2, 3], 0),
        (2, None, 0),
        (2, None, 1),
        (2, None, 2),
        (2, [0], 0),
        (2, [0], 1),
        (2, [1], 0),
    ],
)
def test_tree_classifier_layouts(rw, kind, classes, ids, base):
    nodes, leaves = random_forest(3, 4, classes, ids=ids, seed=classes + base)
    attrs = tree_attrs(nodes, leaves, "class")
    attrs.update(classlabels_int64s=[5 * k + 2 for k in range(classes)], post_transform=kind)
    if base:
        attrs["base_values"] = _rand(base)
    lowered(rw, ml_model("TreeEnsembleClassifier", attrs, [LABEL, SCORES]))


def test_tree_classifier_positive_weights_binary(rw):
    nodes, leaves = random_forest(3, 3, 2, ids=[0], seed=9)
    attrs = tree_attrs(nodes, leaves, "class")
    attrs["class_weights"] = [abs(w) / 3 for w in attrs["class_weights"]]
    attrs.update(classlabels_int64s=[0, 1])
    lowered(rw, ml_model("TreeEnsembleClassifier", attrs, [LABEL, SCORES]))


def test_zipmap_needs_the_option(rw):
    nodes, leaves = random_forest(2, 3, 3, seed=1)
    attrs = tree_attrs(nodes, leaves, "class")
    attrs.update(classlabels_int64s=[0, 1, 2])
    tree = helper.make_node("TreeEnsembleClassifier", ["x"], ["label", "p"], domain=ML, **attrs)
    zipmap = helper.make_node("ZipMap", ["p"], ["probs"], domain=ML, classlabels_int64s=[0, 1, 2])
    seq = helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(1, None))
    )
    graph = helper.make_graph(
        [tree, zipmap],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", F])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_value_info("probs", seq),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ML, 1)], ir_version=8
    )
    onnx.checker.check_model(model)
    result = rw.apply(model, "lower-ml")
    reasons = [s.reason for s in result.passes["lower-ml"].skips]
    assert any("--zipmap-as-tensor" in r for r in reasons)
    assert any(n.op_type == "ZipMap" for n in result.proto.graph.node)
    result = rw.apply(model, "lower-ml", zipmap_as_tensor=True)
    assert result.passes["lower-ml"].applied == 2
    out = result.proto.graph.output[1]
    assert out.name == "probs" and out.type.tensor_type.elem_type == TensorProto.FLOAT
    check = verify(model, result.proto, seed=1, dims={"N": 5})
    assert check.ok, check.describe_worst()


def test_kept_zipmap_output_keeps_its_type_and_verifies(rw):
    """Without --zipmap-as-tensor the tree is lowered and the ZipMap stays: its output must keep
    the seq(map) type (graphsurgeon would write seq(undefined), which onnxruntime refuses to
    load) and verification compares the maps on both sides."""
    nodes, leaves = random_forest(2, 3, 3, seed=2)
    attrs = tree_attrs(nodes, leaves, "class")
    attrs.update(classlabels_int64s=[0, 1, 2])
    tree = helper.make_node("TreeEnsembleClassifier", ["x"], ["label", "p"], domain=ML, **attrs)
    zipmap = helper.make_node("ZipMap", ["p"], ["probs"], domain=ML, classlabels_int64s=[0, 1, 2])
    seq = helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(1, None))
    )
    graph = helper.make_graph(
        [tree, zipmap],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", F])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_value_info("probs", seq),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ML, 1)], ir_version=8
    )
    result = rw.apply(model, "lower-ml")
    assert result.passes["lower-ml"].applied == 1
    assert [n.op_type for n in result.proto.graph.node].count("TreeEnsembleClassifier") == 0
    assert result.proto.graph.output[1].type == seq
    onnx.checker.check_model(result.proto, full_check=True)
    check = verify(model, result.proto, seed=1, dims={"N": 5})
    assert check.ok, check.describe_worst()
    assert [o.name for o in check.outputs] == ["label", "probs"]


def test_every_handled_op_is_named_as_fix():
    from trtforge.analyzer.rewrite.passes.lower_ml import HANDLERS

    for op in HANDLERS:
        assert "lower-ml" in passes_removing(ML, op)


def test_nothing_to_do_leaves_model_unchanged(rw):
    model = rw.parse(
        '<ir_version: 8, opset_import: ["" : 17]> g (float[2] x) => (float[2] y) { y = Relu(x) }'
    )
    result = rw.apply(model, "lower-ml")
    assert not result.changed and result.proto is model


_ = make_inputs


def v5_forest(trees, depth, targets, seed=0):
    """Random trees in the TreeEnsemble (ai.onnx.ml opset 5) layout: interior nodes and leaves
    in separate arrays, modes as a uint8 tensor."""
    rng = np.random.default_rng(seed)
    n = {k: [] for k in ("modes", "feat", "split", "true", "false", "tleaf", "fleaf", "miss")}
    leaf_targets, leaf_weights, roots = [], [], []

    def leaf():
        leaf_targets.append(int(rng.integers(targets)))
        leaf_weights.append(float(rng.standard_normal()))
        return len(leaf_targets) - 1, 1

    def grow(level):
        if level > 0 and (level >= depth or rng.random() < 0.25):
            return leaf()
        me = len(n["modes"])
        n["modes"].append(int(rng.integers(6)))
        n["feat"].append(int(rng.integers(F)))
        n["split"].append(float(np.round(rng.standard_normal(), 2)))
        n["miss"].append(int(rng.random() < 0.5))
        for key in ("true", "false", "tleaf", "fleaf"):
            n[key].append(0)
        for side, flag in (("true", "tleaf"), ("false", "fleaf")):
            child, is_leaf = grow(level + 1)
            n[side][me], n[flag][me] = child, is_leaf
        return me, 0

    for _ in range(trees):
        roots.append(grow(0)[0])
    return {
        "nodes_modes": helper.make_tensor("m", TensorProto.UINT8, [len(n["modes"])], n["modes"]),
        "nodes_featureids": n["feat"],
        "nodes_splits": helper.make_tensor("s", TensorProto.FLOAT, [len(n["split"])], n["split"]),
        "nodes_truenodeids": n["true"],
        "nodes_falsenodeids": n["false"],
        "nodes_trueleafs": n["tleaf"],
        "nodes_falseleafs": n["fleaf"],
        "nodes_missing_value_tracks_true": n["miss"],
        "leaf_targetids": leaf_targets,
        "leaf_weights": helper.make_tensor(
            "w", TensorProto.FLOAT, [len(leaf_weights)], leaf_weights
        ),
        "tree_roots": roots,
        "n_targets": targets,
    }


@pytest.mark.parametrize("agg", [0, 1, 2, 3])
@pytest.mark.parametrize("transform,targets", [(0, 1), (0, 3), (3, 3), (4, 2)])
def test_tree_ensemble_opset5(rw, agg, transform, targets):
    attrs = v5_forest(4, 5, targets, seed=agg + 10 * targets)
    attrs.update(aggregate_function=agg, post_transform=transform)
    if transform == 4:  # PROBIT: leaf weights giving scores in (0, 1), away from 0.5
        attrs["leaf_weights"] = helper.make_tensor(
            "w",
            TensorProto.FLOAT,
            [len(attrs["leaf_targetids"])],
            [0.2] * len(attrs["leaf_targetids"]),
        )
    outputs = [("y", TensorProto.FLOAT, ["N", targets])]
    lowered(rw, ml_model("TreeEnsemble", attrs, outputs, ml_opset=5))


@pytest.mark.parametrize("transform", [1, 2])
def test_tree_ensemble_opset5_disputed_transforms_skipped(rw, transform):
    attrs = v5_forest(2, 3, 3, seed=1)
    attrs.update(post_transform=transform)
    model = ml_model("TreeEnsemble", attrs, [("y", TensorProto.FLOAT, ["N", 3])], ml_opset=5)
    result = rw.apply(model, "lower-ml")
    assert not result.changed
    assert "onnxruntime" in result.passes["lower-ml"].skips[0].reason


@pytest.mark.parametrize(
    "op,attrs,needle",
    [
        ("LinearRegressor", {"coefficients": [1.0, 2.0, 3.0], "targets": 2}, "coefficients"),
        (
            "TreeEnsembleRegressor",
            {
                "nodes_treeids": [0, 0],
                "nodes_nodeids": [0, 1],
                "nodes_featureids": [0, 0],
                "nodes_values": [0.0, 0.0],
                "nodes_modes": ["BRANCH_LEQ", "LEAF"],
                "nodes_truenodeids": [1, 0],
                "nodes_falsenodeids": [7, 0],
                "target_treeids": [0],
                "target_nodeids": [1],
                "target_ids": [0],
                "target_weights": [1.0],
                "n_targets": 1,
            },
            "missing node",
        ),
        (
            "TreeEnsembleRegressor",
            {
                "nodes_treeids": [0, 0],
                "nodes_nodeids": [0, 1],
                "nodes_featureids": [0, 0],
                "nodes_values": [0.0, 0.0],
                "nodes_modes": ["BRANCH_LEQ", "BRANCH_LEQ"],
                "nodes_truenodeids": [1, 0],
                "nodes_falsenodeids": [1, 0],
                "target_treeids": [0],
                "target_nodeids": [1],
                "target_ids": [0],
                "target_weights": [1.0],
                "n_targets": 1,
            },
            "root",
        ),
    ],
)
def test_malformed_nodes_skipped_not_crashed(rw, op, attrs, needle):
    model = ml_model(op, attrs, [("y", TensorProto.FLOAT, ["N", 1])])
    result = rw.apply(model, "lower-ml")
    assert not result.changed
    assert needle in result.passes["lower-ml"].skips[0].reason


TREE = {
    "nodes_treeids": [0, 0, 0],
    "nodes_nodeids": [0, 1, 2],
    "nodes_featureids": [6, 0, 0],
    "nodes_values": [0.0, 0.0, 0.0],
    "nodes_modes": ["BRANCH_LEQ", "LEAF", "LEAF"],
    "nodes_truenodeids": [1, 0, 0],
    "nodes_falsenodeids": [2, 0, 0],
    "target_treeids": [0, 0],
    "target_nodeids": [1, 2],
    "target_ids": [0, 0],
    "target_weights": [1.0, 2.0],
    "n_targets": 1,
}


@pytest.mark.parametrize(
    "op,attrs,outputs,needle",
    [
        (
            "Imputer",
            {"imputed_value_floats": [1.0] * 6, "replaced_value_float": 0.0},
            F,
            "6 values",
        ),
        ("Scaler", {"offset": [1.0, 2.0], "scale": [1.0]}, F, "offset holds 2 values"),
        (
            "LinearClassifier",
            {
                "coefficients": [1.0] * 6,
                "intercepts": [0.0, 0.0, 0.0],
                "classlabels_ints": [0, 1, 2],
            },
            None,
            "not 3 row(s) of 4",
        ),
        ("LinearRegressor", {"coefficients": [1.0] * 3, "targets": 1}, 1, "not 1 row(s) of 4"),
        ("TreeEnsembleRegressor", TREE, 1, "reads feature 6"),
    ],
)
def test_attributes_that_do_not_fit_the_feature_count_are_skipped(rw, op, attrs, outputs, needle):
    # onnxruntime runs these its own way (an Imputer of 6 values on 4 features uses the first
    # 4); the lowering follows the attributes, so it would compute something else
    if outputs is None:
        outs = [("label", TensorProto.INT64, ["N"]), ("scores", TensorProto.FLOAT, ["N", 3])]
    else:
        outs = [("y", TensorProto.FLOAT, ["N", outputs])]
    model = ml_model(op, attrs, outs)
    result = rw.apply(model, "lower-ml")
    assert not result.changed
    assert needle in result.passes["lower-ml"].skips[0].reason


def test_the_pass_is_not_promised_for_string_categories():
    """A OneHotEncoder of string categories, which the pass skips (TensorRT has no string
    tensors): trt-check named lower-ml and `--auto` changed nothing."""
    from onnx import TensorProto, helper

    from trtforge.analyzer import check

    node = helper.make_node(
        "OneHotEncoder", ["x"], ["y"], domain="ai.onnx.ml", cats_strings=["a", "b"], zeros=1
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.STRING, [2, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 1, 2])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    report = check(model, target="rtx-1", backend="static")
    assert "lower-ml" not in {f.name for n in report.nodes for f in n.fixes}


def _tree_ensemble_5(mode: int, post_transform: int) -> onnx.ModelProto:
    """ai.onnx.ml-5 TreeEnsemble of one split (`mode` 6: BRANCH_MEMBER, set membership)."""
    from onnx import numpy_helper

    node = helper.make_node(
        "TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=1, aggregate_function=1,
        post_transform=post_transform, tree_roots=[0], nodes_featureids=[0],
        nodes_splits=numpy_helper.from_array(np.array([0.0], np.float32)),
        nodes_modes=numpy_helper.from_array(np.array([mode], np.uint8)),
        membership_values=numpy_helper.from_array(np.array([1.0, 3.0], np.float32)),
        nodes_truenodeids=[0], nodes_trueleafs=[1], nodes_falsenodeids=[1], nodes_falseleafs=[1],
        leaf_targetids=[0, 0], leaf_weights=numpy_helper.from_array(np.array([1.0, 2.0], np.float32)),
    )  # fmt: skip
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 1])],
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 5)],
        ir_version=10,
    )


@pytest.mark.parametrize(
    ("mode", "post_transform", "skipped"),
    [(6, 0, "BRANCH_MEMBER"), (0, 1, "post_transform=1"), (0, 0, None)],
)
def test_trt_check_promises_lower_ml_only_where_the_pass_lowers(mode, post_transform, skipped):
    """What the pass's own check skips on the node is what trt-check reports as no fix (it
    named --lower-ml, and --auto then left the node: "1 before → 1 after")."""
    from trtforge.analyzer import check

    (node,) = check(_tree_ensemble_5(mode, post_transform), target="rtx-1", backend="static").nodes
    fixes = {fix.name for finding in node.errors for fix in finding.fixes}
    if skipped is None:
        assert "lower-ml" in fixes
    else:
        assert "lower-ml" not in fixes
        assert any(skipped in finding.hint for finding in node.errors)


def test_an_output_declared_of_another_rank_is_declared_as_computed(tmp_path):
    """CatBoost declares a regressor's output [N] while TreeEnsembleRegressor gives [N, 1]
    (onnxruntime returns [N, 1]; ONNX infers no shape for the ml op, so the input passes the
    full check). The lowered graph computes [N, 1]: the declaration is fitted to it, instead
    of a result that fails onnx.checker and was refused ("a pass produced an invalid graph")."""
    from trtforge.analyzer import rewrite_file

    node = helper.make_node(
        "TreeEnsembleRegressor", ["features"], ["predictions"], domain="ai.onnx.ml",
        n_targets=1, nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2],
        nodes_featureids=[0, 0, 0], nodes_values=[0.5, 0, 0],
        nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"], nodes_truenodeids=[1, 0, 0],
        nodes_falsenodeids=[2, 0, 0], nodes_missing_value_tracks_true=[0, 0, 0],
        nodes_hitrates=[1.0, 1.0, 1.0], target_treeids=[0, 0], target_nodeids=[1, 2],
        target_ids=[0, 0], target_weights=[1.0, 2.0], post_transform="NONE",
    )  # fmt: skip
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("predictions", TensorProto.FLOAT, ["N"])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("ai.onnx.ml", 2)], ir_version=8
    )
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, tmp_path / "m.onnx")
    result = rewrite_file(tmp_path / "m.onnx", tmp_path / "out.onnx", auto=True, target="rtx-1")
    assert result.written, result.failure
    written = onnx.load(tmp_path / "out.onnx")
    onnx.checker.check_model(written, full_check=True)
    dims = written.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 1]


def test_the_json_report_of_an_ml_model_is_json_alone(tmp_path):
    """The fix lookup imports graphsurgeon, whose log lines go to stdout: they were written
    before the JSON report ("[W] colored module is not installed ...")."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    # a Binarizer before the tree: an input graphsurgeon cannot type, which it logs
    model = Path(__file__).parents[1] / "fixtures" / "ml" / "binarize_tree.onnx"
    proc = subprocess.run(
        [sys.executable, "-m", "trtforge.analyzer.cli.check", str(model),
         "--backend", "static", "--target", "rtx-1", "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["supported"] is False
