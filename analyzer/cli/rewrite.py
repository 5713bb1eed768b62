"""Rewrite an ONNX model so TensorRT accepts it (graph passes, verified with onnxruntime).

Choose passes by flag (e.g. --fuse-layernorm --decompose-contrib), or --auto to apply the passes
trt-check suggests for the target. The rewritten model is run against the original in
onnxruntime on random inputs and written only if every output matches within its dtype's
tolerance (--no-verify skips that). IN is never modified; OUT is written atomically.

Exit status: 0 written, 1 verification failed (nothing written), 2 bad input or arguments,
3 internal error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from trtforge.analyzer.cli._args import (
    EXIT_FINDINGS,
    EXIT_OK,
    add_logging_args,
    add_target_args,
    configure_logging,
    make_parser,
    run_cli,
)

PROG = "trt-rewrite"
REPORT_SCHEMA = "trtforge.rewrite/1"


def build_parser():
    from trtforge.analyzer.rewrite.registry import all_passes, declared_options, get_pass

    parser = make_parser(PROG, __doc__)
    parser.add_argument("model", metavar="IN", help="the ONNX model to rewrite (never modified)")
    parser.add_argument(
        "-o", "--output", metavar="OUT", required=True, help="where to write the rewritten model"
    )
    passes = parser.add_argument_group("passes (run in this order until nothing changes)")
    for pid in all_passes():
        passes.add_argument(
            f"--{pid}", dest="passes", action="append_const", const=pid, help=get_pass(pid).summary
        )
    passes.add_argument(
        "--auto",
        action="store_true",
        help="run trt-check (static) for the target, apply the passes its findings "
        "name, and re-check",
    )
    for option in declared_options().values():
        _add_option(passes, option)
    add_target_args(parser)
    ver = parser.add_argument_group("verification")
    ver.add_argument(
        "--verify",
        dest="verify",
        action="store_true",
        default=True,
        help="compare outputs with the original in onnxruntime (default)",
    )
    ver.add_argument("--no-verify", dest="verify", action="store_false", help="skip verification")
    ver.add_argument("--seed", type=int, default=0, help="random-input seed (default 0)")
    ver.add_argument(
        "--dim",
        metavar="NAME=SIZE",
        action="append",
        default=[],
        help="size of a named dynamic dim for verification (default 3)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--report",
        metavar="FILE.json",
        help="write per-pass applied counts, skip reasons and verification to FILE",
    )
    add_logging_args(parser)
    return parser


def _add_option(group, option) -> None:
    """Offers a pass's declared option (`rewrite.base.PassOption`) as a flag."""
    if option.type is bool:
        group.add_argument(option.flag, dest=option.name, action="store_true", help=option.help)
        return
    group.add_argument(
        option.flag,
        dest=option.name,
        type=option.type,
        choices=option.choices,
        default=option.default,
        metavar=None if option.choices else option.name.upper(),
        help=option.help,
    )


def _dims(items: list[str]) -> dict[str, int]:
    from trtforge.analyzer.errors import UserError

    dims = {}
    for item in items:
        name, _, size = item.partition("=")
        if not name or not size.isdigit():
            raise UserError(f"--dim '{item}' is not NAME=SIZE", "e.g. --dim seq=16")
        dims[name] = int(size)
    return dims


def _say(args, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr)


