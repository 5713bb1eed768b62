"""Check whether TensorRT's ONNX parser accepts every node of a model.

For each node: supported, unsupported (why, and which trt-rewrite pass or plugin fixes it), or
runs through a plugin. Works without a GPU or TensorRT (the static knowledge base); with
tensorrt or tensorrt_rtx installed, --backend auto asks the real parser.

Exit status: 0 every node supported, 1 some node is not, 2 bad input or arguments,
3 internal error.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from typing import NoReturn

from trtforge.analyzer.cli._args import (
    EXIT_OK,
    add_logging_args,
    add_model_arg,
    add_target_args,
    configure_logging,
    exit_now,
    make_parser,
    run_cli,
)

FORMATS = ("text", "json", "sarif", "markdown")


def build_parser():
    from trtforge.analyzer.selection import explain_selection
    from trtforge.analyzer.targets import installed_target

    parser = make_parser("trt-check", __doc__)
    chosen = "parser" if installed_target(find_module=False) else "static"
    here = explain_selection("auto", None, chosen)
    parser.epilog = f"{parser.epilog}\n\nWithout --target/--backend, here: {here}."
    add_model_arg(parser)
    add_target_args(parser)
    parser.add_argument(
        "--backend",
        choices=("auto", "static", "parser"),
        default="auto",
        help="static: the knowledge base; parser: the installed TensorRT's ONNX parser; "
        "auto (default): parser when installed for the target, else static "
        "(what runs here: see the end of this help)",
    )
    out = parser.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default="text", help="report format")
    out.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    parser.add_argument(
        "--no-advice",
        action="store_true",
        help="skip the performance advice (fusions trt-rewrite would make)",
    )
    out.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even when some node is unsupported (report-only runs, e.g. a CI step that "
        "uploads SARIF); bad input still exits 2",
    )
    add_logging_args(parser)
    return parser


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args)
    from trtforge.analyzer.api import check
    from trtforge.analyzer.reports import render, write_report

    report = check(args.model, target=args.target, backend=args.backend, advice=not args.no_advice)
    text = render(report, args.format, color=args.output is None and sys.stdout.isatty())
    write_report(text, args.output)
    return EXIT_OK if args.exit_zero else report.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli("trt-check", _main, argv)


def console_main() -> NoReturn:
    """The `trt-check` command: `main()` without the cyclic garbage collector (a one-shot
    command whose objects are freed by reference counting; each collection would walk every
    live protobuf wrapper of a large model), then a quick exit (`exit_now`)."""
    gc.disable()
    exit_now(main())


if __name__ == "__main__":
    console_main()
