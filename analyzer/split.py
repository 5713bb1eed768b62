"""Split a model into the largest part TensorRT parses and the parts that run on the host.

For what no rewrite can change — string pre/post-processing, ai.onnx.ml ops that stay, ops no
target imports — the deployable answer is a pipeline: host code (onnxruntime) before, a
TensorRT engine in the middle, host code after. The TensorRT part is the largest *convex* set
of nodes trt-check accepts (no path leaves it and comes back, so it runs as one engine); the
host parts are everything that must run before it (its ancestors) and everything else after it.
Each part is cut out with onnx's own `onnx.utils.Extractor`; a manifest says which tensors flow
from which stage to which.

    {"schema": "trtforge.split/1",
     "stages": [{"name": "host-pre", "runtime": "onnxruntime", "model": "m.host-pre.onnx",
                 "inputs": {"text": "input:text"}, "outputs": ["ids"]},
                {"name": "tensorrt", "runtime": "tensorrt", "model": "m.trt.onnx",
                 "inputs": {"ids": "host-pre:ids"}, "outputs": ["logits"]}, …],
     "outputs": {"label": "host-post:label", "logits": "tensorrt:logits"}}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import onnx

from trtforge.analyzer import inference_guard
from trtforge.analyzer.errors import UserError
from trtforge.analyzer.loading import iter_nodes


@dataclass
class Stage:
    name: str  # host-pre, tensorrt, host-post
    runtime: str  # onnxruntime or tensorrt
    proto: onnx.ModelProto
    inputs: dict[str, str]  # tensor -> "input:<name>" or "<stage>:<name>"
    outputs: list[str]
    nodes: int = 0


@dataclass
class Split:
    stages: list[Stage]
    outputs: dict[str, str]  # original graph output -> "<stage>:<name>"
    unsupported: list[str] = field(default_factory=list)

    def manifest(self, files: dict[str, str]) -> dict:
        return {
            "schema": "trtforge.split/1",
            "stages": [
                {
                    "name": s.name,
                    "runtime": s.runtime,
                    "model": files[s.name],
                    "nodes": s.nodes,
                    "inputs": s.inputs,
                    "outputs": s.outputs,
                }
                for s in self.stages
            ],
            "outputs": self.outputs,
            "host_nodes": self.unsupported,
        }


def _largest_convex(nodes: list[onnx.NodeProto], ok: list[bool]) -> set[int]:
    """Indices of the largest convex set of connected accepted nodes."""
    produced = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    parents = [{produced[t] for t in n.input if t in produced} for n in nodes]
    children: list[set[int]] = [set() for _ in nodes]
    for i, ps in enumerate(parents):
        for p in ps:
            children[p].add(i)
    seen: set[int] = set()
    best: set[int] = set()
    for start in range(len(nodes)):
        if not ok[start] or start in seen:
            continue
        comp, stack = set(), [start]
        while stack:  # undirected component of accepted nodes
            i = stack.pop()
            if i in comp:
                continue
            comp.add(i)
            stack.extend(j for j in parents[i] | children[i] if ok[j] and j not in comp)
        seen |= comp
        comp = _make_convex(comp, parents, children)
        if len(comp) > len(best):
            best = comp
    return best


def _make_convex(region: set[int], parents, children) -> set[int]:
    """The larger of two convex parts of `region`: where a path leaves it and comes back
    (region → outside → region), either the nodes after the re-entry or the nodes before the
    exit are dropped (they would need the host in the middle of the engine)."""
    return max(_convex(region, children), _convex(region, parents), key=len)


def _convex(region: set[int], forward) -> set[int]:
    """Drops the region nodes reachable (along `forward`) from the region through an outside
    node, until none is."""
    while True:
        reached: set[int] = set()
        stack = [c for i in region for c in forward[i] if c not in region]
        while stack:
            i = stack.pop()
            if i in reached:
                continue
            reached.add(i)
            stack.extend(forward[i])
        bad = region & reached
        if not bad:
            return region
        region = region - bad


def split_model(
    model: onnx.ModelProto, accepted: list[bool], types: Mapping[str, onnx.TypeProto] | None = None
) -> Split:
    """Splits `model` (weights loaded) by the per-node verdicts `accepted` (graph.node order).

    `types`: the model's type table when the caller has one (a `ModelSession`'s), so that the
    cut does not run shape inference again; without it the model is inferred here.

    Raises:
        UserError: nothing TensorRT accepts, or everything is accepted (nothing to split).
    """
    nodes = list(model.graph.node)
    if all(accepted):
        raise UserError("every node is supported: nothing to split", "write the model as is")
    region = _largest_convex(nodes, accepted)
    if not region:
        raise UserError(
            "no node of the model is supported by the target: no TensorRT part to split off",
            "run trt-check to see why",
        )
    inits = {i.name for i in model.graph.initializer}
    graph_inputs = [v.name for v in model.graph.input if v.name not in inits]
    graph_outputs = [v.name for v in model.graph.output]
    produced_by = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    # ancestors of the region outside it run before it; everything else after
    pre: set[int] = set()
    stack = [produced_by[t] for i in region for t in nodes[i].input if t in produced_by]
    while stack:
        i = stack.pop()
        if i in region or i in pre:
            continue
        pre.add(i)
        stack.extend(produced_by[t] for t in nodes[i].input if t in produced_by)
    post = set(range(len(nodes))) - region - pre
    if types is None:  # one inference for the cut's types and the shape values' ranks
        types = _type_map(inference_guard.infer_model(model))

    def consumed(indices: set[int]) -> list[str]:
        names: list[str] = []
        made = {o for i in indices for o in nodes[i].output}
        for i in sorted(indices):
            for t in nodes[i].input:
                if t and t not in made and t not in inits and t not in names:
                    names.append(t)
            for t in _body_reads(nodes[i]):  # outer tensors read inside bodies
                if t in produced_by or t in graph_inputs:
                    if t not in made and t not in names:
                        names.append(t)
        return names

    recomputed = _recomputed_shape_values(
        nodes, accepted, pre, produced_by, inits, types, consumed(region)
    )

    def region_inputs() -> list[str]:
        """What the TensorRT part reads: a shape value it recomputes is read as the tensors
        it is computed from (`_recomputed_shape_values`)."""
        names: list[str] = []
        for t in consumed(region):
            for read in recomputed[t][1] if t in recomputed else [t]:
                if read not in names:
                    names.append(read)
        return names

    reads = {"host-pre": consumed(pre), "tensorrt": region_inputs(), "host-post": consumed(post)}

    def needed_from(indices: set[int], reader: str) -> list[str]:
        """What the part `indices` makes that another part (or the graph's outputs) reads."""
        made = [o for i in sorted(indices) for o in nodes[i].output if o]
        later = {t for part, names in reads.items() if part != reader for t in names}
        return [t for t in made if t in later or t in graph_outputs]

    parts = {"host-pre": pre, "tensorrt": region, "host-post": post}
    made_for = {name: needed_from(part, name) for name, part in parts.items()}
    boundary = {t for names in (*reads.values(), *made_for.values()) for t in names}
    extractor = onnx.utils.Extractor(_with_types(model, boundary, types))
    origin: dict[str, str] = {t: f"input:{t}" for t in graph_inputs}
    stages: list[Stage] = []
    copies = {i for t in consumed(region) if t in recomputed for i in recomputed[t][0]}
    for name, runtime in (
        ("host-pre", "onnxruntime"),
        ("tensorrt", "tensorrt"),
        ("host-post", "onnxruntime"),
    ):
        part = parts[name]
        if not part:
            continue
        ins = reads[name]
        outs = made_for[name]
        if name == "host-post":
            outs = [t for t in graph_outputs if produced_by.get(t) in part] or outs
        if not outs:
            continue
        try:
            proto = extractor.extract_model(ins, outs)
        except Exception as err:  # noqa: BLE001 - the extractor raises several types
            raise UserError(
                f"cannot cut out the {name} part ({type(err).__name__}: {str(err)[:160]})",
                "report this model",
            ) from None
        _with_body_initializers(proto, model.graph)
        _with_called_functions(proto, model)
        missing = [t for t in ins if t not in origin]
        if missing:
            raise UserError(f"the {name} part reads {missing[:3]} before they exist", "report it")
        count = len(part) + (len(copies) if name == "tensorrt" else 0)
        stages.append(Stage(name, runtime, proto, {t: origin[t] for t in ins}, outs, count))
        for t in outs:
            origin[t] = f"{name}:{t}"
    outputs = {}
    for t in graph_outputs:
        if t not in origin:
            raise UserError(f"graph output '{t}' is produced by no part", "report this model")
        outputs[t] = origin[t]
    unsupported = [nodes[i].name or nodes[i].op_type for i in sorted(pre | post)]
    return Split(stages, outputs, unsupported)


def _body_reads(node: onnx.NodeProto):
    """The names the bodies of `node` read, at any depth (their own values among them)."""
    for attr in node.attribute:
        for body in [attr.g] if attr.HasField("g") else list(attr.graphs):
            for inner in body.node:
                yield from inner.input
                yield from _body_reads(inner)
            yield from (v.name for v in body.output)


def _with_body_initializers(part: onnx.ModelProto, graph: onnx.GraphProto) -> None:
    """Adds to `part` the initializers of `graph` that only its nodes' bodies read: onnx's
    Extractor follows the nodes' own inputs, so a Loop body's weight read from the enclosing
    graph was left out and the part was no valid model."""
    have = {t.name for t in part.graph.initializer} | {v.name for v in part.graph.input}
    have |= {o for n in part.graph.node for o in n.output}
    wanted = {t for n in part.graph.node for t in _body_reads(n)} - have
    if wanted:
        part.graph.initializer.extend(t for t in graph.initializer if t.name in wanted)


def _calls(nodes) -> Iterator[tuple[str, str, str]]:
    """(domain, op, overload) of `nodes` and of the nodes of their bodies, at any depth."""
    return ((n.domain, n.op_type, n.overload) for n in iter_nodes(nodes))


def _with_called_functions(part: onnx.ModelProto, model: onnx.ModelProto) -> None:
    """Gives `part` every model-local function of `model` that its nodes call, directly or
    through other functions, bodies included: onnx's Extractor missed a function called from
    an If branch inside another (skl2onnx's KNNImputer), and the part did not load."""
    defined = {(f.domain, f.name, f.overload): f for f in model.functions}
    if not defined:
        return
    have = {(f.domain, f.name, f.overload) for f in part.functions}
    todo = [key for key in _calls(part.graph.node) if key in defined]
    for function in part.functions:
        todo.extend(key for key in _calls(function.node) if key in defined)
    wanted = set(have)
    while todo:
        key = todo.pop()
        if key in wanted:
            continue
        wanted.add(key)
        todo.extend(k for k in _calls(defined[key].node) if k in defined)
    part.functions.extend(f for key, f in defined.items() if key in wanted - have)


#: the largest computation the TensorRT part makes again of a shape value the host computes.
MAX_RECOMPUTED_NODES = 256

#: element types of the values TensorRT takes as shape tensors (rank 0 or 1).
SHAPE_VALUE_TYPES = frozenset({onnx.TensorProto.INT32, onnx.TensorProto.INT64})


def _recomputed_shape_values(
    nodes: list[onnx.NodeProto],
    accepted: list[bool],
    pre: set[int],
    produced_by: dict[str, int],
    inits: set[str],
    types: Mapping[str, onnx.TypeProto],
    wanted: list[str],
) -> dict[str, tuple[set[int], list[str]]]:
    """Of the tensors `wanted` (what the TensorRT part reads), the integer scalars and vectors
    that the host part before it computes from tensors the TensorRT part can read, by nodes
    it accepts: name -> (those nodes, the tensors they read).

    TensorRT takes an integer input of rank 0 or 1 that the network reads as a shape (a
    Reshape's shape, a Range's limit, an Expand's dims) as a *shape input tensor*, whose values
    an optimization profile must give in advance: an engine built with one value serves that
    value only, and trt-build cannot give them at all. Such values are usually a `Shape` of a
    tensor and a few Gathers, Concats or Adds of it — kept on the host only because a host
    node reads them too (an onnxruntime-fused embedding reads the position ids). The TensorRT
    part computes them again from what it reads (the tensors whose shapes they take, graph
    inputs, initializers); the host part keeps its own copy for its own nodes.
    """

    def shape_value(name: str) -> bool:
        kind = types[name] if name in types else None
        if kind is None or not kind.HasField("tensor_type"):
            return False
        tensor = kind.tensor_type
        return (
            tensor.elem_type in SHAPE_VALUE_TYPES
            and tensor.HasField("shape")
            and len(tensor.shape.dim) <= 1
        )

    def computation(value: str) -> tuple[set[int], list[str]] | None:
        copied: set[int] = set()
        reads: list[str] = []
        todo = [value]
        while todo:
            name = todo.pop()
            index = produced_by.get(name)
            if index is None or index not in pre:  # a graph input (an initializer: copied)
                if name not in inits and name not in reads:
                    reads.append(name)
                continue
            if not shape_value(name):  # a tensor whose shape it takes: read as it is
                if name not in reads:
                    reads.append(name)
                continue
            node = nodes[index]
            if not accepted[index] or any(a.g.node or a.graphs for a in node.attribute):
                return None  # computed by a node TensorRT does not take: stays an input
            if index not in copied:
                copied.add(index)
                if len(copied) > MAX_RECOMPUTED_NODES:
                    return None
                todo.extend(t for t in node.input if t)
        return copied, reads

    recomputed = {}
    for name in wanted:
        if produced_by.get(name) in pre and shape_value(name):
            found = computation(name)
            if found is not None:
                recomputed[name] = found
    return recomputed


def _type_map(inferred: onnx.ModelProto) -> dict[str, onnx.TypeProto]:
    """name -> type of every value an inferred model declares."""
    graph = inferred.graph
    return {v.name: v.type for v in [*graph.input, *graph.value_info, *graph.output]}


def _with_types(
    model: onnx.ModelProto, names: set[str], types: Mapping[str, onnx.TypeProto] | None = None
) -> onnx.ModelProto:
    """The model with a value_info for every boundary tensor: from `types` (the caller's type
    table) or ONNX shape inference, else (ops it cannot infer, e.g. some ai.onnx.ml ones; or a
    type without a rank) from one onnxruntime run on generated inputs — element type and rank,
    every dim left symbolic."""
    if types is None:
        inferred = inference_guard.infer_model(model)
    else:
        inferred = onnx.ModelProto()
        inferred.CopyFrom(model)
        declared = {
            v.name for v in [*model.graph.value_info, *model.graph.input, *model.graph.output]
        }
        for name in sorted(names - declared):
            if name in types:
                info = onnx.ValueInfoProto(name=name)
                info.type.CopyFrom(types[name])
                inferred.graph.value_info.append(info)
    known = {  # a rank too: a stage's inputs and outputs need a shape (onnx.checker)
        v.name
        for v in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
        if v.type.HasField("tensor_type")
        and v.type.tensor_type.elem_type
        and v.type.tensor_type.HasField("shape")
    }
    known |= {i.name for i in model.graph.initializer}
    missing = sorted(names - known)
    if not missing:
        return inferred
    kept = [v for v in inferred.graph.value_info if v.name not in missing]  # typed, unranked: out
    del inferred.graph.value_info[:]
    inferred.graph.value_info.extend(kept)
    from trtforge.analyzer.rewrite.verify import run_model

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    probe.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in missing)
    try:
        values = run_model(probe, sample_feeds(model, 0))
    except Exception as err:  # noqa: BLE001 - onnxruntime raises several types
        raise UserError(
            f"cannot tell the types of {missing[:3]} to cut the model there "
            f"({type(err).__name__}: {str(err)[:120]})",
            "give the model value_info for those tensors",
        ) from None
    for name in missing:
        value = np.asarray(values[name])
        elem = (
            onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
            if value.dtype.kind != "O"
            else (onnx.TensorProto.STRING)
        )
        shape = [f"{name}_d{i}" for i in range(value.ndim)]
        inferred.graph.value_info.append(onnx.helper.make_tensor_value_info(name, elem, shape))
    return inferred


