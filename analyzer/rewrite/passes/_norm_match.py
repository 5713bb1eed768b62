"""Matching what decomposed normalizations share: the inverse standard deviation, the affine
parameters (also behind Identity), the trailing Cast/Mul/Add, and the normalized dims.

fuse-layernorm and fuse-rmsnorm match their patterns with these; a pass never imports another
pass's private helpers. Nothing here mutates a graph (`extend_tail` only grows a Match).
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite import emit
from trtforge.analyzer.rewrite.base import Match
from trtforge.analyzer.rewrite.graphutil import (
    escapes,
    is_close,
    is_default,
    is_lazy_external,
    other_input,
    scalar,
    single_use,
    split_const,
    static_tail,
    tensor_rank,
    through_identities,
    trailing_axes,
    users,
)

np = lazy_import("numpy")
gs = lazy_import("onnx_graphsurgeon")

#: the most values a normalized width may hold: γ/β are made as constants of that size, and a
#: damaged shape (a fuzzed dim of 2^40) must be a skip, not an allocation failure
MAX_NORM_ELEMENTS = 1 << 24


def too_wide(dims, x: gs.Tensor) -> str | None:
    """Why normalized dims are too large to make γ/β for (a damaged shape), or None."""
    if dims is None or int(np.prod(dims, dtype=np.float64)) <= MAX_NORM_ELEMENTS:
        return None
    return (
        f"the normalized dims {list(dims)} of '{x.name}' hold more than "
        f"{MAX_NORM_ELEMENTS:,} values (a damaged shape?): no γ/β of that size is made"
    )


def match_inverse_std(var: gs.Tensor):
    """From the variance: Add(eps) then Sqrt (divide) or Reciprocal/Pow(-0.5) (multiply).

    Yields every candidate (nodes, eps, tensor, "div"|"mul"): divide the centred input by
    `tensor`, or multiply it by `tensor`.
    """
    for add in users(var, "Add"):
        split = split_const(add)
        if split is None or split[0] is not var:
            continue
        eps = split[1]
        e = add.outputs[0]
        for sqrt in users(e, "Sqrt"):
            s = sqrt.outputs[0]
            for recip in users(s, "Reciprocal"):
                yield [add, sqrt, recip], eps, recip.outputs[0], "mul"
            for div in users(s, "Div"):
                if div.inputs[1] is s and is_close(scalar(div.inputs[0], against=s), 1.0):
                    yield [add, sqrt, div], eps, div.outputs[0], "mul"
            yield [add, sqrt], eps, s, "div"
        for pow_ in users(e, "Pow"):
            if pow_.inputs[0] is e and is_close(scalar(pow_.inputs[1], against=e), -0.5):
                yield [add, pow_], eps, pow_.outputs[0], "mul"


def apply_inverse(centred: gs.Tensor, inv: gs.Tensor, how: str) -> gs.Node | None:
    """The node dividing `centred` by `inv` (how="div") or multiplying by it (how="mul")."""
    if how == "div":
        for node in users(centred, "Div"):
            if node.inputs[0] is centred and node.inputs[1] is inv:
                return node
        return None
    for node in users(centred, "Mul"):
        if other_input(node, centred) is inv:
            return node
    return None


def affine_param(node: gs.Node, tensor: gs.Tensor) -> gs.Constant | None:
    """For Mul/Add(tensor, param): the param when it is a Constant (initializer), also behind
    Identity nodes (the TorchScript exporter deduplicates equal initializers — every LayerNorm
    weight of ones — into one, read through an Identity per use)."""
    param = through_identities(other_input(node, tensor), max_hops=3)
    return param if isinstance(param, gs.Constant) else None


def fit_param(
    param: gs.Constant, dims: list[int] | None, dtype: np.dtype, rank: int | None = None
) -> np.ndarray | gs.Constant | None:
    """The affine parameter shaped exactly `dims` in `dtype`, if it broadcasts that way.

    `rank` is the normalized tensor's rank when known: a parameter of more dims would make the
    product wider than the input (a γ shaped [1, 1, 1, D] on a rank-3 input gives rank 4),
    which the fused op does not, so it does not fit.

    Returns the Constant itself when it already fits (weights not loaded), a new array when it
    needed reshaping or a dtype change, or None when it does not fit.
    """
    shape = list(param.shape or [])
    if rank is not None and len(shape) > rank:
        return None
    while shape and shape[0] == 1 and (dims is None or len(shape) > len(dims)):
        shape.pop(0)
    if dims is None:
        return None
    if shape == dims and list(param.shape) == dims and np.dtype(param.dtype) == dtype:
        return param
    if len(shape) > len(dims) or any(
        s not in (1, d) for s, d in zip(shape[::-1], dims[::-1], strict=False)
    ):
        return None
    if is_lazy_external(param):
        return None
    values = np.asarray(param.values).reshape(shape)
    return np.broadcast_to(values, dims).astype(dtype)


def dims_from_params(params: list[gs.Tensor], count: int) -> list[int] | None:
    """The normalized dims read off the affine parameters, for an input whose shape is lost.

    TorchScript exports at opset 11-13 leave ONNX shape inference without the input's shape,
    but gamma/beta are `[..., D]` initializers: one whose static shape (leading 1s dropped)
    has exactly `count` dims spans the normalized axes, since `Mul`/`Add` broadcast it against
    them. A parameter of fewer dims (a scalar, `[1]`) says nothing and is not used; when two
    disagree, nothing is returned. The result is checked when the rewrite is verified.
    """
    found: list[int] | None = None
    for param in params:
        if not isinstance(param, gs.Constant) or param.shape is None:
            continue
        shape = [int(d) for d in param.shape]
        while len(shape) > count and shape[0] == 1:
            shape.pop(0)
        if len(shape) != count or any(d <= 1 for d in shape):
            continue
        if found is not None and found != shape:
            return None
        found = shape
    return found


def _closes_island(cast: gs.Node, x: gs.Tensor) -> bool:
    """True when `cast` converts back to the type `x` was cast from (an fp16 model computing a
    norm in float32: Cast(x16 -> float32) ... Cast(-> fp16))."""
    src = x.inputs[0] if x.inputs else None
    return (
        src is not None
        and src.op == "Cast"
        and cast.outputs[0].dtype is not None
        and src.inputs[0].dtype is not None
        and np.dtype(cast.outputs[0].dtype) == np.dtype(src.inputs[0].dtype)
    )


#: the affine tail of a LayerNorm: Mul(gamma) then Add(beta); an RMSNorm has only the Mul.
AFFINE = (("gamma", "Mul"), ("beta", "Add"))


def extend_tail(
    match: Match,
    graph: gs.Graph,
    last: gs.Node,
    x: gs.Tensor,
    params: tuple[tuple[str, str], ...] = AFFINE,
    any_cast: bool = False,
) -> None:
    """Absorbs a trailing Cast and the affine `params` (key in `match.data`, op) into the match.

    The Cast is taken when it closes an fp16 island around the norm, or any default-domain
    Cast with `any_cast`. Each step needs the previous output to have this one reader.
    """
    data = match.data
    out = last.outputs[0]
    if not single_use(out, graph):
        return
    nxt = out.outputs[0]
    if nxt.op == "Cast" and is_default(nxt) and (any_cast or _closes_island(nxt, x)):
        data["cast"] = nxt
        match.nodes.append(nxt)
        out = nxt.outputs[0]
        if not single_use(out, graph):
            return
        nxt = out.outputs[0]
    for key, op in params:
        if nxt.op != op or not is_default(nxt) or affine_param(nxt, out) is None:
            return
        data[key] = (nxt, affine_param(nxt, out))
        match.nodes.append(nxt)
        out = nxt.outputs[0]
        if not single_use(out, graph):
            return
        nxt = out.outputs[0]


def check_core(data: dict, graph: gs.Graph, axes: list) -> str | None:
    """The checks LayerNorm and RMSNorm share, in order: no intermediate of the pattern's core
    is read outside it, every ReduceMean reduces the same trailing axes, the input is a float
    type. Sets `data["axis"]` (the first normalized axis). Returns why not, or None."""
    x: gs.Tensor = data["x"]
    core = data["core"]
    for node in core[:-1]:
        for out in node.outputs:
            why = escapes(out, core, graph)
            if why:
                return why
    if any(a is None for a in axes):
        return "the ReduceMean axes are not constant (or keepdims=0)"
    rank = tensor_rank(x)
    first = trailing_axes(axes[0], rank)
    if first is None or any(trailing_axes(a, rank) != first for a in axes[1:]):
        shown = "/".join(str(a) for a in axes)
        return f"reduces over axes {shown}, not the trailing axes of the input"
    data["axis"] = first
    if not emit.is_float(x):
        return f"input '{x.name}' has type {x.dtype}, not a float type"
    return None


def normalized_dims(data: dict, params: list[gs.Tensor]) -> str | None:
    """Sets `data["dims"]`: the normalized dims from the input's shape, else (shape inference
    lost it) from the affine `params`; None when neither says. Returns why they are unusable
    (too wide), or None."""
    x: gs.Tensor = data["x"]
    dims = static_tail(x, -data["axis"])
    if dims is None:
        dims = dims_from_params(params, -data["axis"])
    data["dims"] = dims
    return too_wide(dims, x)
