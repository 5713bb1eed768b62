"""Rewrite an ONNX model so TensorRT accepts it (graph passes, verified with onnxruntime).

Choose passes by flag (e.g. --fuse-layernorm --decompose-contrib), or --auto to apply the passes
trt-check suggests for the target. The rewritten model is run against the original in
onnxruntime on random inputs and written only if every output matches within its dtype's
tolerance (--no-verify skips that). IN is never modified; OUT is written atomically.

Exit status: 0 written, 1 verification failed (nothing written), 2 bad input or arguments,
3 internal error.
"""

from __future__ import annotations

import argparse
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

PROG = "trt-rewrite"


def build_parser():
    from trtforge.analyzer.rewrite.registry import all_passes, declared_options, get_pass

    parser = make_parser(PROG, __doc__)
    parser.add_argument("model", metavar="IN", help="the ONNX model to rewrite (never modified)")
    parser.add_argument(
        "-o", "--output", metavar="OUT", required=True, help="where to write the rewritten model"
    )
    passes = parser.add_argument_group("passes (run in this order until nothing changes)")
    option_flags = {o.flag for o in declared_options().values()}
    for pid in all_passes():
        if f"--{pid}" in option_flags:
            continue  # the pass's own option (--upgrade-opset N) selects it
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
    add_dim_arg(ver, "inputs generated for verification")
    ver.add_argument(
        "--inputs",
        metavar="FILE.npz",
        action="append",
        default=[],
        help="verify on these inputs (arrays named after the model inputs; repeatable; a folder "
        "of .npz files) instead of generated ones",
    )
    ver.add_argument(
        "--data-loader-script",
        metavar="FILE.py[:FUNC]",
        help="verify on the feed dicts a Polygraphy-style data-loader function yields "
        "(default function load_data)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--split",
        action="store_true",
        help="after the passes, write the largest part the target parses to OUT and the rest "
        "as host models (onnxruntime) beside it, with a JSON manifest of how they connect; "
        "verified by running the composition against the original",
    )
    out.add_argument(
        "--report",
        metavar="FILE.json",
        help="write per-pass applied counts, skip reasons and verification to FILE",
    )
    add_logging_args(parser)
    return parser


def _add_option(group, option) -> None:
    """Offers a pass's declared option (`rewrite.base.PassOption`) as a flag. Left out of the
    namespace unless given (`SUPPRESS`), so the API knows which choices the user made."""
    if option.type is bool:
        group.add_argument(
            option.flag,
            dest=option.name,
            action="store_true",
            default=argparse.SUPPRESS,
            help=option.help,
        )
        return
    group.add_argument(
        option.flag,
        dest=option.name,
        type=option.type,
        choices=option.choices,
        default=argparse.SUPPRESS,
        metavar=None if option.choices else option.name.upper(),
        help=option.help,
    )


def _say(args, text: str) -> None:
    from trtforge.analyzer.safe_text import printable

    if not args.quiet:
        print(printable(text), file=sys.stderr)


def _main(argv: Sequence[str] | None) -> int:
    """Parses the arguments and calls `rewrite.api.rewrite_file`, which does the work."""
    args = build_parser().parse_args(argv)
    configure_logging(args)
    from trtforge.analyzer.rewrite.api import rewrite_file
    from trtforge.analyzer.rewrite.registry import declared_options
    from trtforge.analyzer.safe_text import printable

    result = rewrite_file(
        args.model,
        args.output,
        args.passes or (),
        auto=args.auto,
        split=args.split,
        target=args.target,
        options={name: getattr(args, name) for name in declared_options() if hasattr(args, name)},
        verify=args.verify,
        seed=args.seed,
        dims=parse_dim_sizes(args.dim),
        inputs=args.inputs,
        data_loader_script=args.data_loader_script,
        report_path=args.report,
        progress=lambda line: _say(args, line),
    )
    if result.failure is not None:
        print(f"{PROG}: {printable(result.failure)}", file=sys.stderr)
        if result.failure_hint:
            print(f"Hint: {result.failure_hint}", file=sys.stderr)
        return EXIT_FINDINGS
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(PROG, _main, argv)


def console_main() -> NoReturn:
    """The `trt-rewrite` command (`cli._args.run_console`)."""
    from trtforge.analyzer.cli._args import run_console

    run_console(main)


if __name__ == "__main__":
    console_main()
