"""Targets: the TensorRT release lines whose ONNX-parser behaviour the knowledge base describes.

A target id is `<family>-<major>` or `<family>-<major>.<minor>`; without a minor it means the
newest release of that line the knowledge base knows.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass

from trtforge.analyzer.errors import UserError

#: Newest minor release the knowledge base has facts for, per release line.
NEWEST_MINOR: dict[str, int] = {"trt-10": 16, "trt-11": 4, "rtx-1": 7}
FALLBACK_TARGET = "trt-11"

_TARGET_RE = re.compile(r"^(trt|rtx)-(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True, order=True)
class Target:
    """One TensorRT release a report is made for.

    Attributes:
        family: "trt" (TensorRT) or "rtx" (TensorRT-RTX).
        major: major version, e.g. 10.
        minor: minor version, e.g. 16.
    """

    family: str
    major: int
    minor: int

    @property
    def line(self) -> str:
        """The release line, e.g. `trt-10`."""
        return f"{self.family}-{self.major}"

    @property
    def id(self) -> str:
        """The full id, e.g. `trt-10.16`."""
        return f"{self.line}.{self.minor}"

    @property
    def version(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def is_rtx(self) -> bool:
        return self.family == "rtx"

    def __str__(self) -> str:
        return self.id


def parse_target(text: str | Target) -> Target:
    """Parses a target id such as `trt-10`, `trt-10.16` or `rtx-1`."""
    if isinstance(text, Target):
        return text
    if not isinstance(text, str):  # (the Python API: target=123)
        raise UserError(
            f"target {text!r} is not a target id",
            "give a string such as trt-10, trt-10.16 or rtx-1",
        )
    match = _TARGET_RE.match(text.strip().lower())
    if not match or f"{match[1]}-{match[2]}" not in NEWEST_MINOR:
        known = ", ".join(sorted(NEWEST_MINOR))
        raise UserError(
            f"unknown target '{text}'",
            f"use one of {known}, optionally with a minor version (e.g. trt-10.16)",
        )
    line = f"{match[1]}-{match[2]}"
    newest = NEWEST_MINOR[line]
    minor = int(match[3]) if match[3] is not None else newest
    if minor > newest:
        raise UserError(
            f"target '{text}' is newer than the knowledge base (newest {line}.{newest})",
            f"use {line} for the newest facts, or upgrade trtforge",
        )
    return Target(match[1], int(match[2]), minor)


def _installed_version(
    module: str, distributions: tuple[str, ...], find_module: bool = True
) -> str | None:
    if find_module and importlib.util.find_spec(module) is None:
        return None
    from importlib import metadata  # here: ~0.01-0.04 s to import, most checks never ask

    for dist in distributions:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


_CANDIDATES = (
    ("trt", "tensorrt", ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11")),
    ("rtx", "tensorrt_rtx", ("tensorrt-rtx", "tensorrt_rtx", "tensorrt-rtx-cu13")),
)


def installed_package(find_module: bool = True) -> tuple[str, str] | None:
    """(module, version) of the installed TensorRT (`tensorrt`, else `tensorrt_rtx`), if any.

    With `find_module=False` only package metadata is read (not even the import system is
    asked: `--help` must not look for TensorRT).
    """
    for _, module, dists in _CANDIDATES:
        version = _installed_version(module, dists, find_module)
        if version:
            return module, version
    return None


def installed_target(find_module: bool = True) -> Target | None:
    """The target of the installed TensorRT (`tensorrt`, else `tensorrt_rtx`), if any.

    Reads package metadata only: importing TensorRT is slow and not needed to know its version.
    """
    for family, module, dists in _CANDIDATES:
        version = _installed_version(module, dists, find_module)
        target = target_of(family, version) if version else None
        if target is not None:
            return target
    return None


def target_of(family: str, version: str) -> Target | None:
    """The target of release `version` (e.g. "10.16.0.5") of `family` ("trt" or "rtx"), or
    None when the knowledge base has no such line. Newer minors map to the newest known."""
    parts = [int(p) for p in re.findall(r"\d+", version)[:2]] + [0]
    if not parts or len(parts) < 2:
        return None
    line = f"{family}-{parts[0]}"
    if line not in NEWEST_MINOR:
        return None
    return Target(family, parts[0], min(parts[1], NEWEST_MINOR[line]))


def default_target() -> Target:
    """The installed TensorRT's target, else `trt-11`."""
    return installed_target() or parse_target(FALLBACK_TARGET)
