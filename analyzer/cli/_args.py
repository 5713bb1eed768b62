"""Argument groups and the error handling shared by every trtforge CLI.

Exit codes (docs/trt-check.md; the same for every CLI): 0 ok, 1 findings, 2 bad input or usage
(one line + hint, no traceback), 3 internal error (traceback and a request to report it).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
ISSUES_URL = "https://github.com/trtforge/trtforge/issues"


class _Parser(argparse.ArgumentParser):
    """argparse that ends usage errors with a hint line and exit status 2."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse API
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nHint: run '{self.prog} -h'\n")


def make_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser whose description is the command module's docstring."""
    summary, _, rest = (doc or "").strip().partition("\n")
    return _Parser(
        prog=prog,
        description=summary,
        epilog=rest.strip() or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_target_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("target")
    group.add_argument(
        "--target",
        metavar="T",
        help="TensorRT release line: trt-10, trt-11, rtx-1 (optionally with minor, e.g. "
        "trt-10.16); default: the installed TensorRT's, else trt-11",
    )


def add_dim_arg(group, what: str) -> None:
    """`--dim NAME=SIZE` (repeatable): the size of a named dynamic dim of generated inputs."""
    group.add_argument(
        "--dim",
        metavar="NAME=SIZE",
        action="append",
        default=[],
        help=f"size of a named dynamic dim of the {what} (default 3; repeatable)",
    )


def parse_dim_sizes(items: Sequence[str]) -> dict[str, int]:
    """`--dim` values as name -> size; a malformed one or a size below 1 is a UserError."""
    from trtforge.analyzer.errors import UserError, short

    dims: dict[str, int] = {}
    for item in items:
        name, _, size = item.partition("=")
        if not name or not size.isdigit() or int(size) < 1:
            raise UserError(f"--dim '{short(item)}' is not NAME=SIZE", "e.g. --dim seq=16")
        dims[name] = int(size)
    return dims


def add_logging_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("logging")
    group.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    group.add_argument("-q", "--quiet", action="store_true", help="only errors")


def configure_logging(args: argparse.Namespace) -> None:
    level = logging.WARNING
    if getattr(args, "quiet", False):
        level = logging.ERROR
    elif getattr(args, "verbose", 0) >= 2:
        level = logging.DEBUG
    elif getattr(args, "verbose", 0) == 1:
        level = logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def run_cli(prog: str, body: Callable[[Sequence[str] | None], int], argv=None) -> int:
    """Runs a CLI body, mapping errors to the shared exit codes.

    SIGINT, SIGTERM and SIGHUP stop the command with 128 + the signal's number and nothing
    written; once the outputs are being renamed into place they are deferred, and the command
    ends with its real status (`trtforge.analyzer.outputs`). Run as the command (`argv` None:
    sys.argv), they stay deferred until the process exits.
    """
    from trtforge.analyzer.errors import UserError
    from trtforge.analyzer.outputs import Interrupted, signal_guard, signal_name
    from trtforge.analyzer.safe_text import printable

    with signal_guard(keep=argv is None) as signals:
        try:
            code = body(argv)
        except UserError as err:
            print(f"{prog}: error: {_one_line(printable(err.message))}", file=sys.stderr)
            if err.hint:
                print(f"Hint: {_one_line(printable(err.hint))}", file=sys.stderr)
            code = EXIT_USAGE
        except KeyboardInterrupt as err:
            signum = err.signum if isinstance(err, Interrupted) else 2
            print(f"{prog}: interrupted ({signal_name(signum)}); nothing written", file=sys.stderr)
            return 128 + signum
        except BrokenPipeError:
            code = EXIT_OK
        except Exception:  # noqa: BLE001 - the last line of defence
            traceback.print_exc()
            print(
                f"{prog}: internal error. This is a bug in trtforge; please report it with the "
                f"traceback above at {ISSUES_URL}",
                file=sys.stderr,
            )
            code = EXIT_INTERNAL
        if signals.pending is not None:
            print(
                f"{prog}: {signal_name(signals.pending)} came after the outputs were written; "
                "they are complete",
                file=sys.stderr,
            )
    return code


#: the longest error line printed (a message quoting a hostile name must stay one short line).
MAX_ERROR_LINE = 1000


def _one_line(text: str) -> str:
    text = " ".join(text[: 4 * MAX_ERROR_LINE].splitlines())
    return text if len(text) <= MAX_ERROR_LINE else text[: MAX_ERROR_LINE - 1] + "…"


def run_console(main: Callable[[], int]) -> NoReturn:
    """A console command: `main()`, then a quick exit (`exit_now`). Python's own teardown
    puts the default signal handlers back while the process still runs, so a SIGINT or
    SIGTERM arriving then would kill a run whose outputs are complete (found by fuzzing);
    `exit_now` leaves with the command's status, the handlers still deferring."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Ends a console command with `code` without tearing the interpreter down.

    Everything the command wrote is flushed first; what is skipped is freeing, one by one,
    the objects still alive (a 100,000-node model holds millions: ~0.1 s), and atexit
    handlers (trtforge registers none). Only for console entry points, never for `main()`
    called from Python.
    """
    try:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # a reader that went away (`| head`): nothing more to say
        pass
    except Exception:  # noqa: BLE001 - a failing flush: exit the ordinary way
        sys.exit(code)
    os._exit(code)
