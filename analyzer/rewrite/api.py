"""`rewrite_file()`: the Python API behind `trt-rewrite` (the CLI only parses arguments).

    from trtforge.analyzer.rewrite.api import rewrite_file
    result = rewrite_file("model.onnx", "fixed.onnx", auto=True, target="trt-10")
    print(result.written, result.report["auto"])

One `ModelSession` carries the input through the command: the validity gate, trt-check
(`--auto`), the pass manager and verification share its one shape-inference run and its
graphsurgeon graph; its external data is loaded (`ModelSession.weights`) only when a pass
decodes weights or verification runs without the model's folder. The rewritten model is a new
version, inferred once more by the check after the rewrite (`--auto`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from trtforge.analyzer import inference_guard
from trtforge.analyzer.errors import UserError, short
from trtforge.analyzer.rewrite.manager import RewriteResult
from trtforge.analyzer.session import ModelSession
from trtforge.analyzer.targets import Target, default_target, parse_target

REPORT_SCHEMA = "trtforge.rewrite/1"
#: models (weights included) larger than this are verified region by region: the original
#: runs once and only what the passes changed runs again (`rewrite.regional`).
REGIONAL_BYTES = 256 << 20


def rewrite_file(
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    passes: Iterable[str] = (),
    *,
    auto: bool = False,
    split: bool = False,
    target: str | Target | None = None,
    options: Mapping[str, Any] | None = None,
    verify: bool = True,
    seed: int = 0,
    dims: Mapping[str, int] | None = None,
    inputs: Iterable[str] = (),
    data_loader_script: str | None = None,
    report_path: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
) -> RewriteResult:
    """Rewrites the model at `in_path` and writes it to `out_path` (what `trt-rewrite` does).

    Args:
        in_path: the model (never modified).
        out_path: where the rewritten model goes (with its external data file, if any).
        passes: pass ids to run (`rewrite.registry.all_passes()`).
        auto: also run the passes trt-check (static) names for `target`, and re-check after.
        split: write the largest part the target parses to `out_path` and the rest as host
            models beside it, with a JSON manifest (`analyzer/split.py`).
        target: a target id or Target; default: `targets.default_target()`.
        options: the passes' declared options by name (`RewriteOptions`); a pass whose option
            is its own flag (`upgrade_opset=18`) runs when the option is given.
        verify: compare the outputs with the original in onnxruntime before writing.
        seed, dims: for generated verification inputs (dims: size of each named dynamic dim).
        inputs: .npz files (or folders of them) to verify on instead.
        data_loader_script: `FILE.py[:FUNC]` yielding feed dicts to verify on instead.
        report_path: where to write the JSON report (schema trtforge.rewrite/1).
        progress: called with each line trt-rewrite prints to stderr.

    Returns:
        The result: `written` False (and `failure` set) when verification failed, in which
        case nothing but the report was written. `report` is the JSON report.

    Raises:
        UserError: bad input or arguments (exit 2 in the CLI); nothing is written.
    """
    from trtforge.analyzer.outputs import OutputSet, check_output
    from trtforge.analyzer.rewrite.base import RewriteOptions
    from trtforge.analyzer.rewrite.manager import rewrite_model
    from trtforge.analyzer.rewrite.registry import (
        all_passes,
        declared_options,
        get_pass,
        passes_removing,
    )
    from trtforge.analyzer.rewrite.writer import check_destination, stage_model

    say = progress or (lambda line: None)
    options = dict(options or {})
    # one pass or one feed file given as a string is that one, not its characters
    passes = [passes] if isinstance(passes, str) else list(passes)
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    # a pass whose flag is its own option (--upgrade-opset N) runs when the option is given
    by_flag = {o.flag: o for o in declared_options().values()}
    for pid in all_passes():
        option = by_flag.get(f"--{pid}")
        if option is not None and options.get(option.name, option.default) != option.default:
            passes.append(pid)
    if not passes and not auto and not split:
        raise UserError(
            "no rewrite pass selected",
            f"name passes ({', '.join('--' + p for p in all_passes())}) or use --auto",
        )
    dims = dict(dims or {})
    if target is not None:
        target = parse_target(target)
    target = target or default_target()
    session = ModelSession.of(in_path, for_rewrite=True)
    loaded = session.loaded
    refuse_invalid(session)
    if verify:  # (before any pass: verification runs the input in onnxruntime)
        from trtforge.analyzer.rewrite.verify import refuse_crashing_models

        refuse_crashing_models(loaded.structure)
    out_path = Path(out_path)
    check_destination(out_path, loaded)
    if report_path:
        check_output(report_path, "--report")
    inputs = [os.fspath(item) for item in inputs]
    if dims:
        from trtforge.analyzer.rewrite.inputs import check_dim_sizes

        check_dim_sizes(loaded.structure, dims)
    if verify and (inputs or data_loader_script):
        from trtforge.analyzer.rewrite.inputs import check_feed_paths

        check_feed_paths(inputs, data_loader_script)
    report: dict = {
        "schema": REPORT_SCHEMA,
        "input": {"path": loaded.display_path, "sha256": loaded.sha256},
        "output": str(out_path),
        "target": target.id,
    }
    before = None
    if auto:
        before, suggested = _auto_passes(session, target, all_passes())
        # ops onnx does not define in the default domain must go, whatever the target imports:
        # the output has to pass onnx.checker
        for op in sorted(unregistered_ops(loaded.proto)):
            suggested += [p for p in passes_removing("", op) if p not in suggested]
        if late_ops(loaded.proto) and "upgrade-opset" not in suggested:
            suggested.insert(0, "upgrade-opset")
        passes += [p for p in suggested if p not in passes]
        say(
            f"trt-check ({target.id}, static): {len(before.unsupported_nodes)} unsupported "
            f"node(s); passes suggested: {', '.join(suggested) or 'none'}"
        )
    rewrite_options = RewriteOptions(target, **options)
    work = session
    if loaded.external and any(get_pass(p).reads_weights for p in passes):
        work = session.weights_loaded()  # a pass decodes weights (dequantize-nbits)
    result = rewrite_model(work, passes, rewrite_options)
    after = None  # trt-check of the final result, when the follow-up made it
    checked = None  # the session of that result (its one inference)
    if auto:
        result, after, checked = _follow_up(work, result, passes, rewrite_options, say)
    report.update(result.to_json())
    result.report = report
    for pid, stats in result.passes.items():
        line = f"{pid}: applied {stats.applied}"
        if stats.skips:
            line += f", skipped {len(stats.skips)}"
        say(line)
        for skip in stats.skips:
            say(f"  skipped {skip.anchor}: {skip.reason}")
    for note in result.notes:
        say(f"note: {note}")

    if verify and result.changed:
        feeds = _user_feeds(inputs, data_loader_script)  # read once, for a retry too
        verification = _verify(session, result, seed, dims, feeds)
        if not verification.ok and auto and _may_requantize_exactly(result, options):
            # --auto chose requantize, and its default Q/DQ form moved the outputs further than
            # the quantization step allows: the exact float form is the other fix it can offer
            say(
                "note: requantize's qdq form failed verification "
                f"({verification.describe_worst()});"
                " retrying with --requantize-form float (exact, no INT8)"
            )
            rewrite_options = RewriteOptions(target, **{**options, "requantize_form": "float"})
            retry = rewrite_model(work, passes, rewrite_options)
            retry_verification = _verify(session, retry, seed, dims, feeds)
            if retry_verification.ok:
                result, verification = retry, retry_verification
                report.update(result.to_json())
                report["requantize_form"] = "float (qdq form failed verification)"
                result.report = report
                result.notes.append(
                    "requantize: the qdq form failed verification; the float form was written"
                )
        result.verification = verification
        report["verification"] = verification.to_json()
        if not verification.ok:
            result.failure = (
                f"verification failed: {verification.describe_worst()}; nothing written to "
                f"{out_path}"
            )
            result.failure_hint = _failure_hint(verification, session.structure)
            if report_path:
                from trtforge.analyzer.outputs import write_text

                report["written"] = False
                write_text(report_path, json.dumps(report, indent=2) + "\n", "--report")
            return result
        worst = verification.worst
        what = "output(s)" if verification.mode == "model" else "changed-region tensor(s)"
        if worst is not None:
            steps = f" over {len(verification.steps)} steps" if len(verification.steps) > 1 else ""
            say(
                f"verified: {len(verification.outputs)} {what} match{steps} (largest |diff| "
                f"{max(o.max_abs_diff for o in verification.outputs):.3g})"
            )
        for note in verification.notes:
            say(f"  verification: {note}")
    elif not verify:
        report["verification"] = None
    left = sorted(unregistered_ops(result.proto))
    if left:
        removers = unregistered_removers(result.proto)
        raise UserError(
            f"the rewritten model would still hold {', '.join(short(o) for o in left[:3])} in "
            "the default domain, which onnx does not define at its opset (it would fail "
            "onnx.checker); "
            f"nothing written to {out_path}",
            f"add {' '.join(removers)}"
            if removers
            else "replace those ops in the exporter (no pass removes them)",
        )
    if split:
        return _split(session, result, target, out_path, report_path, seed, dims, verify, say)
    _shape_io(result.proto)
    _drop_stale_value_info(session, result, say)
    if (
        result.changed
        and _outputs_unverified(session.proto)
        and _fit_output_shapes(session.proto, result, say)
    ):
        after = checked = None  # (what the follow-up checked is not what is written)
    # The model, its external data and the report are committed together or not at all.
    with OutputSet() as outputs:
        staged = stage_model(outputs, result.proto, out_path, loaded)
        written = None  # the written version's session: inferred once, for both uses below
        invalid = _fails_checker(staged)
        if not invalid and result.changed and not session.strict_error():
            # (the input passed strict inference: no value_info was dropped, so the session
            # the follow-up checked holds what is written)
            written = checked if after is not None else ModelSession.of(staged)
            invalid = _fails_strict_inference(written)
        if not invalid:  # else discarded with the OutputSet: nothing written
            report["written"] = True
            if auto:
                from trtforge.analyzer.api import check

                if after is None:
                    after = check(written or staged, target=target, backend="static")
                report["auto"] = {
                    "passes": passes,
                    "unsupported_before": len(before.unsupported_nodes),
                    "unsupported_after": len(after.unsupported_nodes),
                }
                worse = _made_unsupported(before, after)
                if worse:
                    report["written"] = False
                    result.failure = f"{worse}; nothing written to {out_path}"
                    result.failure_hint = (
                        "the input builds as it is; rerun without --auto, or with the passes "
                        "you want (trt-rewrite -h lists them), and report it"
                    )
            if report_path:
                outputs.add_text(report_path, json.dumps(report, indent=2) + "\n", "--report")
            if result.failure is None:
                outputs.commit()
    if result.failure is not None:
        if report_path:
            from trtforge.analyzer.outputs import write_text

            write_text(report_path, json.dumps(report, indent=2) + "\n", "--report")
        return result
    if invalid:
        result.failure = (
            f"the rewritten model fails onnx.checker ({invalid}); nothing written to {out_path}"
        )
        result.failure_hint = (
            "a pass produced an invalid graph; rerun with fewer passes to find it, and report it"
        )
        if report_path:
            from trtforge.analyzer.outputs import write_text

            report["written"] = False
            write_text(report_path, json.dumps(report, indent=2) + "\n", "--report")
        return result
    result.written = True
    say(f"wrote {out_path}" + ("" if result.changed else " (graph unchanged)"))
    if auto:
        say(
            f"unsupported nodes ({target.id}, static): {len(before.unsupported_nodes)} "
            f"before → {report['auto']['unsupported_after']} after"
        )
    return result


def _made_unsupported(before, after) -> str:
    """Why --auto must not write its result: the input builds on the target (trt-check,
    static) and the result does not — a pass taken from the performance advice wrote nodes
    the target refuses (a plugin node whose kernels are missing, say); "" otherwise."""
    if before.unsupported_nodes or not after.unsupported_nodes:
        return ""
    ops = sorted({f"{n.op_type}" for n in after.unsupported_nodes})
    return (
        f"--auto: the input builds on {after.target}, the rewritten model would not "
        f"({len(after.unsupported_nodes)} node(s) rejected: {', '.join(ops[:3])})"
    )


def _failure_hint(verification, original=None) -> str:
    """What to do after a failed verification: find the pass — unless the original itself
    computes NaN or ±inf where the outputs differ, which random inputs (or random weights
    overflowing float16) give more often than a pass does, or draws random numbers (a model
    exported in training mode: its outputs differ from run to run, and no pass is at fault)."""
    random = _random_hint(original) if original is not None else None
    if random is not None:
        return random
    worst = verification.worst
    if worst is not None and worst.nonfinite_reference is not None:
        return (
            f"the original model computes {worst.nonfinite_reference} there on the generated "
            "inputs; give realistic ones (--inputs FILE.npz, or --data-loader-script) and "
            "rerun; if it still fails, rerun with fewer passes to find the one that differs"
        )
    return "a pass produced a different result; rerun with fewer passes to find it, and report it"


def _random_hint(model) -> str | None:
    """The failure hint for a model that draws random numbers (`_random_nodes`), else None."""
    drawn = _random_nodes(model)
    if not drawn:
        return None
    return (
        f"the model draws random numbers ({len(drawn)} node(s), such as {drawn[0]}): its "
        "outputs differ from run to run, so no rewrite of it can be compared; export it in "
        "inference mode (model.eval() before torch.onnx.export), or rewrite with --no-verify"
    )


def _random_nodes(model) -> list[str]:
    """The nodes of `model` (bodies included) that draw random numbers
    (`graph.draws_random`: random ops, Dropouts in training mode)."""
    from onnx import numpy_helper

    from trtforge.analyzer.graph import draws_random

    constants = {t.name: t for t in model.graph.initializer}
    found: list[str] = []

    def training_mode(node) -> float | None:
        name = node.input[2] if node.op_type == "Dropout" and len(node.input) > 2 else ""
        if not name:
            return 0.0
        value = constants.get(name)
        return None if value is None else float(numpy_helper.to_array(value).reshape(-1)[:1].any())

    def walk(graph) -> None:
        for node in graph.node:
            if node.op_type == "Constant" and node.output:
                for attr in node.attribute:
                    if attr.name == "value":
                        constants[node.output[0]] = attr.t
            if draws_random(node.op_type, node.domain, training_mode(node)):
                mode = " in training mode" if node.op_type == "Dropout" else ""
                found.append(f"{node.op_type} '{node.name}'{mode}")
            for attr in node.attribute:
                for body in [attr.g] if attr.HasField("g") else list(attr.graphs):
                    walk(body)

    walk(model.graph)
    return found


def _may_requantize_exactly(result: RewriteResult, options: Mapping[str, Any]) -> bool:
    """True when requantize ran in its default qdq form and the user did not choose a form."""
    stats = result.passes.get("requantize")
    return bool(stats and stats.applied) and "requantize_form" not in options


def _user_feeds(inputs: list[str], script: str | None) -> list | None:
    """The candidates of --inputs and --data-loader-script, or None (generated inputs)."""
    from trtforge.analyzer.rewrite import inputs as gen

    feeds = None
    if inputs:
        feeds = gen.load_npz(inputs)
    if script:
        feeds = (feeds or []) + gen.load_script(script)
    return feeds


def _verify(session: ModelSession, result: RewriteResult, seed, dims, feeds):
    """Runs the original and the rewritten model on the same inputs (`rewrite.verify`):
    `feeds` (`_user_feeds`), or generated ones when None."""
    from trtforge.analyzer.rewrite.verify import verify

    loaded = session.loaded
    if loaded.external and loaded.folder is not None:
        # onnxruntime reads the weights from their files; they are never copied here
        original, folder = loaded.proto, loaded.folder
    else:
        original, folder = session.weights(), None
    return verify(
        original,
        result.proto,
        seed=seed,
        dims=dims,
        feeds=feeds,
        folder=folder,
        regional=loaded.external_bytes + loaded.proto.ByteSize() > REGIONAL_BYTES,
        allowances=result.allowances,
        model_dir=loaded.folder,
        types=session.types(),
    )


#: rounds of "check the rewritten model, add the passes it names" under --auto
FOLLOW_UP_ROUNDS = 3


def _follow_up(work: ModelSession, result: RewriteResult, passes: list[str], options, say):
    """--auto: the passes trt-check names on the rewritten model that did not run, added.

    A pass can bring nodes within another pass's reach that trt-check could not see in the
    input: inline-empty-guard lifts a NonMaxSuppression out of an If, where nms-plugin then
    applies. The model is rewritten again from the input with the longer list (`passes` is
    extended in place), until trt-check names nothing new.

    Returns:
        The result, trt-check's report on it and the session it checked (None, None when it
        was not checked): the checks after writing reuse them, so each version of the model
        is inferred once.
    """
    from trtforge.analyzer.rewrite.manager import rewrite_model
    from trtforge.analyzer.rewrite.registry import all_passes, get_pass

    for _ in range(FOLLOW_UP_ROUNDS + 1):
        if not result.changed:
            return result, None, None
        derived = work.derive(result.proto)
        report, named = _auto_passes(derived, options.target, all_passes())
        extra = [p for p in named if p not in passes]
        if not extra:
            return result, report, derived
        say(f"trt-check of the rewritten model: passes suggested: {', '.join(extra)}")
        passes += extra
        if any(get_pass(p).reads_weights for p in extra):
            work = work.weights_loaded()  # (itself when loaded already, or with none)
        result = rewrite_model(work, passes, options)
    return result, None, None


def _auto_passes(session, target: Target, known: list[str]):
    """trt-check (static) of the input, and the passes its findings name, in order."""
    from trtforge.analyzer.api import check

    report = check(session, target=target, backend="static")
    wanted = []
    fixes = [f for node in report.unsupported_nodes for f in node.fixes]
    fixes += [f for finding in report.graph_findings for f in finding.fixes]  # advice
    for fix in fixes:
        if fix.kind == "rewrite" and fix.name in known and fix.name not in wanted:
            wanted.append(fix.name)
    return report, wanted


def refuse_invalid(session: ModelSession) -> None:
    """Raises UserError (exit 2) when the model is not a valid ONNX graph: passes and
    verification assume one, and a rewrite must never write an invalid model."""
    import onnx

    from trtforge.analyzer import validity

    loaded = session.loaded
    problem = validity.first_error(session.problems())
    bad_name = validity.undecodable_name(loaded.proto) if problem is None else None
    if bad_name is not None:
        raise UserError(
            f"{loaded.display_path}: the name '{bad_name}' is not UTF-8 text, which ONNX "
            "requires of names",
            "rename it in the exporter (trt-check still checks such a model)",
        )
    if problem is not None:
        raise UserError(
            f"{loaded.display_path}: {problem}",
            "trtforge rewrites and quantizes valid ONNX graphs only; fix or re-export the "
            "model (trt-check MODEL lists every problem)",
        )
    sparse = {value.values.name for value in loaded.proto.graph.sparse_initializer}
    if sparse and not sparse.isdisjoint(n for node in loaded.proto.graph.node for n in node.input):
        raise UserError(
            f"{loaded.display_path}: a node reads a sparse initializer, which onnx.checker's "
            "full check types as no tensor (and TensorRT does not import)",
            "store the initializer dense in the exporter (onnx.numpy_helper.to_array of "
            "the sparse tensor), then rewrite that",
        )
    if inference_guard.crashed(session.strict_error()):
        raise UserError(
            f"{loaded.display_path}: {session.strict_error()} on this model; onnxruntime, "
            "which verifies rewrites and calibrates, would crash on it too",
            "trt-check MODEL still checks it with the declared types; find the node with "
            "onnx.shape_inference in a separate process, and fix it in the exporter",
        )
    if "Incompatible dimensions" in session.strict_error():
        # inputs that do not broadcast: onnxruntime and TensorRT refuse the node, and
        # onnx.checker's full check fails, so no rewrite of it can be verified or valid
        op = re.search(
            r"\(op_type:(\w+)(?:, node name: ([^)]*))?\)[^\n]*Incompatible", session.strict_error()
        )
        where = ""
        if op is not None:
            where = (
                f" ({short(op.group(1))} node '{short(op.group(2))}')"
                if op.group(2)
                else f" ({short(op.group(1))})"
            )
        raise UserError(
            f"{loaded.display_path}: input shapes that do not broadcast{where}, found by ONNX "
            "shape inference; onnxruntime and TensorRT refuse such a node",
            "fix the shapes in the exporter (trt-check MODEL names the node)",
        )
    try:  # what a rewrite writes must pass onnx.checker: so must what it reads
        if unregistered_ops(loaded.proto):
            _check_custom_copy(as_custom_ops(loaded.proto), bool(loaded.external))
        elif loaded.external and loaded.path is not None:
            onnx.checker.check_model(str(loaded.path))  # its data files beside it
        else:
            onnx.checker.check_model(loaded.proto)
    except (onnx.checker.ValidationError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        hint = "trt-rewrite only rewrites models that pass onnx.checker; fix or re-export it"
        if "Field 'shape' of 'type' is required" in first:  # (trt-check: invalid/output-shape)
            hint = (
                "a graph input or output declares no shape; save the model after "
                "onnx.shape_inference.infer_shapes (which fills the outputs' shapes in), or "
                "re-export it with shapes: " + hint
            )
        raise UserError(
            f"{loaded.display_path}: not a valid ONNX model (onnx.checker: {first})", hint
        ) from None


def _shape_io(proto) -> None:
    """Gives graph inputs and outputs that have an element type but no shape (new outputs of
    a pass; the pass manager restores those the model had) the shape ONNX shape inference
    finds, which onnx.checker requires of them. Inference runs only when one lacks it."""
    values = [*proto.graph.input, *proto.graph.output]
    shapeless = [
        v
        for v in values
        if v.type.WhichOneof("value") == "tensor_type" and not v.type.tensor_type.HasField("shape")
    ]
    if not shapeless:
        return
    from trtforge.analyzer.inference import infer_types

    types = infer_types(proto)
    for value in shapeless:
        found = types.get(value.name)
        if (
            found is not None
            and found.WhichOneof("value") == "tensor_type"
            and found.tensor_type.HasField("shape")
            and found.tensor_type.elem_type == value.type.tensor_type.elem_type
        ):
            value.type.tensor_type.shape.CopyFrom(found.tensor_type.shape)


def _drop_stale_value_info(session: ModelSession, result: RewriteResult, say) -> None:
    """Drops the value_info the input declared against what inference computes
    (`validity.stale_value_info`: onnxruntime-genai's rank-0 declaration of a [1] constant),
    so that the output passes onnx.checker's full check. Looked for only where the input's
    strict inference raised: a model whose declarations agree costs nothing."""
    from trtforge.analyzer.validity import drop_stale_value_info

    if not session.strict_error() or not result.proto.graph.value_info:
        return
    dropped = drop_stale_value_info(result.proto)
    if dropped:
        shown = ", ".join(f"'{short(name)}'" for name in dropped[:3])
        more = f" and {len(dropped) - 3} more" if len(dropped) > 3 else ""
        say(f"dropped the value_info of {shown}{more}: it contradicts shape inference")
        result.notes.append(f"dropped {len(dropped)} value_info declaration(s) inference refutes")


def _outputs_unverified(proto) -> bool:
    """Whether a graph output of `proto` is made by a node outside the default domain (an
    ai.onnx.ml or custom op, for which ONNX's inference may compute nothing): only there can
    a declared shape be one no op computes (`_fit_output_shapes`; elsewhere the input's own
    inference checked it, and nothing more is inferred)."""
    outputs = {value.name for value in proto.graph.output}
    return any(
        node.domain not in ("", "ai.onnx") and not outputs.isdisjoint(node.output)
        for node in proto.graph.node
    )


def _computed_output_shapes(proto):
    """The types inference computes for `proto`'s tensors with its graph outputs' declared
    shapes left out (what its nodes compute of them)."""
    import onnx

    from trtforge.analyzer.inference import infer_types

    bare = onnx.ModelProto()
    bare.CopyFrom(proto)
    for value in bare.graph.output:
        value.type.tensor_type.ClearField("shape")
    return infer_types(bare)


def _fit_output_shapes(source, result: RewriteResult, say) -> bool:
    """Gives a graph output whose declared shape contradicts what the rewritten graph
    computes the computed shape (its element type kept); whether one was. An input can
    declare a shape that no op of it computes where ONNX infers nothing for the op
    (CatBoost declares a regressor's output [N] while its TreeEnsembleRegressor gives
    [N, 1], as onnxruntime returns it); once a pass has made the graph of standard ops, the
    declaration would fail onnx.checker's full check, and trt-rewrite writes no such model.
    `source`: the input model."""
    outputs = result.proto.graph.output
    declared = {
        v.name: v
        for v in outputs
        if v.type.WhichOneof("value") == "tensor_type" and v.type.tensor_type.HasField("shape")
    }
    if not declared:
        return False
    computed = _computed_output_shapes(result.proto)
    clashes = {}
    for name, value in declared.items():
        found = computed.get(name)
        if found is None or not found.tensor_type.HasField("shape"):
            continue
        have, want = value.type.tensor_type.shape.dim, found.tensor_type.shape.dim
        if len(have) != len(want) or any(
            a.HasField("dim_value") and b.HasField("dim_value") and a.dim_value != b.dim_value
            for a, b in zip(have, want, strict=True)
        ):
            clashes[name] = found
    if not clashes:
        return False
    # only a declaration nothing in the input computed (an op ONNX infers no shape for) is
    # fitted: where the input computed the declared shape, a pass changed it, and the
    # result is refused as a pass's fault
    before = _computed_output_shapes(source)
    fitted = []
    for name, found in clashes.items():
        known = before.get(name)
        if known is not None and known.tensor_type.HasField("shape"):
            continue
        declared[name].type.tensor_type.shape.CopyFrom(found.tensor_type.shape)
        fitted.append(name)
    if fitted:
        shown = ", ".join(f"'{short(name)}'" for name in fitted[:3])
        say(f"declared the shape of output {shown} as the graph computes it")
        result.notes.append(f"{len(fitted)} output shape declaration(s) fitted to the graph")
    return bool(fitted)


def _fails_checker(staged) -> str:
    """What onnx.checker says of a staged output model (its data beside it), as one line; ""
    when it passes. Whatever the passes did, trt-rewrite writes no model that fails it (the
    input passed it: `refuse_invalid`)."""
    import onnx

    try:
        onnx.checker.check_model(str(staged))
    except (onnx.checker.ValidationError, ValueError) as err:
        text = str(err).strip()
        return short(text.splitlines()[0] if text else type(err).__name__)
    return ""


def _fails_strict_inference(written: ModelSession) -> str:
    """What strict shape inference — onnx.checker's full check — says against the written
    model (its session: the one inference of that version, which the check after --auto
    shares); "" when it passes. The caller asks only where the input passed it: a pass that
    makes a node compute another shape than the graph declares (a transposed output) is
    caught here, not by the plain check, while an input that already fails it (onnxruntime's
    com.microsoft ops, which ONNX's inference does not know) is not held to it."""
    error = written.strict_error()
    if not error:
        return ""
    return f"strict shape inference: {short(' '.join(error.split()), 300)}"


#: the domain that stands in for the default domain of ops onnx does not define (checker only)
_UNREGISTERED = "trtforge.unregistered"


def unregistered_ops(proto) -> set[str]:
    """Default-domain op types onnx does not define (at the model's opset): onnxruntime's own
    ops that its tools write into the default domain (onnxruntime-genai's
    SimplifiedLayerNormalization, …; `late_ops`). TensorRT's parser dispatches them by
    op_type, so they are real models, not invalid ones."""
    import onnx

    version = _default_opset(proto)
    types = {
        n.op_type
        for n in proto.graph.node
        if n.domain in ("", "ai.onnx")
        and isinstance(n.op_type, str)  # protobuf hands undecodable text over as bytes
    }
    return {
        op for op in types if not onnx.defs.has(op) or not _defined_at(op, version)
    }  # one schema lookup per op type, not per node


def late_ops(proto) -> set[str]:
    """Default-domain ops onnx defines only from a later opset than the model imports.
    onnxruntime registers LayerNormalization in the default domain below opset 17 too, and its
    transformer optimizer writes it into opset-11..16 exports; TensorRT's parser takes it by
    op_type. upgrade-opset, raising the opset to where onnx defines them, makes them valid."""
    import onnx

    return {op for op in unregistered_ops(proto) if onnx.defs.has(op)}


def foreign_late_nodes(proto) -> str:
    """A node of `late_ops` that does not fit onnx's schema of its op at `late_opset`
    ("" when every one fits): whether upgrade-opset would refuse to convert the model."""
    from trtforge.analyzer.rewrite.passes.upgrade_opset import not_onnx_nodes

    late = late_ops(proto)
    return not_onnx_nodes(proto, late, late_opset(proto)) if late else ""


def late_opset(proto) -> int:
    """The first opset at which onnx defines every one of `late_ops` (0: there are none)."""
    from trtforge.analyzer.rewrite.passes.upgrade_opset import first_opset

    return first_opset(late_ops(proto), _default_opset(proto))


def _default_opset(proto) -> int:
    for op in proto.opset_import:
        if op.domain in ("", "ai.onnx"):
            return op.version
    return 1


def _defined_at(op_type: str, version: int) -> bool:
    from trtforge.analyzer.rewrite.passes.upgrade_opset import defined_at

    return defined_at(op_type, version)


def _check_custom_copy(copy, external: bool) -> None:
    """onnx.checker on `as_custom_ops`'s copy. Given a proto, the checker looks for external
    data relative to the working directory, so an export with its weights beside it (every
    onnxruntime-genai LLM) would fail; the copy is checked as a file in a temporary folder
    instead, its external references pointing at an empty stand-in there. The real locations
    were validated when the model was loaded (`loading._check_external`), and the weights are
    never read for the check."""
    import onnx

    if not external:
        onnx.checker.check_model(copy)
        return
    import tempfile
    from pathlib import Path

    for tensor in _external_tensors(copy.graph):
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "weights.stand-in"
    with tempfile.TemporaryDirectory(prefix="trtforge-check-") as tmp:
        (Path(tmp) / "weights.stand-in").touch()
        path = Path(tmp) / "model.onnx"
        path.write_bytes(copy.SerializeToString())
        onnx.checker.check_model(str(path))


def _external_tensors(graph):
    """Every TensorProto of `graph` and its subgraphs whose data is external."""
    import onnx

    for tensor in graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            yield tensor
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t") and attr.t.data_location == onnx.TensorProto.EXTERNAL:
                yield attr.t
            if attr.HasField("g"):
                yield from _external_tensors(attr.g)
            for sub in attr.graphs:
                yield from _external_tensors(sub)


def unregistered_removers(proto) -> list[str]:
    """The trt-rewrite options whose passes remove `unregistered_ops(proto)` (`--upgrade-opset
    N` where a newer opset defines them), in order; empty when no pass does."""
    from trtforge.analyzer.rewrite.registry import passes_removing

    left = unregistered_ops(proto)
    removers = sorted({p for op in left for p in passes_removing("", op)})
    if late_ops(proto):
        if foreign_late_nodes(proto):  # upgrade-opset refuses them: not onnx's op
            removers = [p for p in removers if p != "upgrade-opset"]
        else:
            removers = sorted({*removers, "upgrade-opset"})
    return [
        f"--upgrade-opset {late_opset(proto)}" if p == "upgrade-opset" else f"--{p}"
        for p in removers
    ]


def as_custom_ops(proto):
    """A copy for onnx.checker in which those ops sit in a custom domain (the checker cannot
    know their schemas; everything else is checked as it is)."""
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    unknown = unregistered_ops(proto)
    for node in copy.graph.node:
        if node.domain in ("", "ai.onnx") and node.op_type in unknown:
            node.domain = _UNREGISTERED
    copy.opset_import.append(onnx.helper.make_opsetid(_UNREGISTERED, 1))
    return copy


def _split(session, result, target, out_path, report_path, seed, dims, verify, say):
    """split=True: cut the rewritten model into host and TensorRT parts, verify, write them."""
    from trtforge.analyzer.api import check
    from trtforge.analyzer.outputs import OutputSet
    from trtforge.analyzer.rewrite.verify import (
        _loosest,
        compare,
        computed_float_types,
        run_model,
    )
    from trtforge.analyzer.rewrite.writer import stage_model
    from trtforge.analyzer.split import run_split, sample_feeds, split_model, stage_paths

    report = result.report
    staged = session.derive(result.proto)  # one type table for the check and the cut
    verdicts = check(staged, target=target, backend="static", advice=False)
    model = session.with_external_data(result.proto)
    accepted = [True] * len(model.graph.node)
    for node in verdicts.nodes:
        accepted[node.index] = node.ok  # a plugin whose kernels are missing fails too
    split = split_model(model, accepted, staged.types())
    paths = stage_paths(out_path)
    for stage in split.stages:
        say(f"{stage.name}: {stage.nodes} node(s) → {paths[stage.name]}")
    report["split"] = split.manifest({s.name: paths[s.name].name for s in split.stages})
    if verify:
        original = session.weights()
        feeds = sample_feeds(original, seed, dims, session.types())
        expected = run_model(original, feeds)
        got = run_split(split, feeds)
        elem = {o.name: o.type.tensor_type.elem_type for o in original.graph.output}
        # the whole-model verification's tolerances: the precision the model computes in
        # (an fp16 model's float outputs), what the passes declared (a requantized grid)
        computed_in = _loosest(computed_float_types(original, session.types()))
        allowances = result.allowances or {}
        diffs = [
            compare(n, expected[n], got[n], elem[n], computed_in, allowances.get(n))
            for n in expected
        ]
        bad = [d for d in diffs if not d.ok]
        report["split"]["verified"] = not bad
        if bad:
            result.failure = (
                f"verification of the split failed: output '{bad[0].name}' max |diff| "
                f"{bad[0].max_abs_diff:.3g}; nothing written to {out_path}"
            )
            # no stage is at fault where the outputs differ from run to run
            result.failure_hint = _random_hint(original) or result.failure_hint
            return result
        say(f"verified: the {len(split.stages)} stages reproduce every output")
    # every stage, the manifest and the report are committed together or not at all
    with OutputSet() as outputs:
        for stage in split.stages:
            invalid = _fails_checker(stage_model(outputs, stage.proto, paths[stage.name], None))
            if invalid:
                result.failure = (
                    f"the {stage.name} part fails onnx.checker ({invalid}); nothing written to "
                    f"{out_path}"
                )
                return result
        manifest = report["split"]
        outputs.add_text(paths["manifest"], json.dumps(manifest, indent=2) + "\n")
        report["written"] = True
        if report_path:
            outputs.add_text(report_path, json.dumps(report, indent=2) + "\n", "--report")
        outputs.commit()
    result.written = True
    say(f"wrote {paths['manifest']}")
    return result
