"""Exit codes and error handling shared by the plugin CLIs.

Minimal stand-in for ``trtforge.analyzer.errors.UserError`` and ``trtforge.analyzer.cli._args``
(not on main when this was written); to be consolidated with them. Same contract:
0 ok, 1 findings/failure, 2 bad input or usage (one line + ``Hint:``, no traceback),
3 internal error (traceback and a request to report it).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
REPORT_URL = "https://github.com/trtforge/trtforge/issues"

try:  # prefer the shared one once it exists
    from trtforge.analyzer.errors import UserError  # type: ignore[import-not-found]
except Exception:  # noqa: BLE001

    class UserError(Exception):  # type: ignore[no-redef]
        """Bad input or arguments (exit 2): one clear line and a hint."""

        def __init__(self, message: str, hint: str = "") -> None:
            super().__init__(message)
            self.message = message
            self.hint = hint


class Failure(Exception):
    """The tool ran and the answer is 'no' (exit 1): message and hint."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _say(err) -> None:
    print(f"error: {err.message}", file=sys.stderr)
    if getattr(err, "hint", ""):
        print(f"Hint: {err.hint}", file=sys.stderr)


def run(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a CLI body, mapping exceptions onto the shared exit codes."""
    try:
        return main(argv)
    except UserError as e:
        _say(e)
        return EXIT_USAGE
    except Failure as e:
        _say(e)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        print(
            f"error: internal error in trtforge. Please report it with the traceback above: {REPORT_URL}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def setup_logging(verbose: int) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
