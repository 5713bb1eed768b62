"""lower-ml: ai.onnx.ml (classical ML) operators → standard ONNX operators TensorRT parses.

TensorRT has no importer for any ai.onnx.ml op. Each node below becomes a subgraph of standard
ops computing what onnxruntime's CPU kernel computes (the reference `--verify` compares with):

Before → After::

    Scaler(x)                 → Mul(Sub(x, offset), scale)
    Normalizer(x) MAX/L1/L2   → Div(x, ReduceMax | ReduceSum(Abs) | Sqrt(ReduceSum(x²))),
                                a norm of 0 taken as 1 (onnxruntime leaves such rows as they are)
    Binarizer(x)              → Where(Greater(x, threshold), 1, 0)
    Imputer(x)                → Where(IsNaN(x) | Equal(x, replaced), imputed, x)
    ArrayFeatureExtractor(x, i) → Gather(x, i, axis=-1) (1-D x: Unsqueeze(Gather(x, i), 0))
    LabelEncoder(x) (numeric) → Equal against the keys, ArgMax, Gather of the values | default
    OneHotEncoder(x) (int64 categories) → Cast(Equal(Unsqueeze(x, -1), categories))
    LinearRegressor(x)        → Gemm [+ post_transform]
    LinearClassifier(x)       → Gemm, ArgMax + Gather of the int64 labels, post_transform
    SVMRegressor/SVMClassifier (LINEAR/POLY/RBF/SIGMOID kernels, one-class)
                              → kernel matrix against the support vectors (MatMul/…), MatMul
                                with the dual coefficients; one-vs-one votes as MatMuls
    TreeEnsembleRegressor/TreeEnsembleClassifier
                              → per-level traversal of every tree at once (Hummingbird's
                                "tree traversal"): Gather the node's feature and threshold,
                                compare, Where to the next node, as many levels as the deepest
                                tree; then Gather of the leaf weights and ReduceSum/Mean/Min/Max
    ZipMap(x)                 → x itself (only with `zipmap_as_tensor`: the output becomes the
                                [N, classes] probability tensor instead of a sequence of maps)

post_transform NONE/LOGISTIC/SOFTMAX/SOFTMAX_ZERO/PROBIT are all reproduced (PROBIT with
onnxruntime's closed-form ErfInv approximation). Integer/double inputs are cast to float first,
as onnxruntime does.

Skips (reported): string labels, keys or values on an output that is used (TensorRT has no
string tensors); ZipMap without the option (no TensorRT engine outputs a sequence of maps);
SVMClassifier with prob_a/prob_b (onnxruntime's iterative pairwise coupling); binary
classifiers whose score layout onnxruntime leaves undefined (PROBIT on one score column);
inputs that are not 2-D float/int tensors where a 2-D matrix is needed; per-feature values,
weight rows or tree feature indices that do not fit the input's static feature count.
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Match, PassContext, PassOption, RewritePass, detach
from trtforge.analyzer.rewrite.graphutil import (
    anchor,
    attr_text,
    graph_output_names,
    guess_dtype,
    tensor_rank,
)
from trtforge.analyzer.rewrite.passes import _ml_emit as ml
from trtforge.analyzer.rewrite.passes._ml_emit import F32, Emit

np = lazy_import("numpy")
gs = lazy_import("onnx_graphsurgeon")

ML = "ai.onnx.ml"
#: the ai.onnx opset imported when the model had none.
NEW_OPSET = 17
#: the ai.onnx opset the subgraphs need (GatherElements, Gather with axis -1, Slice inputs).
MIN_OPSET = 11
TRANSFORMS = ("NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT")


# -- reading nodes ---------------------------------------------------------------------------
def _list(node: gs.Node, name: str) -> list:
    value = node.attrs.get(name)
    if value is None:
        return []
    if isinstance(value, gs.Constant):
        return np.asarray(value.values).reshape(-1).tolist()
    if isinstance(value, np.ndarray):
        return value.reshape(-1).tolist()
    return list(value)


def _used(tensor: gs.Tensor | None, graph: gs.Graph) -> bool:
    return (
        tensor is not None
        and bool(tensor.name)
        and (bool(tensor.outputs) or tensor.name in graph_output_names(graph))
    )


def _out(node: gs.Node, index: int, graph: gs.Graph) -> gs.Tensor | None:
    """Output `index` when something reads it, else None (it is not built)."""
    if index < len(node.outputs) and _used(node.outputs[index], graph):
        return node.outputs[index]
    return None


def _dtype(tensor: gs.Tensor) -> np.dtype | None:
    dtype = guess_dtype(tensor)
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError:
        import onnx

        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(dtype))


NUMERIC = ("float32", "float64", "int64", "int32", "float16")


def _numeric_input(node: gs.Node, rank2: bool) -> str | None:
    x = node.inputs[0]
    dtype = _dtype(x)
    if dtype is None or dtype.name not in NUMERIC:
        return f"input '{x.name}' is not known to be a numeric tensor (dtype {dtype})"
    rank = tensor_rank(x)
    if rank2 and rank is not None and rank != 2:  # unknown: [N, features] by the op's spec
        return f"input '{x.name}' is not 2-D [N, features] (rank {rank})"
    return None


def _as_float(e: Emit, x: gs.Tensor) -> gs.Tensor:
    return x if _dtype(x) == np.float32 else e.cast(x, F32)


def _string_labels(node: gs.Node, graph: gs.Graph, prefix: str = "classlabels") -> str | None:
    if _list(node, f"{prefix}_strings") and _out(node, 0, graph) is not None:
        return (
            "the class labels are strings and the label output is used; TensorRT has no "
            "string tensors (run the label lookup outside TensorRT, or convert the model with "
            "integer labels)"
        )
    return None


# -- one builder per op: (node, ctx) ---------------------------------------------------------
def _scaler(node, ctx):
    e = Emit(ctx)
    x = _as_float(e, node.inputs[0])
    offset = np.array(_list(node, "offset") or [0.0], F32)
    scale = np.array(_list(node, "scale") or [1.0], F32)
    e.op("Mul", e.op("Sub", x, e.const(offset)), e.const(scale), out=node.outputs[0])


def _normalizer(node, ctx):
    e = Emit(ctx)
    x = _as_float(e, node.inputs[0])
    norm = attr_text(node.attrs.get("norm", "MAX"))
    if norm == "MAX":
        denom = e.reduce("ReduceMax", x, [-1], 1)
    elif norm == "L1":
        denom = e.reduce("ReduceSum", e.op("Abs", x), [-1], 1)
    else:
        denom = e.op("Sqrt", e.reduce("ReduceSum", e.op("Mul", x, x), [-1], 1))
    # onnxruntime leaves a row whose norm is 0 as it is (an all-zero row stays zeros; MAX: a
    # row whose largest value is 0, such as [-1, -2, 0], too): divided by 1 instead
    zero = e.op("Equal", denom, e.const(np.array(0, np.float32)))
    denom = e.op("Where", zero, e.const(np.array(1, np.float32)), denom)
    e.op("Div", x, denom, out=node.outputs[0])


def _binarizer(node, ctx):
    e = Emit(ctx)
    x = node.inputs[0]
    dtype = _dtype(x)
    threshold = float(node.attrs.get("threshold", 0.0))
    e.op(
        "Where",
        e.op("Greater", x, e.const(np.array(threshold, dtype))),
        e.const(np.array(1, dtype)),
        e.const(np.array(0, dtype)),
        out=node.outputs[0],
    )


def _imputer(node, ctx):
    e = Emit(ctx)
    x = node.inputs[0]
    dtype = _dtype(x)
    if dtype.kind == "f":
        imputed = np.array(_list(node, "imputed_value_floats"), dtype)
        replaced = float(node.attrs.get("replaced_value_float", 0.0))
        if np.isnan(replaced):
            hit = e.op("IsNaN", x)
        else:
            hit = e.op("Equal", x, e.const(np.array(replaced, dtype)))
    else:
        imputed = np.array(_list(node, "imputed_value_int64s"), dtype)
        replaced = int(node.attrs.get("replaced_value_int64", 0))
        hit = e.op("Equal", x, e.const(np.array(replaced, dtype)))
    e.op("Where", hit, e.const(imputed), x, out=node.outputs[0])


def _array_feature_extractor(node, ctx):
    # onnxruntime reads the indices flat: a scalar index still gives a last dim of 1; a 1-D
    # input (the class-label table scikit-learn converters pick labels from) gives one row
    # [1, indices]
    e = Emit(ctx)
    if tensor_rank(node.inputs[0]) == 1:
        picked = e.op("Gather", node.inputs[0], _flat(e, node.inputs[1]), axis=0)
        if ctx.opset >= 13:
            axes = e.const(np.array([0], np.int64), base="axes")
            e.op("Unsqueeze", picked, axes, out=node.outputs[0])
        else:
            e.op("Unsqueeze", picked, axes=[0], out=node.outputs[0])
        return
    e.op("Gather", node.inputs[0], _flat(e, node.inputs[1]), axis=-1, out=node.outputs[0])


def _label_encoder_table(node):
    """(keys, values, default) as NumPy arrays, or a reason they cannot go to TensorRT."""

    def pick(kind):
        if f"{kind}_tensor" in node.attrs:
            return np.asarray(node.attrs[f"{kind}_tensor"].values).reshape(-1)
        for suffix, dtype in (("int64s", np.int64), ("floats", F32), ("strings", object)):
            if f"{kind}_{suffix}" in node.attrs:
                return np.array(_list(node, f"{kind}_{suffix}"), dtype)
        return None

    keys, values = pick("keys"), pick("values")
    if keys is None or values is None or len(keys) != len(values) or not len(keys):
        return "keys and values are missing or of different lengths"
    if keys.dtype == object or values.dtype.kind in "OSU" or keys.dtype.kind in "SU":
        return "string keys or values (TensorRT has no string tensors)"
    if keys.dtype.kind == "f" and np.isnan(keys).any():
        return "a NaN key (matched by onnxruntime, never by Equal)"
    default = None
    if "default_tensor" in node.attrs:
        default = np.asarray(node.attrs["default_tensor"].values).reshape(-1)[0]
    elif values.dtype.kind == "f":
        default = node.attrs.get("default_float", -0.0)
    else:
        default = node.attrs.get("default_int64", -1)
    return keys, values, np.array(default, values.dtype)


def _label_encoder(node, ctx):
    e = Emit(ctx)
    keys, values, default = _label_encoder_table(node)
    x = node.inputs[0]
    if _dtype(x) != keys.dtype:
        keys = keys.astype(_dtype(x))
    eq = e.op("Equal", e.unsqueeze(x, [-1]), e.const(keys, base="keys"))
    hits = e.cast(eq, np.int32)
    position = e.op("ArgMax", hits, axis=-1, keepdims=0)
    found = e.op("Cast", e.reduce("ReduceMax", hits, [-1], 0), to=9)  # BOOL
    e.op(
        "Where",
        found,
        e.op("Gather", e.const(values, base="values"), position, axis=0),
        e.const(default),
        out=node.outputs[0],
    )


def _one_hot_encoder(node, ctx):
    e = Emit(ctx)
    x = node.inputs[0]
    cats = np.array(_list(node, "cats_int64s"), np.int64)
    if _dtype(x) != np.int64:
        x = e.cast(x, np.int64)
    eq = e.op("Equal", e.unsqueeze(x, [-1]), e.const(cats, base="cats"))
    e.cast(eq, F32, out=node.outputs[0])


def _zipmap(node, ctx):
    out = node.outputs[0]
    out.type = "tensor_type"
    out.dtype = np.float32
    x = node.inputs[0]
    labels = _list(node, "classlabels_int64s") or _list(node, "classlabels_strings")
    rows = x.shape[0] if x.shape is not None and len(x.shape) == 2 else None
    out.shape = [rows if rows is not None else "N", len(labels)]
    Emit(ctx).op("Identity", x, out=out)


def _linear_regressor(node, ctx):
    e = Emit(ctx)
    x = _as_float(e, node.inputs[0])
    targets = int(node.attrs.get("targets", 1))
    coef = np.array(_list(node, "coefficients"), F32).reshape(targets, -1)
    intercepts = np.array(_list(node, "intercepts") or [0.0] * targets, F32)
    scores = e.op("Gemm", x, e.const(coef), e.const(intercepts), transB=1)
    kind = attr_text(node.attrs.get("post_transform", "NONE"))
    e.op("Identity", ml.post_transform(e, scores, kind, targets), out=node.outputs[0])


def _labels_at(e: Emit, labels: list[int], index: gs.Tensor, out: gs.Tensor) -> None:
    e.op("Gather", e.const(np.array(labels, np.int64), base="labels"), index, axis=0, out=out)


def _flat(e: Emit, x: gs.Tensor) -> gs.Tensor:
    return e.op("Reshape", x, e.const(np.array([-1], np.int64)))


def _pair(e: Emit, first: gs.Tensor, second: gs.Tensor, out) -> gs.Tensor:
    return e.op("Concat", first, second, axis=1, out=out)


def _binary_pair(e: Emit, s: gs.Tensor, kind: str, out, negate_when_none: bool = False):
    """onnxruntime's two score columns from one binary score s ([N, 1]): [1 - v, v] with
    v = Sigmoid(s) under LOGISTIC, else v = s (other transforms are not applied); SVMs write
    [-s, s] when there is no transform."""
    c = ml.partial_const(e)
    if negate_when_none and kind == "NONE":
        return _pair(e, e.op("Neg", s), s, out)
    v = e.op("Sigmoid", s) if kind == "LOGISTIC" else s
    return _pair(e, e.op("Sub", c(1.0), v), v, out)


def _linear_classifier(node, ctx):
    e = Emit(ctx)
    graph = ctx.graph
    x = _as_float(e, node.inputs[0])
    intercepts = np.array(_list(node, "intercepts"), F32)
    n = len(intercepts)
    coef = np.array(_list(node, "coefficients"), F32).reshape(n, -1)
    labels = [int(v) for v in _list(node, "classlabels_ints")]
    kind = attr_text(node.attrs.get("post_transform", "NONE"))
    scores = e.op("Gemm", x, e.const(coef), e.const(intercepts), transB=1)
    label_out, score_out = _out(node, 0, graph), _out(node, 1, graph)
    if label_out is not None:
        if n == 1:
            pos, neg = (labels[1], labels[0]) if len(labels) == 2 else (1, 0)
            positive = e.op("Greater", _flat(e, scores), e.const(np.array(0.0, F32)))
            e.op(
                "Where",
                positive,
                e.const(np.array(pos, np.int64)),
                e.const(np.array(neg, np.int64)),
                out=label_out,
            )
        else:
            _labels_at(e, labels, e.op("ArgMax", scores, axis=1, keepdims=0), label_out)
    if score_out is not None:
        if n == 1 and len(labels) == 2:
            _binary_pair(e, scores, kind, score_out)
        else:
            e.op("Identity", ml.post_transform(e, scores, kind, n), out=score_out)


def _linear_classifier_check(node, ctx):
    reason = _string_labels(node, ctx.graph)
    if reason:
        return reason
    n = len(_list(node, "intercepts"))
    labels = _list(node, "classlabels_ints")
    kind = attr_text(node.attrs.get("post_transform", "NONE"))
    if n == 0 or len(_list(node, "coefficients")) % n:
        return "coefficients do not split into one row per intercept"
    if n > 1 and len(labels) < n and _out(node, 0, ctx.graph) is not None:
        return f"{n} score columns but {len(labels)} integer class labels"
    if n == 1 and len(labels) == 2 and kind == "PROBIT" and _out(node, 1, ctx.graph):
        return "PROBIT on a single binary score: onnxruntime leaves the second column undefined"
    return None


# -- SVM -------------------------------------------------------------------------------------
def _kernel(e: Emit, x: gs.Tensor, vectors: np.ndarray, node: gs.Node) -> gs.Tensor:
    """[N, V] kernel values of every row of x against every support vector."""
    kind = attr_text(node.attrs.get("kernel_type", "LINEAR"))
    params = _list(node, "kernel_params") or [0.0, 0.0, 0.0]
    gamma, coef0, degree = (list(params) + [0.0, 0.0, 0.0])[:3]
    c = ml.partial_const(e)
    if kind == "RBF":
        diff = e.op("Sub", e.unsqueeze(x, [1]), e.const(vectors, base="support_vectors"))
        dist = e.reduce("ReduceSum", e.op("Mul", diff, diff), [-1], 0)
        return e.op("Exp", e.op("Mul", dist, c(-gamma)))
    dot = e.op("MatMul", x, e.const(np.ascontiguousarray(vectors.T), base="support_vectors_t"))
    if kind == "LINEAR":
        return dot
    inner = e.op("Add", e.op("Mul", dot, c(gamma)), c(coef0))
    if kind == "POLY":
        return e.op("Pow", inner, c(float(degree)))
    return e.op("Tanh", inner)


def _svm_regressor(node, ctx):
    e = Emit(ctx)
    x = _as_float(e, node.inputs[0])
    coef = np.array(_list(node, "coefficients"), F32)
    rho = np.array(_list(node, "rho") or [0.0], F32)[:1]
    n_supports = int(node.attrs.get("n_supports", 0))
    if n_supports > 0:
        vectors = np.array(_list(node, "support_vectors"), F32).reshape(n_supports, -1)
        kernel = _kernel(e, x, vectors, node)
        score = e.op("MatMul", kernel, e.const(coef.reshape(-1, 1)))
    else:
        score = e.op("MatMul", x, e.const(coef.reshape(-1, 1)))
    score = e.op("Add", score, e.const(rho))
    if int(node.attrs.get("one_class", 0)):
        c = ml.partial_const(e)
        e.op("Where", e.op("Greater", score, c(0.0)), c(1.0), c(-1.0), out=node.outputs[0])
    else:
        e.op("Identity", score, out=node.outputs[0])


def _svm_regressor_check(node, ctx):
    kind = attr_text(node.attrs.get("post_transform", "NONE"))
    if kind != "NONE":
        return f"post_transform {kind} on SVMRegressor is not lowered"
    n_supports = int(node.attrs.get("n_supports", 0))
    coef = _list(node, "coefficients")
    if n_supports > 0 and (
        len(coef) != n_supports or len(_list(node, "support_vectors")) % n_supports
    ):
        return "coefficients/support_vectors do not match n_supports"
    return None


def _svm_layout(node):
    per_class = [int(v) for v in _list(node, "vectors_per_class")]
    return per_class, sum(per_class)


def _svm_classifier(node, ctx):
    e = Emit(ctx)
    graph = ctx.graph
    x = _as_float(e, node.inputs[0])
    labels = [int(v) for v in _list(node, "classlabels_ints")]
    kind = attr_text(node.attrs.get("post_transform", "NONE"))
    coef = np.array(_list(node, "coefficients"), F32)
    rho = np.array(_list(node, "rho"), F32)
    per_class, total = _svm_layout(node)
    label_out, score_out = _out(node, 0, graph), _out(node, 1, graph)
    c = ml.partial_const(e)
    if total == 0:  # liblinear mode: one weight row per class, rho[0] shared
        classes = len(labels)
        weights = coef.reshape(classes, -1)
        scores = e.op("Add", e.op("MatMul", x, e.const(weights.T.copy())), c(float(rho[0])))
        if label_out is not None:
            best = e.op("ArgMax", scores, axis=1, keepdims=0)
            if classes == 2:
                top = e.reduce("ReduceMax", scores, [1], 0)
                positive = bool((coef >= 0).all())
                win = e.op(
                    "Greater" if not positive else "GreaterOrEqual",
                    top,
                    c(0.5 if positive else 0.0),
                )
                label_at_best = e.op(
                    "Gather", e.const(np.array(labels, np.int64), base="labels"), best, axis=0
                )
                e.op(
                    "Where",
                    win,
                    e.const(np.array(labels[1], np.int64)),
                    label_at_best,
                    out=label_out,
                )
            else:
                _labels_at(e, labels, best, label_out)
        if score_out is not None:
            e.op("Identity", ml.post_transform(e, scores, kind, classes), out=score_out)
        return
    classes = len(per_class)
    vectors = np.array(_list(node, "support_vectors"), F32).reshape(total, -1)
    coef = coef.reshape(classes - 1, total)
    starts = np.concatenate([[0], np.cumsum(per_class)[:-1]]).astype(int)
    pairs = [(i, j) for i in range(classes - 1) for j in range(i + 1, classes)]
    pair_weights = np.zeros((total, len(pairs)), F32)
    win_i = np.zeros((len(pairs), classes), F32)
    win_j = np.zeros((len(pairs), classes), F32)
    for p, (i, j) in enumerate(pairs):
        si, sj = starts[i], starts[j]
        pair_weights[si : si + per_class[i], p] = coef[j - 1, si : si + per_class[i]]
        pair_weights[sj : sj + per_class[j], p] = coef[i, sj : sj + per_class[j]]
        win_i[p, i] = 1.0
        win_j[p, j] = 1.0
    kernel = _kernel(e, x, vectors, node)
    scores = e.op("Add", e.op("MatMul", kernel, e.const(pair_weights)), e.const(rho[: len(pairs)]))
    if label_out is not None:
        positive = e.cast(e.op("Greater", scores, c(0.0)), F32)
        negative = e.op("Sub", c(1.0), positive)
        votes = e.op(
            "Add",
            e.op("MatMul", positive, e.const(win_i)),
            e.op("MatMul", negative, e.const(win_j)),
        )
        _labels_at(e, labels, e.op("ArgMax", votes, axis=1, keepdims=0), label_out)
    if score_out is not None:
        if classes == 2:
            _binary_pair(e, scores, kind, score_out, negate_when_none=True)
        else:
            e.op("Identity", ml.post_transform(e, scores, kind, len(pairs)), out=score_out)


def _svm_classifier_check(node, ctx):
    reason = _string_labels(node, ctx.graph)
    if reason:
        return reason
    if _list(node, "prob_a"):
        return (
            "prob_a/prob_b are set: onnxruntime couples the pairwise probabilities iteratively "
            "(not lowered; convert the SVC with probability=False)"
        )
    labels = _list(node, "classlabels_ints")
    per_class, total = _svm_layout(node)
    kind = attr_text(node.attrs.get("post_transform", "NONE"))
    coef = _list(node, "coefficients")
    if total == 0:
        if len(labels) < 2 or len(coef) % len(labels):
            return "linear SVM with fewer than 2 classes or coefficients not one row per class"
        return None
    classes = len(per_class)
    if classes < 2 or len(labels) != classes:
        return f"{classes} classes in vectors_per_class but {len(labels)} integer labels"
    if len(coef) != (classes - 1) * total or len(_list(node, "support_vectors")) % total:
        return "coefficients/support_vectors do not match vectors_per_class"
    if len(_list(node, "rho")) < classes * (classes - 1) // 2:
        return "rho has fewer entries than class pairs"
    if classes == 2 and kind == "PROBIT" and _out(node, 1, ctx.graph):
        return "PROBIT on a single binary score: onnxruntime leaves the second column undefined"
    return None


# -- trees -------------------------------------------------------------------------------------
def _tree_regressor(node, ctx):
    targets = int(node.attrs.get("n_targets", 1))
    base = np.array(_list(node, "base_values") or _list(node, "base_values_as_tensor"), F32)
    _aggregate_trees(
        node,
        ctx,
        ml.forest_from_attrs(node.attrs, "target", targets),
        attr_text(node.attrs.get("aggregate_function", "SUM")),
        attr_text(node.attrs.get("post_transform", "NONE")),
        base,
        targets,
    )


def _tree_ensemble_v5(node, ctx):
    agg = ml.V5_AGGREGATES[int(node.attrs.get("aggregate_function", 1))]
    kind = ml.V5_TRANSFORMS[int(node.attrs.get("post_transform", 0))]
    targets = int(node.attrs.get("n_targets", 1))
    forest = ml.forest_from_v5(node.attrs)
    _aggregate_trees(node, ctx, forest, agg, kind, np.zeros(0, F32), targets)


def _aggregate_trees(node, ctx, forest, agg: str, kind: str, base, targets: int) -> None:
    """onnxruntime's regression aggregation: SUM/AVERAGE/MIN/MAX over the trees (a tree
    that scores no leaf for a target leaves it out), base_values, then the post-transform
    (with one target, only PROBIT applies)."""
    e = Emit(ctx)
    x = _as_float(e, node.inputs[0])
    leaves = ml.traverse(e, x, forest)
    weights = ml.leaf_values(e, leaves, forest.weights, "leaf_weights")
    rounds = len(forest.roots)
    c = ml.partial_const(e)
    if agg in ("SUM", "AVERAGE"):
        scores = e.reduce("ReduceSum", weights, [1], 0)
        if agg == "AVERAGE":
            scores = e.op("Div", scores, c(float(rounds)))
    else:
        scored = ml.leaf_values(e, leaves, forest.scored, "leaf_scored")
        fill = c(np.inf if agg == "MIN" else -np.inf)
        masked = e.op("Where", scored, weights, fill)
        scores = e.reduce("ReduceMin" if agg == "MIN" else "ReduceMax", masked, [1], 0)
        has = e.reduce("ReduceMax", e.cast(scored, np.int32), [1], 0)
        scores = e.op("Where", e.cast(has, np.bool_), scores, c(0.0))
    if (targets == 1 and len(base) == 1) or (targets > 1 and len(base) == targets):
        scores = e.op("Add", scores, e.const(base))
    e.op("Identity", ml.post_transform(e, scores, kind, targets), out=node.outputs[0])


def _always_scored(forest: ml.Forest, tree_ids: list) -> np.ndarray:
    """[T] whether every row gets a score for target k (some tree scores k on every leaf)."""
    trees: dict[int, list[int]] = {}
    for i, t in enumerate(tree_ids):
        if forest.mode[i] == "LEAF":
            trees.setdefault(int(t), []).append(i)
    out = np.zeros(forest.weights.shape[1], bool)
    for leaves in trees.values():
        out |= forest.scored[leaves].all(axis=0)
    return out


def _tree_classifier_plan(node, ctx) -> dict | str:
    """How onnxruntime finalizes this classifier's scores and label (its binary cases have
    several layouts), or why the layout is not lowered."""
    labels = [int(v) for v in _list(node, "classlabels_int64s")]
    n = len(labels) or len(_list(node, "classlabels_strings"))
    if n < 2:
        return "fewer than two class labels"
    forest = ml.forest_from_attrs(node.attrs, "class", n)
    if isinstance(forest, str):
        return forest
    base = np.array(_list(node, "base_values") or _list(node, "base_values_as_tensor"), F32)
    kind = attr_text(node.attrs.get("post_transform", "NONE"))
    always = _always_scored(forest, _list(node, "nodes_treeids"))
    ids = sorted({int(k) for k in _list(node, "class_ids")})
    weights = _list(node, "class_weights") or _list(node, "class_weights_as_tensor")
    plan = {"forest": forest, "base": base, "kind": kind, "labels": labels, "n": n}
    if n > 2:
        if len(base) not in (0, n):
            return f"{len(base)} base_values for {n} classes"
        plan["layout"] = "multi"
        plan["always"] = always if not len(base) else np.ones(n, bool)
        return plan
    plan["all_positive"] = all(float(w) >= 0 for w in weights)
    if ids == [0, 1]:
        if not always[1]:
            return "binary classifier whose class 1 is not scored by every tree path"
        plan["layout"] = "two-ids"
        return plan
    if ids == [0] and always[0] and len(base) <= 1:
        if kind == "PROBIT":
            return "PROBIT on a single binary score: onnxruntime leaves the second column undefined"
        plan["layout"] = "one-id-0"
        return plan
    if ids == [1] and always[1] and len(base) == 0:
        plan["layout"] = "one-id-1"
        return plan
    return f"binary classifier layout (class ids {ids}, {len(base)} base_values) is not lowered"


def _tree_classifier(node, ctx):
    plan = _tree_classifier_plan(node, ctx)
    e = Emit(ctx)
    graph = ctx.graph
    c = ml.partial_const(e)
    x = _as_float(e, node.inputs[0])
    forest, base, kind, labels = plan["forest"], plan["base"], plan["kind"], plan["labels"]
    n = plan["n"]
    leaves = ml.traverse(e, x, forest)
    sums = e.reduce("ReduceSum", ml.leaf_values(e, leaves, forest.weights, "leaf_weights"), [1], 0)
    label_out, score_out = _out(node, 0, graph), _out(node, 1, graph)
    labels_const = e.const(np.array(labels or [0] * n, np.int64), base="labels")

    def column(k):
        return e.op(
            "Slice",
            sums,
            e.const(np.array([k], np.int64)),
            e.const(np.array([k + 1], np.int64)),
            e.const(np.array([1], np.int64)),
        )

    def pick(condition, out, pos=None, neg=None):
        e.op(
            "Where",
            condition,
            e.const(np.array(labels[1] if pos is None else pos, np.int64)),
            e.const(np.array(labels[0] if neg is None else neg, np.int64)),
            out=out,
        )

    layout = plan["layout"]
    if layout == "multi":
        scores = e.op("Add", sums, e.const(base)) if len(base) else sums
        if label_out is not None:
            ranked = scores
            if not plan["always"].all():
                scored = ml.leaf_values(e, leaves, forest.scored, "leaf_scored")
                has = e.op("Cast", e.reduce("ReduceMax", e.cast(scored, np.int32), [1], 0), to=9)
                ranked = e.op("Where", has, scores, c(-np.inf))
            best = e.op("ArgMax", ranked, axis=1, keepdims=0)
            e.op("Gather", labels_const, best, axis=0, out=label_out)
        if score_out is not None:
            e.op("Identity", ml.post_transform(e, scores, kind, n), out=score_out)
        return
    if layout == "two-ids":
        s0, s1 = column(0), column(1)
        if len(base) == 2:
            s1 = e.op("Add", s0, c(float(base[1])))
            s0 = e.op("Neg", s1)
        elif len(base) == 1:
            s0 = e.op("Add", s0, c(float(base[0])))
        if label_out is not None:
            # onnxruntime labels this layout 1 / 0 (not classlabels_int64s): reproduced
            pick(_flat(e, e.op("Greater", s1, c(0.0))), label_out, pos=1, neg=0)
        if score_out is not None:
            pair = e.op("Concat", s0, s1, axis=1)
            e.op("Identity", ml.post_transform(e, pair, kind, 2), out=score_out)
        return
    s = column(0) if layout == "one-id-0" else column(1)
    if layout == "one-id-0" and len(base) == 1:
        s = e.op("Add", s, c(float(base[0])))
    positive = plan["all_positive"]
    if label_out is not None:
        pick(_flat(e, e.op("Greater", s, c(0.5 if positive else 0.0))), label_out)
    if score_out is None:
        return
    if layout == "one-id-1":
        zeros = e.op("Mul", s, c(0.0))
        e.op(
            "Identity",
            ml.post_transform(e, e.op("Concat", zeros, s, axis=1), kind, 2),
            out=score_out,
        )
    elif positive:
        _pair(e, e.op("Sub", c(1.0), s), s, score_out)
    elif kind == "LOGISTIC":
        _pair(e, e.op("Sigmoid", e.op("Neg", s)), e.op("Sigmoid", s), score_out)
    else:
        _pair(e, e.op("Neg", s), s, score_out)


def _tree_classifier_check(node, ctx):
    reason = _string_labels(node, ctx.graph)
    if reason:
        return reason
    plan = _tree_classifier_plan(node, ctx)
    return plan if isinstance(plan, str) else None


def _tree_ensemble_v5_check(node, ctx):
    if _dtype(node.inputs[0]) != np.float32:
        return "TreeEnsemble on a non-float32 input computes in its type; only float32 is lowered"
    if int(node.attrs.get("aggregate_function", 1)) not in range(4):
        return "unknown aggregate_function"
    transform = int(node.attrs.get("post_transform", 0))
    if transform not in range(5):
        return "unknown post_transform"
    if transform in (1, 2):
        return (
            f"post_transform={transform}: the ONNX spec reads 1 as SOFTMAX and 2 as LOGISTIC, "
            "onnxruntime (1.32) the reverse; not lowered while the two disagree"
        )
    forest = ml.forest_from_v5(node.attrs)
    return forest if isinstance(forest, str) else None


def _tree_regressor_check(node, ctx):
    targets = int(node.attrs.get("n_targets", 1))
    forest = ml.forest_from_attrs(node.attrs, "target", targets)
    if isinstance(forest, str):
        return forest
    agg = attr_text(node.attrs.get("aggregate_function", "SUM"))
    if agg not in ("SUM", "AVERAGE", "MIN", "MAX"):
        return f"unknown aggregate_function {agg}"
    return None


# -- checks of the simple ops ---------------------------------------------------------------
def _check_linear_regressor(node, ctx):
    targets = int(node.attrs.get("targets", 1))
    coef = _list(node, "coefficients")
    intercepts = _list(node, "intercepts")
    if targets < 1 or not coef or len(coef) % targets:
        return f"{len(coef)} coefficients do not split into {targets} target rows"
    if intercepts and len(intercepts) not in (1, targets):
        return f"{len(intercepts)} intercepts for {targets} targets"
    return None


def _check_known_dtype(node, ctx):
    dtype = _dtype(node.inputs[0])
    if dtype is None or dtype.name not in NUMERIC:
        return f"input '{node.inputs[0].name}' is not a known numeric tensor ({dtype})"
    return None


def _check_normalizer(node, ctx):
    norm = attr_text(node.attrs.get("norm", "MAX"))
    return None if norm in ("MAX", "L1", "L2") else f"unknown norm {norm}"


def _check_imputer(node, ctx):
    dtype = _dtype(node.inputs[0])
    if dtype is None or dtype.name not in NUMERIC:
        return f"input '{node.inputs[0].name}' is not a known numeric tensor"
    name = "imputed_value_floats" if dtype.kind == "f" else "imputed_value_int64s"
    if not _list(node, name):
        return f"{name} is empty for a {dtype} input"
    return None


def _check_afe(node, ctx):
    dtype = _dtype(node.inputs[0])
    if dtype is not None and dtype.kind in "OSU":
        return "string input (TensorRT has no string tensors)"
    return None


def _check_label_encoder(node, ctx):
    table = _label_encoder_table(node)
    if isinstance(table, str):
        return table
    dtype = _dtype(node.inputs[0])
    if dtype is None or dtype.kind not in "fi":
        return "the input is not a known numeric tensor"
    return None


def _check_one_hot(node, ctx):
    if _list(node, "cats_strings"):
        return "string categories (TensorRT has no string tensors)"
    if not _list(node, "cats_int64s"):
        return "no cats_int64s"
    return _numeric_input(node, rank2=False)


def _check_zipmap(node, ctx):
    if not ctx.options.zipmap_as_tensor:
        return (
            "ZipMap outputs a sequence of maps, which no TensorRT engine can output; "
            "pass --zipmap-as-tensor to output the [N, classes] probability tensor instead"
        )
    labels = _list(node, "classlabels_int64s") or [
        attr_text(v) for v in _list(node, "classlabels_strings")
    ]
    if labels != sorted(labels):
        return "class labels are not sorted: the map's key order differs from the columns"
    out = node.outputs[0]
    if out.outputs:
        return f"output '{out.name}' is read by other nodes (only a graph output is replaced)"
    return None


Builder = tuple  # (build, check, needs a 2-D input)
HANDLERS: dict[str, tuple] = {
    "Scaler": (_scaler, None, False),
    "Normalizer": (_normalizer, _check_normalizer, False),
    "Binarizer": (_binarizer, _check_known_dtype, False),
    "Imputer": (_imputer, _check_imputer, False),
    "ArrayFeatureExtractor": (_array_feature_extractor, _check_afe, False),
    "LabelEncoder": (_label_encoder, _check_label_encoder, False),
    "OneHotEncoder": (_one_hot_encoder, _check_one_hot, False),
    "ZipMap": (_zipmap, _check_zipmap, False),
    "LinearRegressor": (_linear_regressor, _check_linear_regressor, True),
    "LinearClassifier": (_linear_classifier, _linear_classifier_check, True),
    "SVMRegressor": (_svm_regressor, _svm_regressor_check, True),
    "SVMClassifier": (_svm_classifier, _svm_classifier_check, True),
    "TreeEnsembleRegressor": (_tree_regressor, _tree_regressor_check, True),
    "TreeEnsembleClassifier": (_tree_classifier, _tree_classifier_check, True),
    "TreeEnsemble": (_tree_ensemble_v5, _tree_ensemble_v5_check, True),
}
#: ops whose input is data (not a label/category) and must be numeric.
_NUMERIC_INPUT = {
    "Scaler",
    "Normalizer",
    "Binarizer",
    "LinearRegressor",
    "LinearClassifier",
    "SVMRegressor",
    "SVMClassifier",
    "TreeEnsembleRegressor",
    "TreeEnsembleClassifier",
    "TreeEnsemble",
}


#: attributes with one value per input feature, or one value for all of them
PER_FEATURE = {
    "Scaler": ("offset", "scale"),
    "Imputer": ("imputed_value_floats", "imputed_value_int64s"),
}
#: attributes holding whole rows of per-feature weights, and the attribute counting the rows
#: (None: "targets", default 1)
FEATURE_ROWS = {
    "LinearClassifier": ("coefficients", "intercepts"),
    "LinearRegressor": ("coefficients", None),
}
#: attributes holding input feature indices
FEATURE_INDICES = {
    "TreeEnsembleRegressor": "nodes_featureids",
    "TreeEnsembleClassifier": "nodes_featureids",
}


def _feature_mismatch(node: gs.Node) -> str | None:
    """Why the op's attributes do not fit the input's static feature count, or None.

    onnxruntime runs such a model its own way (an Imputer of 6 values on 1 feature uses the
    first; a Where against 6 values broadcasts the input to 6 columns), so the lowering, which
    follows the attributes, would compute something else."""
    x = node.inputs[0] if node.inputs else None
    shape = x.shape if x is not None else None
    if not shape or not isinstance(shape[-1], (int, np.integer)) or shape[-1] <= 0:
        return None
    features = int(shape[-1])
    for name in PER_FEATURE.get(node.op, ()):
        count = len(_list(node, name))
        if count not in (0, 1, features):
            return f"{name} holds {count} values for {features} input feature(s)"
    if node.op in FEATURE_ROWS:
        name, rows_from = FEATURE_ROWS[node.op]
        rows = len(_list(node, rows_from)) if rows_from else int(node.attrs.get("targets", 1))
        count = len(_list(node, name))
        if rows and count != rows * features:
            return f"{name} holds {count} values, not {rows} row(s) of {features} feature(s)"
    if node.op in FEATURE_INDICES:
        ids = _list(node, FEATURE_INDICES[node.op])
        if ids and not 0 <= min(ids) <= max(ids) < features:
            return f"a tree reads feature {max(ids)} of an input with {features} feature(s)"
    return None


def _ops_changed_since(graph: gs.Graph, old: int, new: int) -> list[str]:
    """The model's default-domain ops whose schema changed between opsets `old` and `new`
    (raising the import is exact when none did; onnxmltools' LightGBM models are opset 8/9
    with only Identity/Cast/Reshape-like ops)."""
    import onnx

    changed = set()
    for node in graph.nodes:
        if node.domain not in ("", "ai.onnx", None):
            continue
        try:
            before = onnx.defs.get_schema(node.op, old, "").since_version
            after = onnx.defs.get_schema(node.op, new, "").since_version
        except onnx.defs.SchemaError:
            changed.add(node.op)
            continue
        if before != after:
            changed.add(node.op)
    return sorted(changed)


class LowerMl(RewritePass):
    """ai.onnx.ml ops → standard ONNX ops (tensorized trees, kernel SVMs, linear models, …)."""

    id = "lower-ml"
    summary = "ai.onnx.ml ops (linear, SVM, tree ensembles, scalers, encoders) → standard ONNX"
    order = 12
    removes = frozenset((ML, op) for op in HANDLERS)

    options = (
        PassOption(
            "zipmap_as_tensor",
            default=False,
            type=bool,
            help="lower-ml: replace a ZipMap (a sequence of maps, which no TensorRT engine "
            "can output) by the [N, classes] probability tensor, under the same output name",
        ),
    )

    @classmethod
    def leaves(cls, node, graph=None) -> str | None:
        """What the node itself shows the pass skips: string categories or a string input
        (TensorRT has no string tensors); trt-check then names no fix for it."""
        if node.domain != ML or node.op_type not in HANDLERS:
            return None
        if node.op_type == "OneHotEncoder" and any(
            a.name == "cats_strings" and len(a.strings) for a in node.attribute
        ):
            return "string categories (TensorRT has no string tensors)"
        if graph is not None and node.input and node.input[0]:
            if graph.tensor(node.input[0]).dtype == "STRING":
                return "string input (TensorRT has no string tensors)"
        if graph is None:
            return None
        try:
            return _check_alone(node, graph)
        except Exception:  # noqa: BLE001 - a node the pass cannot even look at: its rewrite says
            return None

    def find(self, ctx: PassContext):
        for node in list(ctx.graph.nodes):
            if node.domain == ML and node.op in HANDLERS:
                yield Match(anchor=anchor(node), nodes=[node])

    def check(self, match: Match, ctx: PassContext) -> str | None:
        node = match.nodes[0]
        _, check, rank2 = HANDLERS[node.op]
        if 0 < ctx.opset < MIN_OPSET:
            changed = _ops_changed_since(ctx.graph, ctx.opset, MIN_OPSET)
            if changed:
                return (
                    f"the lowering needs ai.onnx opset {MIN_OPSET} and the model's "
                    f"{', '.join(changed)} changed since its opset {ctx.opset} (convert it "
                    "with onnx.version_converter first)"
                )
        if node.op in _NUMERIC_INPUT:
            reason = _numeric_input(node, rank2)
            if reason:
                return reason
        reason = _feature_mismatch(node)
        if reason:
            return reason
        return check(node, ctx) if check is not None else None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        build, _, _ = HANDLERS[node.op]
        if not ctx.opset:  # the model imports no ai.onnx opset (onnxmltools' XGBoost models)
            ctx.require_domain("", NEW_OPSET)
        elif ctx.opset < MIN_OPSET:  # checked: no op of the model changed meaning since
            ctx.require_domain("", MIN_OPSET)
        outputs = list(node.outputs)
        detach(node)
        node.outputs.extend(outputs)  # builders read them; cleared again below
        build(node, ctx)
        node.outputs.clear()


def _check_alone(node, graph) -> str | None:
    """The pass's own `check` of `node`, on a model of that node alone: its inputs typed as
    trt-check knows them, its outputs those the graph reads or returns (a used label output
    is what some skips hinge on). What the check sees of the node — attributes, input types,
    which outputs are used — is what it sees in the rewrite, so the skips trt-check reports
    are the ones `--auto` would make (string class labels, an SVC with probabilities,
    BRANCH_MEMBER splits, post_transform 1 or 2, ...)."""
    from onnx import helper

    from trtforge.analyzer.rewrite.base import RewriteOptions

    inputs = [graph.value_info(name) for name in dict.fromkeys(n for n in node.input if n)]
    used = [
        name
        for name in node.output
        if name and (graph.is_graph_output(name) or graph.consumers.get(name))
    ]
    outputs = [graph.value_info(name) for name in used]
    alone = helper.make_model(
        helper.make_graph([node], "alone", inputs, outputs),
        opset_imports=[helper.make_opsetid("", MIN_OPSET), helper.make_opsetid(ML, 5)],
    )
    from trtforge.analyzer.rewrite.graphutil import graphsurgeon_silenced

    with graphsurgeon_silenced():  # (its log lines go to stdout: a JSON report's stream)
        copy = gs.import_onnx(alone)
        # (a ZipMap is lowered with --zipmap-as-tensor, which trt-check's hint names)
        options = RewriteOptions(None, zipmap_as_tensor=True)
        ctx = PassContext(copy, options, LowerMl.id, {"": MIN_OPSET, ML: 5})
        return LowerMl().check(Match(anchor=anchor(copy.nodes[0]), nodes=[copy.nodes[0]]), ctx)


PASS = LowerMl