def _auto_passes(loaded, target, known: list[str]):
    from trtforge.analyzer.api import check

    report = check(loaded, target=target, backend="static")
    wanted = []
    fixes = [f for node in report.unsupported_nodes for f in node.fixes]
    fixes += [f for finding in report.graph_findings for f in finding.fixes]  # advice
    for fix in fixes:
        if fix.kind == "rewrite" and fix.name in known and fix.name not in wanted:
            wanted.append(fix.name)
    return report, wanted


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args)
    from pathlib import Path

    from trtforge.analyzer.errors import UserError
    from trtforge.analyzer.loading import load_external_weights, load_model
    from trtforge.analyzer.rewrite.base import RewriteOptions
    from trtforge.analyzer.rewrite.manager import rewrite_model
    from trtforge.analyzer.rewrite.registry import all_passes, declared_options, get_pass
    from trtforge.analyzer.rewrite.writer import check_destination, write_model, write_text
    from trtforge.analyzer.targets import default_target, parse_target

    passes = list(args.passes or [])
    if not passes and not args.auto:
        raise UserError(
            "no rewrite pass selected",
            f"name passes ({', '.join('--' + p for p in all_passes())}) or use --auto",
        )
    dims = _dims(args.dim)
    target = parse_target(args.target) if args.target else default_target()
    loaded = load_model(args.model)
    out_path = Path(args.output)
    check_destination(out_path, loaded)
    report: dict = {
        "schema": REPORT_SCHEMA,
        "input": {"path": loaded.display_path, "sha256": loaded.sha256},
        "output": str(out_path),
        "target": target.id,
    }
    before = None
    if args.auto:
        before, suggested = _auto_passes(loaded, target, all_passes())
        passes += [p for p in suggested if p not in passes]
        _say(
            args,
            f"trt-check ({target.id}, static): {len(before.unsupported_nodes)} unsupported "
            f"node(s); passes suggested: {', '.join(suggested) or 'none'}",
        )
    options = RewriteOptions(target, **{name: getattr(args, name) for name in declared_options()})
    source = loaded.proto
    if loaded.external and any(get_pass(p).reads_weights for p in passes):
        source = load_external_weights(loaded)  # a pass decodes weights (dequantize-nbits)
    result = rewrite_model(source, passes, options)
    report.update(result.to_json())
    for pid, stats in result.passes.items():
        line = f"{pid}: applied {stats.applied}"
        if stats.skips:
            line += f", skipped {len(stats.skips)}"
        _say(args, line)
        for skip in stats.skips:
            _say(args, f"  skipped {skip.anchor}: {skip.reason}")
    for note in result.notes:
        _say(args, f"note: {note}")

    if args.verify and result.changed:
        import onnx

        from trtforge.analyzer.rewrite.verify import verify

        original = load_external_weights(loaded)
        rewritten = onnx.ModelProto()
        rewritten.CopyFrom(result.proto)
        if loaded.external and loaded.folder is not None:
            from onnx.external_data_helper import load_external_data_for_model

            load_external_data_for_model(rewritten, str(loaded.folder))
        verification = verify(
            original, rewritten, seed=args.seed, dims=dims, allowances=result.allowances
        )
        report["verification"] = verification.to_json()
        if not verification.ok:
            print(
                f"{PROG}: verification failed: {verification.describe_worst()}; "
                f"nothing written to {out_path}",
                file=sys.stderr,
            )
            print(
                "Hint: a pass produced a different result; rerun with fewer passes to find it, "
                "and report it",
                file=sys.stderr,
            )
            if args.report:
                report["written"] = False
                write_text(json.dumps(report, indent=2) + "\n", args.report)
            return EXIT_FINDINGS
        worst = verification.worst
        if worst is not None:
            _say(
                args,
                f"verified: {len(verification.outputs)} output(s) match (largest |diff| "
                f"{max(o.max_abs_diff for o in verification.outputs):.3g})",
            )
    elif not args.verify:
        report["verification"] = None
    write_model(result.proto, out_path, loaded)
    report["written"] = True
    _say(args, f"wrote {out_path}" + ("" if result.changed else " (graph unchanged)"))
    if args.auto:
        from trtforge.analyzer.api import check

        after = check(load_model(out_path), target=target, backend="static")
        report["auto"] = {
            "passes": passes,
            "unsupported_before": len(before.unsupported_nodes),
            "unsupported_after": len(after.unsupported_nodes),
        }
        _say(
            args,
            f"unsupported nodes ({target.id}, static): {len(before.unsupported_nodes)} "
            f"before → {len(after.unsupported_nodes)} after",
        )
    if args.report:
        write_text(json.dumps(report, indent=2) + "\n", args.report)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
