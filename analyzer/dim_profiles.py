"""Optimization profiles by dim name: `batch_size=1:1:4,past_sequence_length=0:128:1024`.

A decoder exported for ONNX Runtime (onnxruntime-genai's builder, Optimum) names its dynamic
dims — `batch_size`, `sequence_length`, `past_sequence_length`, `total_sequence_length` — and
uses each on many inputs (input_ids, attention_mask, every layer's past key and value). One
range per name, applied to every input whose shape uses it, is how such a model is described to
TensorRT; per-input `--shapes` would need dozens of consistent flags.

Defaults come from `genai_config.json` beside the model when it is there: the context length
bounds the sequence dims, the past length starts at 0 (an empty KV cache, the first prompt), and
the batch from the search settings (num_beams × num_return_sequences, at least 1), and the KV
cache's head-size dim (`kv_cache_dim`) is fixed to the decoder's head_size.

trt-build resolves the profiles with `resolve()`; trt-check names the command with
`suggest_command()`. Nothing here imports TensorRT.
"""

from __future__ import annotations

import json
import logging
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import onnx

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.outputs import protect
from trtforge.analyzer.safe_text import text_of

log = logging.getLogger("trtforge.dims")

GENAI_CONFIG = "genai_config.json"
INT32_MAX = 2**31 - 1  # TensorRT dimensions are int32

#: the role of a named dim, from its name (genai builder and Optimum spellings)
_ROLES = (
    ("past", re.compile(r"^past_(sequence|seq)(_length|_len)?$", re.I)),
    # the cache of onnxruntime-genai's sliding-window layers (Gemma 2/3, gpt-oss): at most
    # the window's length
    ("window", re.compile(r"^past_sliding(_window)?(_length|_len)?$", re.I)),
    ("total", re.compile(r"^(total_(sequence|seq)(_length|_len)?|past_sequence_length ?\+ ?1)$")),
    ("sequence", re.compile(r"^(sequence_length|seq_len|seq_length|sequence)$", re.I)),
    ("batch", re.compile(r"^(batch_size|batch)$", re.I)),
    ("head", re.compile(r"^(kv_cache_dim|head_size|head_dim)$", re.I)),
)
#: a role the KV-cache hint looks for
KV_ROLES = frozenset({"past", "total", "window"})


@dataclass(frozen=True)
class DimRange:
    """min ≤ opt ≤ max of one named dim, and where the range came from."""

    min: int
    opt: int
    max: int
    source: str = "--dims"

    def text(self) -> str:
        return f"{self.min}:{self.opt}:{self.max}"

    def to_json(self) -> dict:
        return {"min": self.min, "opt": self.opt, "max": self.max, "source": self.source}


def role(name: str) -> str | None:
    """ "batch", "sequence", "past", "total", or None for a dim name of no known role."""
    for kind, pattern in _ROLES:
        if pattern.match(name.strip()):
            return kind
    return None


def parse_dims(items: list[str]) -> dict[str, DimRange]:
    """Parses `--dims` values: comma-separated NAME=MIN:OPT:MAX (or NAME=N for a fixed size).

    Raises:
        UserError: a malformed item, a name given twice, or not min ≤ opt ≤ max.
    """
    out: dict[str, DimRange] = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, sep, spec = part.rpartition("=")
            values = spec.split(":")
            if (
                not sep
                or not name.strip()
                or len(values) not in (1, 3)
                or not all(v.isdigit() for v in values)
            ):
                raise UserError(
                    f"--dims '{part}': expected NAME=MIN:OPT:MAX (or NAME=SIZE)",
                    "write e.g. --dims batch_size=1:1:4,sequence_length=1:128:512",
                )
            name = name.strip()
            low, opt, high = (int(values[0]),) * 3 if len(values) == 1 else map(int, values)
            if not low <= opt <= high:
                raise UserError(
                    f"--dims {name}={spec}: min <= opt <= max does not hold",
                    f"order the three sizes, e.g. {name}={min(low, opt, high)}:"
                    f"{sorted((low, opt, high))[1]}:{max(low, opt, high)}",
                )
            if high > INT32_MAX:
                raise UserError(
                    f"--dims {name}={spec}: {high} exceeds TensorRT's dimension limit "
                    f"({INT32_MAX})",
                    "give a smaller maximum",
                )
            if name in out:
                raise UserError(
                    f"--dims names '{name}' twice", f"give one range for {name} (MIN:OPT:MAX)"
                )
            out[name] = DimRange(low, opt, high)
    return out


