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


#: names quoted in messages are cut to this many characters (a hostile model may hold names
#: of megabytes; one line of error must stay one line).
MAX_NAME = 80


def short(name: str | bytes, limit: int = MAX_NAME) -> str:
    """A name fit for a one-line message: decoded, control characters escaped, cut."""
    if type(name) is str and len(name) <= limit and name.isprintable():
        return name  # (the common case, in short: 100,000 node names)
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    if len(name) > 4 * limit:
        name = name[: 4 * limit]
    text = name if name.isprintable() else name.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 1] + "…"
