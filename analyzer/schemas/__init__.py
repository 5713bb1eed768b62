"""JSON Schemas of trtforge's machine-readable outputs (data files, shipped in the wheel)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def check_schema() -> dict:
    """The JSON Schema of `trt-check --format json` (schema id `trtforge.check/1`)."""
    text = resources.files(__name__).joinpath("check.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def check_many_schema() -> dict:
    """The JSON Schema of `trt-check` over several models (schema id `trtforge.check-many/1`);
    each row's `report` follows `check_schema()`."""
    text = resources.files(__name__).joinpath("check-many.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
