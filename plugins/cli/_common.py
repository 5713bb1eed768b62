"""Exit codes and error handling of the plugin CLIs, on the shared ``trtforge.analyzer.cli._args``.

Same contract for every trtforge CLI: 0 ok, 1 findings/failure, 2 bad input or usage (one line
and a ``Hint:``, no traceback), 3 internal error (traceback and a request to report it). This
module adds :class:`Failure` (exit 1: the tool ran and the answer is no, e.g. a missing plugin).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from trtforge.analyzer.cli._args import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, _Parser, run_cli
from trtforge.analyzer.errors import UserError
from trtforge.analyzer.safe_text import printable

EXIT_FAIL = 1
__all__ = [
    "EXIT_FAIL",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "Failure",
    "Parser",
    "UserError",
    "run",
    "setup_logging",
]

Parser = _Parser  # argparse with a Hint line and exit status 2 on usage errors


class Failure(Exception):
    """The tool ran and the answer is 'no' (exit 1): message and hint."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def run(prog: str, main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a CLI body, mapping exceptions onto the shared exit codes."""

    def body(args):
        try:
            return main(args)
        except Failure as e:
            print(f"{prog}: error: {printable(e.message)}", file=sys.stderr)
            if e.hint:
                print(f"Hint: {printable(e.hint)}", file=sys.stderr)
            return EXIT_FAIL

    return run_cli(prog, body, argv)


def setup_logging(verbose: int) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
