"""INT8 post-training quantization into the explicit Q/DQ form TensorRT takes.

Runs the float model on the calibration samples with onnxruntime's calibrators, writes symmetric
INT8 Q/DQ (per-channel weights, float biases) where TensorRT fuses it, checks the result
(onnx.checker, trt-check for the target) and compares it with the float model on held-back
samples (cosine, max |error|, top-1 agreement). MODEL is never modified; OUT is written
atomically, and not at all when a check or --min-cosine fails.

Calibration data: FILE.npz (arrays named after the model inputs, one sample shaped as the
model takes it), a folder of such files, or a Polygraphy-style data loader script.py[:func].
A few hundred representative samples are typical; random data gives meaningless scales, so it
is used only with --random-calibration.

--check-fp16 runs the float model on the same samples instead and names the layers FP16 cannot
hold, as the `trt-build --layer-precisions` value that keeps them in FP32.

Exit status: 0 written, 1 a check or the accuracy threshold failed (nothing written) — with
--check-fp16: some layer must stay FP32 —, 2 bad input or arguments, 3 internal error.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import NoReturn

from trtforge.analyzer.cli._args import (
    EXIT_FINDINGS,
    EXIT_OK,
    add_dim_arg,
    add_logging_args,
    add_target_args,
    configure_logging,
    make_parser,
    parse_dim_sizes,
    run_cli,
)

PROG = "trt-quantize"
REPORT_SCHEMA = "trtforge.quantize/1"
RANDOM_SAMPLES = 16
#: below this many samples entropy calibration warns (sparse histograms, unstable thresholds)
ENTROPY_MIN_SAMPLES = 32


def build_parser():
    parser = make_parser(PROG, __doc__)
    parser.add_argument("model", metavar="MODEL", help="the float ONNX model (never modified)")
    parser.add_argument("-o", "--output", metavar="OUT", help="the INT8 model (required)")
    parser.add_argument(
        "--check-fp16",
        action="store_true",
        help="instead of quantizing: run the float model on the samples, name the layers whose "
        "values FP16 cannot hold (overflow past 65504, or underflow), and print the "
        "trt-build --layer-precisions that keeps them in FP32 (exit 1 when there are any)",
    )
    cal = parser.add_argument_group("calibration")
    cal.add_argument(
        "--calibration-data",
        metavar="PATH",
        help="FILE.npz, a folder of .npz files, or a data loader script.py[:func]",
    )
    cal.add_argument(
        "--random-calibration",
        action="store_true",
        help=f"calibrate on {RANDOM_SAMPLES} random samples (for trying the tool only: the "
        "scales mean nothing for real data)",
    )
    add_dim_arg(cal, "random samples")
    cal.add_argument(
        "--method",
        choices=("entropy", "minmax", "percentile"),
        default="entropy",
        help="entropy (KL divergence, default: TensorRT's own calibrator's choice), minmax "
        "(the full observed range), percentile (99.999th percentile of |x|)",
    )
    cal.add_argument(
        "--holdout",
        type=int,
        metavar="N",
        help="samples kept back for the accuracy report (default: a fifth)",
    )
    what = parser.add_argument_group("what stays float")
    what.add_argument(
        "--exclude",
        metavar="NODES|OP_TYPES|PATTERN",
        action="append",
        default=[],
        help="node names, op types or a regular expression on node names (comma-separated, "
        "repeatable)",
    )
    what.add_argument(
        "--keep-float",
        choices=("head",),
        help="head: the last Conv/MatMul/Gemm before every output (classifier, detection head)",
    )
    what.add_argument(
        "--per-tensor",
        action="store_true",
        help="one scale per weight tensor (default: one per output channel)",
    )
    checks = parser.add_argument_group("checks")
    checks.add_argument(
        "--min-cosine",
        type=float,
        metavar="X",
        help="write nothing (exit 1) when an output's cosine similarity to the float model "
        "falls below X on the held-back samples",
    )
    add_target_args(parser)
    parser.add_argument("--report", metavar="FILE.json", help="write the accuracy report here")
    add_logging_args(parser)
    return parser


def _say(args, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr)


def _progress(args):
    """A progress callback on stderr (rich) when it is a terminal, else None."""
    if args.quiet or not sys.stderr.isatty():
        return None, None
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task("calibrating", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args)
    from pathlib import Path

    from trtforge.analyzer.api import check
    from trtforge.analyzer.calibration import check_feeds, load_feeds, protect_feeds
    from trtforge.analyzer.errors import UserError, short
    from trtforge.analyzer.loading import load_external_weights, load_model
    from trtforge.analyzer.rewrite.writer import check_destination, write_text
    from trtforge.analyzer.targets import default_target, parse_target

    if args.calibration_data is None and not args.random_calibration:
        raise UserError(
            "no calibration data",
            "give --calibration-data (a few hundred representative samples); random data "
            "gives meaningless scales, so it needs --random-calibration",
        )
    dims = parse_dim_sizes(args.dim)
    if dims and args.calibration_data is not None:
        raise UserError(
            "--dim sizes the random samples, and --calibration-data gives the samples",
            "drop --dim: the arrays of --calibration-data have their own shapes",
        )
    if args.min_cosine is not None and not -1.0 <= args.min_cosine <= 1.0:
        raise UserError(f"--min-cosine {args.min_cosine} is outside [-1, 1]", "e.g. 0.99")
    if args.output is not None and args.check_fp16:
        raise UserError(
            "--check-fp16 writes no model: -o would be ignored",
            "drop -o (--report FILE.json writes the check's findings)",
        )
    if args.output is None and not args.check_fp16:
        raise UserError("no output given", "add -o OUT (or --check-fp16 to check FP16 ranges)")
    target = parse_target(args.target) if args.target else default_target()
    if args.calibration_data is not None:
        protect_feeds(args.calibration_data)
    loaded = load_model(args.model)
    session = _valid_session(loaded)
    out_path = Path(args.output) if args.output else None
    if out_path is not None:
        check_destination(out_path, loaded)
    if args.report:
        from trtforge.analyzer.outputs import check_output

        check_output(args.report, "--report")  # before calibrating: refuse what cannot be written
    _refuse_unregistered_ops(loaded)
    if dims:
        from trtforge.analyzer.rewrite.inputs import check_dim_sizes

        check_dim_sizes(loaded.structure, dims)
    model = load_external_weights(loaded)
    if session.strict_error():  # declarations inference refutes: the output must pass the
        from trtforge.analyzer.validity import drop_stale_value_info  # full check

        dropped = drop_stale_value_info(model)
        if dropped:
            _say(args, f"dropped {len(dropped)} value_info declaration(s) inference refutes")
    if args.calibration_data is not None:
        feeds = load_feeds(args.calibration_data)
    else:
        feeds = _random_feeds(model, dims, loaded.folder)
        _say(args, f"warning: calibrating on {RANDOM_SAMPLES} random samples (scales mean nothing)")
    check_feeds(model, feeds, "--calibration-data")
    if args.method == "entropy" and len(feeds) < ENTROPY_MIN_SAMPLES and not args.check_fp16:
        _say(
            args,
            f"warning: entropy calibration on {len(feeds)} sample(s): its 2048-bin histograms "
            f"need more (hundreds are typical) and can clip badly; --method minmax or "
            "percentile is steadier on few samples",
        )
    if args.check_fp16:
        return _check_fp16(args, loaded, model, feeds)

    from trtforge.analyzer.quantize import quantize

    before = check(session, target=target, backend="static", advice=False)
    bar, update = _progress(args)
    if bar is not None:
        bar.start()
    try:
        result = quantize(
            model,
            feeds,
            method=args.method,
            exclude=args.exclude,
            keep_float_head=args.keep_float == "head",
            per_channel=not args.per_tensor,
            holdout=args.holdout,
            progress=update,
        )
    finally:
        if bar is not None:
            bar.stop()
    report: dict = {
        "schema": REPORT_SCHEMA,
        "input": {"path": loaded.display_path, "sha256": loaded.sha256},
        "output": str(out_path),
        "target": target.id,
        "method": args.method,
        "per_channel": not args.per_tensor,
        **result.to_json(),
    }
    failure = _checks(result, before, model, target, args)
    if result.converted_from is not None:
        _say(args, f"converted the model from opset {result.converted_from} to 13")
    _say(
        args,
        f"calibrated on {result.calibration_samples} sample(s) ({args.method}); "
        f"{result.qdq_nodes} Q/DQ nodes; {len(result.excluded)} node(s) kept float",
    )
    if result.non_finite:
        shown = ", ".join(f"'{short(name)}'" for name in result.non_finite[:3])
        more = f" and {len(result.non_finite) - 3} more" if len(result.non_finite) > 3 else ""
        _say(
            args,
            f"  kept float where a tensor is NaN, infinite, of float32's extreme magnitude or "
            f"denormal on calibration ({shown}{more}): no INT8 scale fits it",
        )
    for a in result.agreement:
        top1 = f", top-1 agreement {a.top1_agreement:.1%}" if a.top1_agreement is not None else ""
        _say(
            args,
            f"  {a.name}: cosine {a.cosine:.4f}, max |error| {a.max_abs_error:.3g}{top1} "
            f"({result.holdout_samples} held-back sample(s))",
        )
    if not result.agreement:
        _say(args, "  no held-back sample: accuracy not measured (give two or more samples)")
    if failure:
        report["written"] = False
        report["failure"] = failure
        print(f"{PROG}: {failure}; nothing written to {out_path}", file=sys.stderr)
        if args.report:
            write_text(_json_text(report), args.report)
        return EXIT_FINDINGS
    from trtforge.analyzer.outputs import OutputSet
    from trtforge.analyzer.rewrite.writer import stage_model

    with OutputSet() as outputs:  # the model and its report together, or neither
        stage_model(outputs, result.proto, out_path, None)
        report["written"] = True
        if args.report:
            outputs.add_text(args.report, _json_text(report), "--report")
        outputs.commit()
    _say(args, f"wrote {out_path}")
    return EXIT_OK


def _json_text(report: dict) -> str:
    """The report as JSON text: a value that is not a number (NaN, infinite: an output
    holding NaN, or an agreement over no sample) is null, as JSON has no such number."""

    def plain(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        return value

    return json.dumps(plain(report), indent=2, allow_nan=False) + "\n"


def _check_fp16(args, loaded, model, feeds) -> int:
    from trtforge.analyzer.fp16_check import check_fp16, precision_spec
    from trtforge.analyzer.rewrite.writer import write_text

    findings = check_fp16(model, feeds)
    spec = precision_spec(findings)
    for f in findings:
        print(f"{f.op_type} node '{f.node}' ({f.tensor}): {f.why}")
    if findings:
        print(f"keep {len(findings)} layer(s) in FP32: trt-build ... --layer-precisions {spec}")
    else:
        print(f"every float tensor fits FP16 on {len(feeds)} sample(s)")
    if args.report:
        report = {
            "schema": "trtforge.fp16-check/1",
            "input": {"path": loaded.display_path, "sha256": loaded.sha256},
            "samples": len(feeds),
            "findings": [f.to_json() for f in findings],
            "layer_precisions": spec,
        }
        write_text(_json_text(report), args.report)
    return EXIT_FINDINGS if findings else EXIT_OK


def _valid_session(loaded):
    """The model's session, once it is a graph trt-rewrite would take (`refuse_invalid`:
    valid ONNX, one ONNX's inference does not crash on): calibration runs it in
    onnxruntime, which would refuse it or crash, and the result must pass onnx.checker."""
    from trtforge.analyzer.rewrite.api import refuse_invalid
    from trtforge.analyzer.rewrite.verify import refuse_crashing_models
    from trtforge.analyzer.session import ModelSession

    session = ModelSession.of(loaded, for_rewrite=True)
    refuse_invalid(session)
    refuse_crashing_models(loaded.structure)
    return session


def checker_refuses(proto) -> str | None:
    """Why `onnx.checker.check_model(proto, full_check=True)` refuses the model, or None:
    its checks, then its strict inference with types checked, run apart from this process
    (`inference_guard`: inference can crash on what it checks)."""
    import onnx

    from trtforge.analyzer import inference_guard
    from trtforge.analyzer.rewrite.api import as_custom_ops, unregistered_ops

    if unregistered_ops(proto):  # onnxruntime's ops in the default domain: checked as custom
        proto = as_custom_ops(proto)
    try:
        onnx.checker.check_model(proto)
        inference_guard.infer_shapes(proto.SerializeToString(), True, True, False)
    except inference_guard.InferenceCrashed as err:
        return f"the quantized model could not be checked: {err}"
    except Exception as err:  # noqa: BLE001 - the checker raises several types
        from trtforge.analyzer.rewrite.verify import onnxruntime_reason

        return f"the quantized model fails onnx.checker ({onnxruntime_reason(err)})"
    return None


def _checks(result, before, model, target, args) -> str | None:
    """Why the result must not be written, or None. `before`: the check of `model`, the
    float model (whose unnamed nodes the result holds with the names `quantize` gave them)."""
    from trtforge.analyzer.api import check
    from trtforge.analyzer.quantize import given_names

    refused = checker_refuses(result.proto)
    if refused:
        return refused
    after = check(result.proto, target=target, backend="static", advice=False)
    names = given_names(model.graph.node)
    known = {(n.op_type, names[n.index]) for n in before.unsupported_nodes}
    new = [n for n in after.unsupported_nodes if (n.op_type, n.name) not in known]
    if new:
        names = ", ".join(f"{n.op_type} '{n.name}'" for n in new[:5])
        return f"{len(new)} quantization node(s) {target.id} rejects: {names}"
    if args.min_cosine is not None:
        low = [a for a in result.agreement if a.cosine < args.min_cosine]
        if low:
            worst = min(low, key=lambda a: a.cosine)
            return (
                f"output '{worst.name}' has cosine {worst.cosine:.4f} < --min-cosine "
                f"{args.min_cosine} (exclude sensitive layers with --exclude/--keep-float head, "
                "or try --method minmax/percentile)"
            )
    return None


def _refuse_unregistered_ops(loaded) -> None:
    """Raises UserError when the model holds onnxruntime's ops in the default domain
    (SimplifiedLayerNormalization in onnxruntime-optimized Llama, Mistral, T5): onnx defines
    no such op, so the quantized model would fail onnx.checker, which trt-quantize never
    writes; trt-rewrite's passes turn them into standard ops first (as trt-rewrite itself
    refuses to write them)."""
    from trtforge.analyzer.errors import UserError, short
    from trtforge.analyzer.rewrite.api import unregistered_ops, unregistered_removers

    left = sorted(unregistered_ops(loaded.proto))
    if not left:
        return
    removers = unregistered_removers(loaded.proto)
    raise UserError(
        f"{loaded.display_path} holds {', '.join(short(op) for op in left[:3])} in the default "
        "domain, which onnx does not define at its opset: the quantized model would fail "
        "onnx.checker; nothing written",
        f"rewrite it first (trt-rewrite MODEL -o REWRITTEN.onnx {' '.join(removers)}), then "
        "quantize the rewritten model"
        if removers
        else "replace those ops in the exporter (no trt-rewrite pass removes them)",
    )


def _random_feeds(model, dims: dict[str, int], folder=None) -> list[dict]:
    """RANDOM_SAMPLES generated feeds, of the first input candidate the model runs with
    (`verify.first_runnable`): the first alone may be too short for the model (a speech
    model's time axis of 10 under two strided Convs), which refused the model as if the
    samples were the user's. `dims`: sizes the user gave named dynamic dims (`--dim`);
    `folder`: the model's (a decoder's genai_config.json there gives its KV-cache dims)."""
    from trtforge.analyzer.errors import UserError
    from trtforge.analyzer.rewrite.inputs import FeedBudget
    from trtforge.analyzer.rewrite.verify import first_runnable, make_inputs

    budget = FeedBudget("--random-calibration")  # (huge --dim sizes: one error, not OOM)
    feeds = []
    try:
        chosen = first_runnable(model, dims=dims, folder=folder)
        for seed in range(RANDOM_SAMPLES):
            feed = make_inputs(model, seed, dims=dims, candidate=chosen, folder=folder)
            budget.take(feed, f"sample {seed}")
            feeds.append(feed)
    except MemoryError:  # the sizes are the user's (--dim), or the model's own
        raise UserError(
            "--random-calibration: the random samples (or the model run on them) do not fit "
            "in memory",
            "give smaller sizes with --dim NAME=SIZE, or calibrate on real samples",
        ) from None
    return feeds


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(PROG, _main, argv)


def console_main() -> NoReturn:
    """The `trt-quantize` command (`cli._args.run_console`)."""
    from trtforge.analyzer.cli._args import run_console

    run_console(main)


if __name__ == "__main__":
    console_main()