def named_dims(
    model: onnx.ModelProto, initializers: Iterable[str] | None = None
) -> dict[str, list[tuple[str, int]]]:
    """Each dim_param of the graph inputs → the (input, axis) pairs using it (inputs that are
    initializers left out; `initializers`: their names, if at hand: `LoadedModel.
    initializer_heads`, read without a protobuf wrapper each)."""
    inputs = [v for v in model.graph.input if v.type.HasField("tensor_type")]
    if not inputs:
        return {}
    if initializers is None:
        initializers = (t.name for t in model.graph.initializer)
    if not isinstance(initializers, (set, frozenset)):
        initializers = set(initializers)
    found: dict[str, list[tuple[str, int]]] = {}
    # (axis, name) of each named dim of a type, read once per distinct type: a generator's
    # model of 50,000 inputs has one or two
    params_of: dict[bytes, list[tuple[int, str]]] = {}
    for value in inputs:
        if value.name in initializers:
            continue
        raw = value.type.SerializeToString()
        params = params_of.get(raw)
        if params is None:
            params = params_of[raw] = [
                (axis, text_of(dim.dim_param))
                for axis, dim in enumerate(value.type.tensor_type.shape.dim)
                if dim.HasField("dim_param") and dim.dim_param
            ]
        for axis, param in params:
            found.setdefault(param, []).append((value.name, axis))
    return found


#: the largest genai_config.json read (onnxruntime-genai writes a few kilobytes)
MAX_GENAI_CONFIG_BYTES = 1 << 20


def genai_config(model_path: Path | str | None) -> dict | None:
    """genai_config.json beside the model (`genai_config_in` its folder), or None."""
    return None if model_path is None else genai_config_in(Path(model_path).parent)


def genai_config_in(folder: Path) -> dict | None:
    """genai_config.json in `folder`, as a JSON object, or None: absent, or not one to read
    (logged). The model's folder is as untrusted as the model: a FIFO or a device of that
    name would block or never end, a link may lead out of the folder, and a file of more
    than MAX_GENAI_CONFIG_BYTES is no such config; none of them is read."""
    path = folder / GENAI_CONFIG
    try:
        info = path.stat()  # (follows a link: its target is what would be read)
        protect(path)  # read by this command: no output may replace it
        inside = folder.resolve() in path.resolve().parents
    except (OSError, RuntimeError, ValueError):  # absent, a link loop
        return None
    if not stat.S_ISREG(info.st_mode) or not inside or info.st_size > MAX_GENAI_CONFIG_BYTES:
        log.warning(
            "%s is not a regular file of at most %d bytes in the model's folder; not read",
            path,
            MAX_GENAI_CONFIG_BYTES,
        )
        return None
    try:
        data = json.loads(path.read_bytes()[:MAX_GENAI_CONFIG_BYTES])
    except (OSError, ValueError, RecursionError) as err:
        log.warning("%s is not readable JSON (%s); not used", path, err)
        return None
    return data if isinstance(data, dict) else None


