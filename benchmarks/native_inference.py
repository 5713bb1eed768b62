"""Native shape inference (`trtforge.analyzer._infer`) against ONNX's, over folders of models.

For every .onnx file under the folders given: the bytes the lean path infers (weights left
out) and the file's own bytes; where the native inference models the graph, its types must
equal one strict run of ONNX's, and where ONNX's run refuses the graph, the native one must
decline. Prints counts, ONNX's and the native time, and every difference (exit 1 if any).

    python benchmarks/native_inference.py FOLDER... [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from trtforge.analyzer import _infer, _speculation


def _onnx(serialized: bytes) -> bytes | None:
    try:
        return _speculation.cpp_shape_inference().infer_shapes(serialized, False, True, True)
    except Exception:  # noqa: BLE001 - refused
        return None


def compare(serialized: bytes) -> tuple[str, float, float]:
    """("modelled" | "declined" | "refused" | "DIFFERS" | "MODELLED A REFUSED GRAPH",
    native seconds, ONNX seconds)."""
    start = time.perf_counter()
    native = _infer.inferred(serialized)
    native_s = time.perf_counter() - start
    start = time.perf_counter()
    expected = _onnx(serialized)
    onnx_s = time.perf_counter() - start
    if expected is None:
        return ("MODELLED A REFUSED GRAPH" if native is not None else "refused"), native_s, onnx_s
    if native is None:
        return "declined", native_s, onnx_s
    return ("modelled" if _entries(native) == _entries(expected) else "DIFFERS"), native_s, onnx_s


def _entries(inferred: bytes):
    """The op types and the type table's entries in order, the If branches' included
    (`_speculation.inferred_types`)."""
    read = _speculation.inferred_types(inferred)
    return None if read is None else (read[0], list(read[1].items()))


def _onnx_files(folder: Path, max_depth: int = 12) -> list[Path]:
    """The .onnx files under `folder`, `max_depth` folders deep at most, without following
    symbolic links to folders (hostile corpora hold loops and very deep nests)."""
    found, pending = [], [(folder, 0)]
    while pending:
        top, depth = pending.pop()
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and depth < max_depth:
                pending.append((Path(entry.path), depth + 1))
            elif entry.name.endswith(".onnx"):
                found.append(Path(entry.path))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    counts: dict[str, int] = {}
    bad = []
    native_total = onnx_total = 0.0
    for folder in args.folders:
        found = _onnx_files(folder)
        for path in sorted(found):
            if not path.is_file():
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            try:
                lean = bytes(_speculation._lean_input(data)[0])
            except Exception:  # noqa: BLE001 - the native reader declines it
                lean = data
            for kind, serialized in (("lean", lean), ("file", data)):
                if kind == "file" and serialized == lean:
                    continue
                outcome, native_s, onnx_s = compare(serialized)
                counts[outcome] = counts.get(outcome, 0) + 1
                if outcome == "modelled":
                    native_total += native_s
                    onnx_total += onnx_s
                if outcome.isupper():
                    bad.append((str(path), kind, outcome))
                    print(f"{outcome}: {path} ({kind})", flush=True)
    print(json.dumps(counts, indent=1))
    print(f"modelled graphs: native {native_total:.2f} s, ONNX {onnx_total:.2f} s")
    if args.json:
        args.json.write_text(json.dumps({"counts": counts, "bad": bad}, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
