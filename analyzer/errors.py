"""Errors that reach users: one clear line and a hint, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or bad arguments (exit status 2).

    Args:
        message: what is wrong, with what was seen.
        hint: what the user can do next.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"
