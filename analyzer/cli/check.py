"""Check whether TensorRT's ONNX parser accepts every node of a model.

For each node: supported, unsupported (why, and which trt-rewrite pass or plugin fixes it), or
runs through a plugin. Works without a GPU or TensorRT (the static knowledge base); with
tensorrt or tensorrt_rtx installed, --backend auto asks the real parser.

Several files or folders (searched recursively for *.onnx) are checked in one process and
summarised in one table, one row per model; a file that cannot be loaded is an error row.

Exit status: 0 every node supported, 1 some node is not, 2 bad input or arguments,
3 internal error. With several models: the worst of the models' statuses (a bad file: 2).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from trtforge.analyzer.cli._args import (
    EXIT_OK,
    add_logging_args,
    add_target_args,
    configure_logging,
    exit_now,
    make_parser,
    run_cli,
)

FORMATS = ("text", "json", "sarif", "markdown")
#: the module whose parser `--backend auto` uses, per target family (`targets._CANDIDATES`,
#: not imported here: the prefetch starts before the command's imports)
PARSER_MODULES = {"trt": ("tensorrt",), "rtx": ("tensorrt_rtx",)}


def build_parser():
    from trtforge.analyzer.selection import explain_selection
    from trtforge.analyzer.targets import installed_target

    parser = make_parser("trt-check", __doc__)
    plain_help = parser.format_help

    def format_help() -> str:
        """The help, ending with what runs here by default: computed only when shown
        (reading the installed packages' metadata costs a check ~0.02-0.05 s)."""
        chosen = "parser" if installed_target(find_module=False) else "static"
        here = explain_selection("auto", None, chosen)
        parser.epilog = f"{epilog}\n\nWithout --target/--backend, here: {here}."
        return plain_help()

    epilog = parser.epilog
    parser.format_help = format_help
    parser.add_argument(
        "model",
        metavar="MODEL",
        nargs="+",
        help="the ONNX model; or several, or folders (searched recursively for *.onnx)",
    )
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

    one_file = len(args.model) == 1 and not os.path.isdir(args.model[0])
    if one_file:
        _prefetch_types(args)
    from trtforge.analyzer import background
    from trtforge.analyzer.api import check
    from trtforge.analyzer.reports import SHOWS_DIGEST, prepare, render, write_report

    background.when_idle(lambda: prepare(args.format, args.output))

    color = args.output is None and sys.stdout.isatty()
    if one_file:
        try:
            report = check(
                args.model[0],
                target=args.target,
                backend=args.backend,
                advice=not args.no_advice,
                shows_digest=args.format in SHOWS_DIGEST,
            )
        finally:
            background.discard_prefetch()
        write_report(render(report, args.format, color=color), args.output)
        return EXIT_OK if args.exit_zero else report.exit_code
    return _check_many(args, color)


def _prefetch_types(args) -> None:
    """Starts inferring a large model's types in a child process while this one imports its
    modules (`background.prefetch`), when the static backend will check it: `--backend
    static`, or `auto` where no TensorRT module of the target's family is installed (`auto`
    picks the parser only for the installed module's own line: `--target trt-10` with only
    `tensorrt_rtx` installed is a static check; where the module is there, finding out
    whether its line is the target's reads package metadata)."""
    if args.backend == "parser":
        return
    if args.backend == "auto":
        import importlib.util

        if any(importlib.util.find_spec(m) is not None for m in _parser_modules(args.target)):
            return
    from trtforge.analyzer import background

    background.prefetch(args.model[0])


def _parser_modules(target: str | None) -> tuple[str, ...]:
    """The TensorRT modules whose parser `--backend auto` could pick for `--target target`:
    the family's (`trt-…`: tensorrt, `rtx-…`: tensorrt_rtx), both for the default target or
    one not spelled as a family."""
    family = (target or "").strip().lower().split("-", 1)[0]
    return PARSER_MODULES.get(family, sum(PARSER_MODULES.values(), ()))


def _check_many(args, color: bool) -> int:
    """Several models in one process: a progress bar on a terminal, then the summary table."""
    from pathlib import Path

    from trtforge.analyzer.api import check, resolve_backend
    from trtforge.analyzer.batch import check_many, collect
    from trtforge.analyzer.reports import SHOWS_DIGEST, write_report
    from trtforge.analyzer.reports.many_report import render
    from trtforge.analyzer.targets import parse_target

    target = parse_target(args.target) if args.target else None
    resolve_backend(args.backend, target)  # bad --backend/--target: exit 2 before any model
    paths = collect(args.model)

    def one(path: str):
        return check(
            path,
            target=target,
            backend=args.backend,
            advice=not args.no_advice,
            shows_digest=args.format in SHOWS_DIGEST,
        )

    if sys.stderr.isatty() and not args.quiet:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("checking", total=len(paths))

            def advance(path: str) -> None:
                bar.update(task, description=f"checking {Path(path).name}")

            batch = check_many(paths, one, progress=advance)
            bar.update(task, completed=len(paths))
    else:
        batch = check_many(paths, one)
    write_report(render(batch, args.format, color=color), args.output)
    code = batch.exit_code
    return EXIT_OK if args.exit_zero and code == 1 else code


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli("trt-check", _main, argv)


def console_main() -> NoReturn:
    """The `trt-check` command: `main()` without the cyclic garbage collector (a one-shot
    command whose objects are freed by reference counting; each collection would walk every
    live protobuf wrapper of a large model), then a quick exit (`exit_now`).

    trt-check does no linear algebra: unless the user chose otherwise, numpy's OpenBLAS (which
    `import onnx` loads) starts no thread pool, whose threads spin at start-up on every core
    (~0.1 s of CPU, a third of a small model's whole check). The setting must precede the
    first `import numpy`, hence here; child processes (the parser backend's worker) inherit it.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    gc.disable()
    exit_now(main())


if __name__ == "__main__":
    console_main()
