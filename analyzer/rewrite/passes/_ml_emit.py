"""Builders the `lower-ml` pass shares: one small op-emitting helper, onnxruntime's score
post-transforms, and tensorized tree-ensemble traversal.

Every formula here reproduces what onnxruntime's CPU kernels for `ai.onnx.ml` compute, so
that the lowered graph verifies against the original within float tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import PassContext

np = lazy_import("numpy")
onnx = lazy_import("onnx")
gs = lazy_import("onnx_graphsurgeon")

#: the float type lowered models compute in (a dtype name: numpy is imported on first use).
F32 = "float32"


class Emit:
    """Adds default-domain nodes under the pass id, one output each unless told otherwise."""

    def __init__(self, ctx: PassContext):
        self.ctx = ctx

    def const(self, value, dtype=None, base: str = "c") -> gs.Constant:
        array = np.asarray(value, dtype=dtype) if dtype is not None else np.asarray(value)
        return self.ctx.constant(base, array)

    def op(self, op: str, *inputs: gs.Tensor, out: gs.Tensor | None = None, **attrs) -> gs.Tensor:
        result = out if out is not None else self.ctx.variable(op.lower())
        self.ctx.node(op, list(inputs), [result], attrs)
        return result

    def cast(self, x: gs.Tensor, to, out: gs.Tensor | None = None) -> gs.Tensor:
        return self.op("Cast", x, out=out, to=onnx.helper.np_dtype_to_tensor_dtype(np.dtype(to)))

    def reduce(self, op: str, x: gs.Tensor, axes: list[int], keepdims: int) -> gs.Tensor:
        """Reduce* with axes as an input (opset 18; ReduceSum since 13) or as an attribute."""
        takes_input = self.ctx.opset >= (13 if op == "ReduceSum" else 18)
        if takes_input:
            return self.op(
                op, x, self.const(np.array(axes, np.int64), base="axes"), keepdims=keepdims
            )
        return self.op(op, x, axes=axes, keepdims=keepdims)

    def unsqueeze(self, x: gs.Tensor, axes: list[int]) -> gs.Tensor:
        if self.ctx.opset >= 13:
            return self.op("Unsqueeze", x, self.const(np.array(axes, np.int64), base="axes"))
        return self.op("Unsqueeze", x, axes=axes)

    def batch_expand(self, x2d: gs.Tensor, row: np.ndarray) -> gs.Tensor:
        """`row` ([K]) repeated for every row of the 2-D tensor `x2d` ([N, K])."""
        shape = self.op("Shape", x2d)
        n = self.op(
            "Slice",
            shape,
            self.const(np.array([0], np.int64), base="starts"),
            self.const(np.array([1], np.int64), base="ends"),
        )
        size = self.op("Concat", n, self.const(np.array([row.shape[0]], np.int64)), axis=0)
        return self.op("Expand", self.const(row.reshape(1, -1), base="row"), size)


# -- post transforms (onnxruntime ml_common.h) ---------------------------------------------
def probit(e: Emit, x: gs.Tensor) -> gs.Tensor:
    """sqrt(2) * ErfInv(2x - 1), with onnxruntime's closed-form ErfInv approximation
    (Winitzki, a = 0.147, pi written as 3.14159)."""
    c = partial_const(e)
    t = e.op("Sub", e.op("Mul", x, c(2.0)), c(1.0))
    sign = e.op("Where", e.op("Less", t, c(0.0)), c(-1.0), c(1.0))
    square = e.op("Mul", e.op("Sub", c(1.0), t), e.op("Add", c(1.0), t))
    log = e.op("Log", square)
    # the constants are folded in float32, exactly as onnxruntime's float code folds them:
    # the formula cancels badly near 0.5 and a one-ulp difference there shows
    a = np.float32(0.147)
    v = e.op("Add", c(np.float32(2) / (np.float32(3.14159) * a)), e.op("Mul", c(0.5), log))
    v2 = e.op("Mul", c(np.float32(1) / a), log)
    v3 = e.op("Sub", e.op("Sqrt", e.op("Sub", e.op("Mul", v, v), v2)), v)
    return e.op("Mul", c(np.float32(math.sqrt(2.0))), e.op("Mul", sign, e.op("Sqrt", v3)))


def softmax_zero(e: Emit, x: gs.Tensor) -> gs.Tensor:
    """Softmax over the last axis that leaves (near-)zero scores out of the sum."""
    c = partial_const(e)
    vmax = e.reduce("ReduceMax", x, [-1], 1)
    nonzero = e.op("Greater", e.op("Abs", x), c(1e-7))
    shifted = e.op("Exp", e.op("Sub", x, vmax))
    scaled_zero = e.op("Mul", x, e.op("Exp", e.op("Neg", vmax)))
    values = e.op("Where", nonzero, shifted, scaled_zero)
    total = e.reduce("ReduceSum", e.op("Where", nonzero, shifted, c(0.0)), [-1], 1)
    return e.op("Div", values, total)


def post_transform(e: Emit, scores: gs.Tensor, kind: str, width: int) -> gs.Tensor:
    """onnxruntime's batched post-transform of [N, width] scores. With one score per row only
    PROBIT applies (the other transforms are the caller's binary-case business)."""
    if kind == "NONE" or (width == 1 and kind != "PROBIT"):
        return scores
    if kind == "PROBIT":
        return probit(e, scores)
    if kind == "LOGISTIC":
        return e.op("Sigmoid", scores)
    if kind == "SOFTMAX":
        return e.op("Softmax", scores, axis=-1 if e.ctx.opset >= 13 else 1)
    if kind == "SOFTMAX_ZERO":
        return softmax_zero(e, scores)
    raise ValueError(f"unknown post_transform {kind}")


def partial_const(e: Emit):
    return lambda value: e.const(np.array(value, F32))


# -- trees ---------------------------------------------------------------------------------
MODES = ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ", "LEAF")


@dataclass
class Forest:
    """All trees of one ensemble, flattened: node i of the forest has a feature, threshold,
    mode, true/false successor (a leaf points to itself) and a leaf weight per target."""

    feature: np.ndarray  # [M] int64
    threshold: np.ndarray  # [M] float32
    mode: list[str]  # [M]
    true_next: np.ndarray  # [M] int64
    false_next: np.ndarray  # [M] int64
    missing_true: np.ndarray  # [M] bool
    weights: np.ndarray  # [M, T] float32
    scored: np.ndarray  # [M, T] bool: the leaf adds a weight for that target
    roots: np.ndarray  # [R] int64
    depth: int
    notes: list[str] = field(default_factory=list)


def _attr(attrs: dict, name: str, default=None):
    value = attrs.get(name, default)
    if isinstance(value, gs.Constant):
        return np.asarray(value.values).tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def forest_from_attrs(attrs: dict, prefix: str, n_targets: int) -> Forest | str:
    """The flattened forest of a TreeEnsembleClassifier (`prefix` "class") or
    TreeEnsembleRegressor ("target"), or why it cannot be built."""
    tree_ids = _attr(attrs, "nodes_treeids", [])
    node_ids = _attr(attrs, "nodes_nodeids", [])
    features = _attr(attrs, "nodes_featureids", [])
    values = _attr(attrs, "nodes_values") or _attr(attrs, "nodes_values_as_tensor", [])
    modes = [m.decode() if isinstance(m, bytes) else m for m in _attr(attrs, "nodes_modes", [])]
    trues = _attr(attrs, "nodes_truenodeids", [])
    falses = _attr(attrs, "nodes_falsenodeids", [])
    missing = _attr(attrs, "nodes_missing_value_tracks_true") or [0] * len(node_ids)
    m = len(node_ids)
    if not m or any(len(a) != m for a in (tree_ids, features, modes, trues, falses, missing)):
        return "the nodes_* attributes are missing or of different lengths"
    if len(values) != m:
        return "nodes_values does not give one threshold per node"
    bad = sorted({mode for mode in modes if mode not in MODES})
    if bad:
        return f"unknown node mode(s) {bad}"
    index = {(int(t), int(n)): i for i, (t, n) in enumerate(zip(tree_ids, node_ids, strict=True))}
    if len(index) != m:
        return "two nodes share a (tree id, node id)"
    true_next = np.arange(m, dtype=np.int64)
    false_next = np.arange(m, dtype=np.int64)
    has_parent = np.zeros(m, bool)
    for i in range(m):
        if modes[i] == "LEAF":
            continue
        for targets, succ in ((true_next, trues[i]), (false_next, falses[i])):
            j = index.get((int(tree_ids[i]), int(succ)))
            if j is None:
                return f"node {node_ids[i]} of tree {tree_ids[i]} points to a missing node {succ}"
            targets[i] = j
            has_parent[j] = True
    roots = np.array([i for i in range(m) if not has_parent[i]], np.int64)
    if len(roots) != len({int(t) for t in tree_ids}):
        return "a tree without exactly one root (a cycle, or a node no branch reaches)"
    weights = np.zeros((m, n_targets), np.float32)
    scored = np.zeros((m, n_targets), bool)
    w_trees = _attr(attrs, f"{prefix}_treeids", [])
    w_nodes = _attr(attrs, f"{prefix}_nodeids", [])
    w_ids = _attr(attrs, f"{prefix}_ids", [])
    w_values = _attr(attrs, f"{prefix}_weights") or _attr(attrs, f"{prefix}_weights_as_tensor", [])
    if any(len(a) != len(w_ids) for a in (w_trees, w_nodes, w_values)):
        return f"the {prefix}_* attributes are of different lengths"
    for t, n, k, w in zip(w_trees, w_nodes, w_ids, w_values, strict=True):
        i = index.get((int(t), int(n)))
        if i is None or not 0 <= int(k) < n_targets:
            return f"a {prefix} weight names a missing node or an id outside 0..{n_targets - 1}"
        weights[i, int(k)] += np.float32(w)
        scored[i, int(k)] = True
    depth = _depth(roots, true_next, false_next, m)
    if depth is None:
        return "the trees have a cycle"
    return Forest(
        feature=np.array(features, np.int64),
        threshold=np.array(values, np.float32),
        mode=modes,
        true_next=true_next,
        false_next=false_next,
        missing_true=np.array(missing, bool),
        weights=weights,
        scored=scored,
        roots=roots,
        depth=depth,
    )


#: TreeEnsemble (ai.onnx.ml opset 5) encodings of nodes_modes, aggregate_function and
#: post_transform.
V5_MODES = MODES[:6]
V5_AGGREGATES = ("AVERAGE", "SUM", "MIN", "MAX")
V5_TRANSFORMS = ("NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT")


def forest_from_v5(attrs: dict) -> Forest | str:
    """The flattened forest of a TreeEnsemble (ai.onnx.ml opset 5) node: its interior nodes
    first, then its leaves (each pointing to itself), or why it cannot be built."""
    modes = [int(v) for v in _attr(attrs, "nodes_modes", [])]
    features = _attr(attrs, "nodes_featureids", [])
    splits = _attr(attrs, "nodes_splits", [])
    trues = _attr(attrs, "nodes_truenodeids", [])
    falses = _attr(attrs, "nodes_falsenodeids", [])
    true_leaf = _attr(attrs, "nodes_trueleafs", [])
    false_leaf = _attr(attrs, "nodes_falseleafs", [])
    missing = _attr(attrs, "nodes_missing_value_tracks_true") or [0] * len(modes)
    targets = _attr(attrs, "leaf_targetids", [])
    weights = _attr(attrs, "leaf_weights", [])
    roots = _attr(attrs, "tree_roots", [])
    n, leaves = len(modes), len(targets)
    if not n or any(
        len(a) != n for a in (features, splits, trues, falses, true_leaf, false_leaf, missing)
    ):
        return "the nodes_* attributes are missing or of different lengths"
    if len(weights) != leaves or not leaves:
        return "leaf_weights and leaf_targetids differ in length"
    if any(m >= len(V5_MODES) for m in modes):
        return "BRANCH_MEMBER (set membership) nodes are not lowered"
    n_targets = int(attrs.get("n_targets", 1))
    if any(not 0 <= int(t) < n_targets for t in targets):
        return f"a leaf target id is outside 0..{n_targets - 1}"
    m = n + leaves

    def successor(ids, is_leaf, i):
        j = int(ids[i])
        limit = leaves if is_leaf[i] else n
        if not 0 <= j < limit:
            raise IndexError(j)
        return n + j if is_leaf[i] else j

    true_next = np.arange(m, dtype=np.int64)
    false_next = np.arange(m, dtype=np.int64)
    try:
        for i in range(n):
            true_next[i] = successor(trues, true_leaf, i)
            false_next[i] = successor(falses, false_leaf, i)
    except IndexError as err:
        return f"a node points outside the nodes/leaves ({err})"
    if not roots or any(not 0 <= int(r) < n for r in roots):
        return "tree_roots is empty or points outside the nodes"
    table = np.zeros((m, n_targets), np.float32)
    scored = np.zeros((m, n_targets), bool)
    for j, (t, w) in enumerate(zip(targets, weights, strict=True)):
        table[n + j, int(t)] += np.float32(w)
        scored[n + j, int(t)] = True
    roots_a = np.array([int(r) for r in roots], np.int64)
    depth = _depth(roots_a, true_next, false_next, m)
    if depth is None:
        return "the trees have a cycle"
    return Forest(
        feature=np.concatenate([np.array(features, np.int64), np.zeros(leaves, np.int64)]),
        threshold=np.concatenate([np.array(splits, np.float32), np.zeros(leaves, np.float32)]),
        mode=[V5_MODES[k] for k in modes] + ["LEAF"] * leaves,
        true_next=true_next,
        false_next=false_next,
        missing_true=np.concatenate([np.array(missing, bool), np.zeros(leaves, bool)]),
        weights=table,
        scored=scored,
        roots=roots_a,
        depth=depth,
    )


def _depth(roots, true_next, false_next, m: int) -> int | None:
    depth = 0
    frontier = set(int(r) for r in roots)
    seen_levels = 0
    while True:
        nxt = set()
        for i in frontier:
            for j in (true_next[i], false_next[i]):
                if j != i:
                    nxt.add(int(j))
        if not nxt:
            return depth
        depth += 1
        seen_levels += 1
        if seen_levels > m:
            return None
        frontier = nxt | {i for i in frontier if true_next[i] == i}


def _compare(e: Emit, mode: str, v: gs.Tensor, th: gs.Tensor) -> gs.Tensor:
    if mode == "BRANCH_LEQ":
        return e.op("Or", e.op("Less", v, th), e.op("Equal", v, th))
    if mode == "BRANCH_LT":
        return e.op("Less", v, th)
    if mode == "BRANCH_GTE":
        return e.op("Or", e.op("Greater", v, th), e.op("Equal", v, th))
    if mode == "BRANCH_GT":
        return e.op("Greater", v, th)
    if mode == "BRANCH_EQ":
        return e.op("Equal", v, th)
    return e.op("Not", e.op("Equal", v, th))


def traverse(e: Emit, x: gs.Tensor, forest: Forest) -> gs.Tensor:
    """The leaf each row of `x` ([N, F] float) reaches in every tree: [N, R] int64 forest
    indices. One level per step (Gather of the node's feature/threshold, compare, Where),
    as many steps as the deepest tree; a leaf points to itself so shallower trees stay put."""
    idx = e.batch_expand(x, forest.roots)
    branch_modes = sorted({m for m in forest.mode if m != "LEAF"})
    feature = e.const(forest.feature, base="feature")
    threshold = e.const(forest.threshold, base="threshold")
    true_next = e.const(forest.true_next, base="true_next")
    false_next = e.const(forest.false_next, base="false_next")
    masks = {
        mode: e.const(np.array([m == mode for m in forest.mode]), base="is_" + mode.lower())
        for mode in branch_modes
    }
    tracks = forest.missing_true.any()
    missing = e.const(forest.missing_true, base="missing_true") if tracks else None
    for _ in range(forest.depth):
        f = e.op("Gather", feature, idx, axis=0)
        v = e.op("GatherElements", x, f, axis=1)
        th = e.op("Gather", threshold, idx, axis=0)
        cond = None
        for mode in branch_modes:
            hit = _compare(e, mode, v, th)
            if len(branch_modes) > 1:
                hit = e.op("And", hit, e.op("Gather", masks[mode], idx, axis=0))
            cond = hit if cond is None else e.op("Or", cond, hit)
        if tracks:
            nan_true = e.op("And", e.op("IsNaN", v), e.op("Gather", missing, idx, axis=0))
            cond = e.op("Or", cond, nan_true)
        idx = e.op(
            "Where",
            cond,
            e.op("Gather", true_next, idx, axis=0),
            e.op("Gather", false_next, idx, axis=0),
        )
    return idx


def leaf_values(e: Emit, leaves: gs.Tensor, table: np.ndarray, base: str) -> gs.Tensor:
    """[N, R, T] leaf table rows for the reached leaves."""
    return e.op("Gather", e.const(table, base=base), leaves, axis=0)
