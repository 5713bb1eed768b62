"""Names from a model are untrusted text: make them safe to print.

Node, tensor and graph names, op types, domains and file paths come from the model (or the
command line) and may hold anything: escape sequences that recolour or rewrite a terminal,
newlines that forge report lines, bidirectional overrides that reorder what is shown, bytes
that are not UTF-8. `printable` writes every such character as a visible escape (`\\x1b`,
`\\n`, `\\u202e`, `\\udcff`), so one name is always one run of visible characters; ordinary
text, including non-ASCII letters, is kept as it is.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, bidirectional/invisible format characters, line and paragraph
# separators, lone surrogates (undecodable bytes of a path), and the BOM.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """`text` with control, format and undecodable characters written as visible escapes."""
    text = str(text)
    return _UNSAFE.sub(_escape, text)


def text_of(value: str | bytes) -> str:
    """A protobuf string field as text: bytes that are not UTF-8 (protobuf and onnx.checker
    let them through, and protobuf hands them over as bytes) escaped as backslash sequences,
    so that distinct values stay distinct and a user can type them back (`--dims`)."""
    return value if isinstance(value, str) else value.decode("utf-8", "backslashreplace")