def sample_feeds(
    model: onnx.ModelProto, seed: int = 0, dims=None, types=None
) -> dict[str, np.ndarray]:
    """Generated inputs (the verifier's), with STRING inputs drawn from the strings the graph
    itself knows (LabelEncoder keys, class labels, stop words), so lookups hit real entries.
    `types`: the model's type table, when the caller has one (used without string inputs)."""
    from trtforge.analyzer.rewrite.verify import first_runnable, make_inputs

    strings = [
        v for v in model.graph.input if v.type.tensor_type.elem_type == onnx.TensorProto.STRING
    ]
    if not strings:  # the first input set it runs with, as whole-model verification takes
        return make_inputs(model, seed, dims, types, first_runnable(model, seed, dims, types))
    proxy = onnx.ModelProto()
    proxy.CopyFrom(model)
    for v in proxy.graph.input:
        if v.type.tensor_type.elem_type == onnx.TensorProto.STRING:
            v.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    feeds = make_inputs(proxy, seed, dims)
    vocab = sorted(
        {
            s.decode("utf-8", "replace")
            for n in model.graph.node
            for a in n.attribute
            if a.type == onnx.AttributeProto.STRINGS
            for s in a.strings
        }
    ) + ["unknown"]
    rng = np.random.default_rng(seed)
    for v in strings:
        shape = feeds[v.name].shape
        feeds[v.name] = rng.choice(np.array(vocab, dtype=object), size=shape)
    return feeds


def run_split(split: Split, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs the stages in order in onnxruntime (the TensorRT part too, for verification)."""
    from trtforge.analyzer.rewrite.verify import run_model

    values: dict[str, np.ndarray] = {f"input:{k}": v for k, v in feeds.items()}
    for stage in split.stages:
        stage_feeds = {t: values[src] for t, src in stage.inputs.items()}
        got = run_model(stage.proto, stage_feeds)
        for t in stage.outputs:
            values[f"{stage.name}:{t}"] = got[t]
    return {name: values[src] for name, src in split.outputs.items()}


def stage_paths(out) -> dict[str, object]:
    """Where each stage and the manifest go: OUT holds the TensorRT part, the host parts and
    the manifest sit beside it (`m.trt.onnx` → `m.trt.host-pre.onnx`, `m.trt.split.json`)."""
    from pathlib import Path

    out = Path(out)
    stem = out.name[: -len(".onnx")] if out.name.endswith(".onnx") else out.name
    return {
        "tensorrt": out,
        "host-pre": out.with_name(f"{stem}.host-pre.onnx"),
        "host-post": out.with_name(f"{stem}.host-post.onnx"),
        "manifest": out.with_name(f"{stem}.split.json"),
    }