def genai_defaults(config: dict, names: list[str]) -> dict[str, DimRange]:
    """Default ranges for the named dims whose role is known, from a genai_config.json."""
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    search = config.get("search") if isinstance(config.get("search"), dict) else {}
    length = positive_count(model.get("context_length")) or positive_count(search.get("max_length"))
    if length is None:
        return {}
    beams = positive_count(search.get("num_beams")) or 1
    returns = positive_count(search.get("num_return_sequences")) or 1
    batch = positive_count(search.get("batch_size")) or beams * returns
    source = GENAI_CONFIG
    decoder = model.get("decoder") if isinstance(model.get("decoder"), dict) else {}
    head = positive_count(decoder.get("head_size"))
    # the opt point is one real step: past + new tokens = total, within the context length
    # (a mask or rotary table of `length` rows is sliced at total; TensorRT checks the shapes
    # at opt, so a total opt other than past + sequence fails the build of some exports)
    seq_opt = min(128, max(1, length // 2))
    past_opt = min(128, length - seq_opt)
    by_role = {
        "batch": DimRange(1, 1, batch, source),
        "sequence": DimRange(1, seq_opt, length, source),
        "past": DimRange(0, past_opt, length - 1, source),
        "total": DimRange(1, seq_opt + past_opt, length, source),
    }
    if head is not None:
        by_role["head"] = DimRange(head, head, head, source)
    # a sliding-window layer's cache holds at most the window (the past's range where the
    # config gives no window: a range that holds the real one)
    sliding = (
        decoder.get("sliding_window") if isinstance(decoder.get("sliding_window"), dict) else {}
    )
    window = positive_count(sliding.get("window_size"))
    by_role["window"] = (
        DimRange(0, min(past_opt, window), window, source) if window else by_role["past"]
    )
    return {n: by_role[role(n)] for n in names if role(n) in by_role}


def positive_count(value) -> int | None:
    """`value` if it is a positive integer a TensorRT dimension holds (a dim, a head count
    read from a config: at most INT32_MAX), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= INT32_MAX:
        return value
    return None


@dataclass(frozen=True)
class Resolved:
    """Per-input (min, opt, max) shapes and the named ranges they came from."""

    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]
    dims: dict[str, DimRange]


def resolve(
    model: onnx.ModelProto,
    model_path: Path | str | None,
    dims: dict[str, DimRange],
    shapes: dict[str, tuple[tuple[int, ...], ...]],
) -> Resolved:
    """The profile of every input with named dims that `--shapes` does not give.

    `--dims` ranges win over genai_config.json defaults; an input given by `--shapes` keeps
    those shapes, which must agree with any `--dims` range of its named dims. With neither
    `--dims` nor defaults, inputs are left to `--shapes` (and its check) alone.

    Raises:
        UserError: a `--dims` name no input uses, a conflict with `--shapes`, or (where
            `--dims` or defaults are in use) an input whose named dim has no range.
    """
    used = named_dims(model)
    unknown = sorted(set(dims) - set(used))
    if unknown:
        raise UserError(
            f"--dims names dim(s) {', '.join(unknown)} that no model input uses",
            f"the named dims of the inputs are: {', '.join(sorted(used)) or 'none'}",
        )
    config = genai_config(model_path)
    ranges = dict(genai_defaults(config, list(used)) if config else {})
    ranges.update(dims)
    inputs = {v.name: v for v in model.graph.input}
    out: dict[str, tuple[tuple[int, ...], ...]] = {}
    applied: dict[str, DimRange] = {}
    for name, uses in used.items():
        for input_name, axis in uses:
            if input_name in shapes:
                _check_agrees(name, dims.get(name), input_name, axis, shapes[input_name])
    unbound: dict[str, list[str]] = {}
    for input_name in dict.fromkeys(i for uses in used.values() for i, _ in uses):
        if input_name in shapes:
            continue
        dim_protos = inputs[input_name].type.tensor_type.shape.dim
        low, opt, high = [], [], []
        for dim in dim_protos:
            if dim.HasField("dim_param") and dim.dim_param:
                name = text_of(dim.dim_param)
                r = ranges.get(name)
                if r is None:
                    unbound.setdefault(name, []).append(input_name)
                    continue
                applied[name] = r
                low.append(r.min), opt.append(r.opt), high.append(r.max)
            elif dim.HasField("dim_value"):
                low.append(dim.dim_value), opt.append(dim.dim_value), high.append(dim.dim_value)
            else:  # an anonymous dynamic dim: only --shapes can give it
                unbound.setdefault("?", []).append(input_name)
        if not any(input_name in names for names in unbound.values()):
            out[input_name] = (tuple(low), tuple(opt), tuple(high))
    if unbound and (dims or ranges):
        first = next(iter(unbound.values()))[0]
        shape = [_dim_text(d) for d in inputs[first].type.tensor_type.shape.dim]
        named = [n for n in unbound if n != "?"]
        hint = (
            "add --dims " + ",".join(f"{n}=MIN:OPT:MAX" for n in named)
            if named
            else f"add --shapes {first}:MIN,OPT,MAX"
        )
        if named and config is None:
            hint += f" (or put onnxruntime-genai's {GENAI_CONFIG} beside the model for defaults)"
        raise UserError(
            f"input '{first}' has dynamic shape {shape} and no range for "
            + (", ".join(named) if named else "an unnamed dim"),
            hint,
        )
    return Resolved(out, applied)


def _dim_text(dim) -> str | int:
    if dim.HasField("dim_value"):
        return dim.dim_value
    return text_of(dim.dim_param) or "?"


def _check_agrees(name, given: DimRange | None, input_name, axis, shape) -> None:
    if given is None:
        return
    seen = tuple(s[axis] if axis < len(s) else None for s in shape)
    if seen != (given.min, given.opt, given.max):
        raise UserError(
            f"--shapes {input_name} gives {name} (axis {axis}) as "
            f"{':'.join(map(str, seen))} but --dims gives {given.text()}",
            f"drop --shapes {input_name} (--dims covers it) or make the two agree",
        )


def suggest_command(
    model: onnx.ModelProto,
    model_path: Path | str | None,
    initializers: Iterable[str] | None = None,
) -> str | None:
    """A `trt-build … --dims …` line for a model with KV-cache-style named dims, or None.

    Ranges come from genai_config.json when present, else from generic defaults (context 2048)
    marked as such in the text. `initializers`: as `named_dims`'.
    """
    used = named_dims(model, initializers)
    if not any(role(n) in KV_ROLES for n in used):
        return None
    config = genai_config(model_path) or {"model": {"context_length": 2048}}
    ranges = genai_defaults(config, list(used))
    parts = [f"{n}={ranges[n].text()}" if n in ranges else f"{n}=MIN:OPT:MAX" for n in used]
    path = str(model_path) if model_path else "MODEL.onnx"
    return f"trt-build {path} -o model.engine --dims " + ",".join(parts)


def build_profile_advice(
    proto: onnx.ModelProto,
    model_path: Path | str | None,
    initializers: Iterable[str] | None = None,
):
    """A graph-level warning `advice/build-dims` naming the `trt-build --dims` command for a
    model with KV-cache dims (None when it has none): TensorRT needs a range for each, with an
    empty cache (past length 0) at the minimum. `initializers`: as `named_dims`'."""
    from trtforge.analyzer.findings import Finding

    if initializers is not None:
        initializers = set(initializers)  # read twice below
    command = suggest_command(proto, model_path, initializers)
    if command is None:
        return None
    used = named_dims(proto, initializers)
    kv = sorted(n for n in used if role(n) in KV_ROLES)
    source = GENAI_CONFIG if genai_config(model_path) else "generic defaults (context 2048)"
    return Finding(
        code="advice/build-dims",
        message=(
            f"the inputs use KV-cache dims ({', '.join(kv)}) and {len(used)} named dim(s) in "
            "all; an engine needs one optimization profile range per name, past length 0 at "
            f"the minimum (ranges below from {source})"
        ),
        hint=command,
        source="trtforge dim profiles (trt-build --dims)",
        severity="warning",
    )
