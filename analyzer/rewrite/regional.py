"""Regional verification: compare only what the passes changed.

A rewrite leaves most of a model untouched. The nodes it added (in the rewritten model) and
removed (from the original) form regions whose boundary tensors keep their names: the tensors
they read (computed by unchanged nodes, graph inputs or weights) and the tensors unchanged
nodes or graph outputs read from them (plus tensors a pass folded into initializers). Where
every boundary tensor exists in both models, the two models agree when the regions map the
same boundary inputs to the same boundary outputs; the unchanged rest is the same graph.

So the ORIGINAL model runs once, with the boundary tensors as extra outputs (its weights read
by onnxruntime from their files: Python never holds them), and only the rewritten regions run
again, fed the original's boundary inputs. This is how large models are verified in bounded
time and memory, and how a model holding an op onnxruntime has no kernel for (a contrib op its
CPU build lacks) is verified: when the original's prefix cannot run, the boundary inputs are
random values of their inferred type and shape (integers within the tables they index).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx

from trtforge.analyzer.errors import UserError

log = logging.getLogger("trtforge.rewrite.verify")


@dataclass
class Regions:
    """The changed part of a rewrite."""

    added: list[onnx.NodeProto]  # nodes of the rewritten model absent from the original
    removed: list[onnx.NodeProto]  # nodes of the original absent from the rewritten model
    inputs: list[str]  # boundary tensors the added nodes read
    outputs: list[str]  # boundary tensors read from the regions (incl. folded initializers)


def _key(node: onnx.NodeProto) -> tuple:
    return (
        node.op_type,
        node.domain or "",
        tuple(node.input),
        tuple(node.output),
        tuple(a.SerializeToString() for a in node.attribute),
    )


def _versioned(model: onnx.ModelProto, other: onnx.ModelProto):
    """`_key` plus the op's schema version under `model`'s opsets, when the two models import
    different opsets: a node an opset upgrade left as it was (PRelu 6 → 16) may still compute
    something else (its broadcasting changed), so it counts as changed."""
    mine = {(o.domain or ""): o.version for o in model.opset_import}
    theirs = {(o.domain or ""): o.version for o in other.opset_import}
    if mine == theirs:
        return _key

    def key(node: onnx.NodeProto) -> tuple:
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        try:
            since = onnx.defs.get_schema(node.op_type, mine.get(domain, 1), domain).since_version
        except Exception:  # noqa: BLE001 - an op onnx does not define: its name is the key
            since = None
        return (*_key(node), since)

    return key


def changed_regions(original: onnx.ModelProto, rewritten: onnx.ModelProto) -> Regions | None:
    """The regions a rewrite changed, or None when their boundary is not shared by both models
    (a pass renamed a graph output or a boundary tensor: compare the whole models instead)."""
    key_before, key_after = _versioned(original, rewritten), _versioned(rewritten, original)
    before = {key_before(n) for n in original.graph.node}
    after = {key_after(n) for n in rewritten.graph.node}
    added = [n for n in rewritten.graph.node if key_after(n) not in before]
    removed = [n for n in original.graph.node if key_before(n) not in after]
    produced_new = {o for n in added for o in n.output if o}
    new_inits = {t.name for t in rewritten.graph.initializer}
    old_produced = {o for n in original.graph.node for o in n.output if o}
    removed_out = {o for n in removed for o in n.output if o}
    folded = sorted((new_inits - {t.name for t in original.graph.initializer}) & old_produced)
    inputs: list[str] = []
    for node in added:
        for name in node.input:
            if name and name not in produced_new and name not in new_inits and name not in inputs:
                inputs.append(name)
    # tensors read from the regions by unchanged nodes or graph outputs
    readers = [n for n in rewritten.graph.node if key_after(n) in before]
    read = {i for n in readers for i in n.input} | {o.name for o in rewritten.graph.output}
    outputs = [o for o in sorted(produced_new | removed_out) if o in read and o in produced_new]
    outputs += [f for f in folded if f in read]
    known_before = (
        old_produced
        | {t.name for t in original.graph.initializer}
        | {i.name for i in original.graph.input}
    )
    if any(name not in known_before for name in inputs + outputs):
        return None
    if any(name not in produced_new and name not in new_inits for name in outputs):
        return None
    return Regions(added, removed, inputs, outputs)


def _random_boundary(
    original: onnx.ModelProto,
    names: list[str],
    feed: Mapping[str, np.ndarray],
    seed: int,
    types=None,
    rewritten: onnx.ModelProto | None = None,
) -> dict[str, np.ndarray]:
    """Random values for boundary tensors the original's prefix cannot compute, from their
    inferred type and shape (dims named by graph inputs take the fed sizes). `types`: the
    original's type table (`ModelSession.types()`), inferred here when not given.

    A boundary tensor neither inference types in the original (what follows contrib ops,
    where onnxruntime's symbolic inference fails: a UNet of NhwcConv nodes) takes its type
    from the rewritten model, where the passes left standard ops that ONNX infers: the tensor
    is made by nodes both models share, and a shape the passes got wrong makes the original's
    region fail on it, never pass."""
    from trtforge.analyzer.inference import infer_types, onnxruntime_symbolic
    from trtforge.analyzer.rewrite import inputs as gen

    infos: dict[str, onnx.ValueInfoProto] = {}
    # onnxruntime's symbolic inference knows the shapes of its contrib ops; ONNX's follows
    symbolic = onnxruntime_symbolic(original)
    if symbolic is not None:
        infos.update({vi.name: vi for vi in symbolic.graph.value_info})
    else:
        log.info("symbolic shape inference gave nothing")
    if types is None:
        types = infer_types(original)  # the declared types when inference fails
    for name in names:
        if name not in infos and name in types:
            infos[name] = onnx.helper.make_value_info(name, types[name])
    unknown = [n for n in names if n not in infos or not _has_shape(infos[n])]
    if unknown and rewritten is not None:
        later = infer_types(rewritten)
        for name in unknown:
            if name in later and later[name].tensor_type.HasField("shape"):
                infos[name] = onnx.helper.make_value_info(name, later[name])
    sizes: dict[str, int] = {}
    for vi in original.graph.input:
        if vi.name in feed:
            for dim, size in zip(vi.type.tensor_type.shape.dim, feed[vi.name].shape, strict=False):
                if dim.dim_param:
                    sizes[dim.dim_param] = int(size)
    graph = gen._Graph.of(original, types)
    rng = np.random.default_rng(seed)
    out = {}
    for name in names:
        vi = infos.get(name)
        if vi is None or not vi.type.tensor_type.HasField("shape"):
            raise UserError(
                f"verification: the boundary tensor '{name}' of a changed region has no known "
                "shape, and the model before it cannot run in onnxruntime",
                "rewrite with --no-verify, or verify on a model onnxruntime runs",
            )
        dims = vi.type.tensor_type.shape.dim
        if any(not d.HasField("dim_value") and d.dim_param not in sizes for d in dims):
            unknown = [d.dim_param or "?" for d in dims if not d.HasField("dim_value")]
            if any(u == "?" or u not in sizes for u in unknown):
                log.info("boundary '%s' has unresolved dims %s; using %d", name, unknown, 3)
        out[name] = gen._fill(graph, vi, sizes, rng)
    return out


def _has_shape(info: onnx.ValueInfoProto) -> bool:
    return info.type.HasField("tensor_type") and info.type.tensor_type.HasField("shape")


def verify_regions(
    original: onnx.ModelProto,
    rewritten: onnx.ModelProto,
    candidates: list,
    computed_in: str | None,
    folder=None,
    seed: int = 0,
    types=None,
):
    """Compares the changed regions of `rewritten` with the original (see the module doc).
    `types`: the original's type table, when the caller has it.

    Raises:
        UserError: the regions cannot be compared (their boundary is not shared, or the
            original's own regions cannot run in onnxruntime).
    """
    from trtforge.analyzer.rewrite.verify import (
        NoKernelError,
        RunError,
        Verification,
        _diffs,
        _slice,
        run_model,
    )

    regions = changed_regions(original, rewritten)
    if regions is None:
        raise UserError(
            "verification: the rewrite renamed tensors at the edge of what it changed, so the "
            "changed parts cannot be compared on their own, and onnxruntime cannot run the "
            "whole model",
            "rewrite with --no-verify, or run the passes one at a time",
        )
    result = Verification(seed=seed, mode="regions")
    result.notes.append(
        f"compared {len(regions.outputs)} tensor(s) at the edges of what the passes changed "
        f"({len(regions.removed)} node(s) replaced by {len(regions.added)}), fed the "
        "original's own values"
    )
    if not regions.outputs:
        return result
    wanted = list(dict.fromkeys(regions.inputs + regions.outputs))
    failures = []
    for candidate in candidates:
        for step in candidate.steps:
            feed = step.feed
            try:
                values = run_model(original, feed, wanted, folder)
            except NoKernelError:
                values = None
            except RunError as err:
                failures.append(err.message)
                break
            if values is None:  # the original cannot run as a whole: feed the boundary
                boundary = {n: feed[n] for n in regions.inputs if n in feed}
                missing = [n for n in regions.inputs if n not in feed]
                try:
                    if missing:
                        boundary.update(
                            run_model(_slice(original, feed, missing), feed, missing, folder)
                        )
                    note = "boundary inputs computed by the original's unchanged prefix"
                except NoKernelError:
                    boundary.update(
                        _random_boundary(original, missing, feed, seed, types, rewritten)
                    )
                    note = (
                        "boundary inputs random (the original's prefix holds an op onnxruntime "
                        "has no kernel for)"
                    )
                piece = _slice(original, boundary, regions.outputs)
                try:
                    expected = run_model(piece, boundary, regions.outputs, folder)
                except NoKernelError as err:
                    expected = _reference_run(piece, boundary, regions.outputs, folder)
                    if expected is None:
                        raise UserError(
                            "verification: neither onnxruntime nor onnx.reference can run the "
                            f"nodes the passes replaced ({err.message[:200]})",
                            "rewrite with --no-verify (each pass is tested against onnxruntime "
                            "in trtforge's own tests)",
                        ) from None
                    note = f"{note}; the replaced nodes computed with onnx.reference"
                if note not in result.notes:
                    result.notes.append(note)
                values = {**boundary, **expected}
            known = {n: values[n] for n in regions.inputs}
            sub = _slice(rewritten, known, regions.outputs)
            got = run_model(sub, known, regions.outputs, folder)
            # (element types of the rewritten regions' outputs: not `types`, the original's
            # table, which the next step's boundary values read)
            elem_types = {
                vi.name: vi.type.tensor_type.elem_type
                for vi in rewritten.graph.value_info
                if vi.type.HasField("tensor_type")
            }
            for name in regions.outputs:
                elem_types.setdefault(name, _elem(values[name]))
            label = step.label if len(candidate.steps) > 1 else ""
            want = {n: step.defined_part(n, values[n]) for n in regions.outputs}
            got = {n: step.defined_part(n, v) for n, v in got.items()}
            result.outputs.extend(
                _diffs(original, regions.outputs, want, got, computed_in, label, elem_types)
            )
            result.steps.append(step.label)
            if not result.inputs:
                result.inputs = {k: list(v.shape) for k, v in feed.items()}
        else:
            if candidate.assumed:
                result.notes.append(candidate.assumed)
            return result
        result.outputs.clear()
        result.steps.clear()
    raise UserError(
        "verification: the ORIGINAL model does not run on any of the inputs tried "
        f"({'; '.join(failures)[:400]})",
        "give inputs it runs with (--inputs, --data-loader-script or --dim), or rewrite with "
        "--no-verify",
    )


def _reference_run(
    piece: onnx.ModelProto, feed: Mapping[str, np.ndarray], names: list[str], folder=None
) -> dict[str, np.ndarray] | None:
    """Runs `piece` with onnx's reference evaluator (old op versions onnxruntime dropped, such
    as the opset-6 `broadcast` Add; contrib ops without a CPU kernel: `contrib_reference`);
    None when it cannot."""
    from onnx.reference import ReferenceEvaluator

    try:
        if folder is not None:
            from trtforge.analyzer.loading import load_external_from

            copy = onnx.ModelProto()
            copy.CopyFrom(piece)
            load_external_from(copy, folder)
            piece = copy
        from trtforge.analyzer.rewrite.contrib_reference import reference_ops

        evaluator = ReferenceEvaluator(piece, new_ops=reference_ops(piece))
        wanted = [n for n in names]
        values = evaluator.run(
            wanted, {k: v for k, v in feed.items() if k in evaluator.input_names}
        )
    except Exception as err:  # noqa: BLE001 - the evaluator raises many kinds
        log.info("onnx.reference cannot run the replaced nodes either (%s)", err)
        return None
    return dict(zip(names, values, strict=True))


def _elem(value: np.ndarray) -> int:
    return onnx.helper.np_dtype_to_tensor_dtype(np.asarray(value).dtype)
