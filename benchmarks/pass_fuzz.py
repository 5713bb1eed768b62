"""Semantic fuzzing of the rewrite passes: every model the rewrite tests build, mutated in
ways that keep it a valid model but may break a pass's assumptions, rewritten and verified.

`fuzz.py` abuses the commands with damaged files; almost none of its models reach a pass. Here
the models are valid and run in onnxruntime, and what is judged is the pass itself: a pass
must rewrite a pattern only where the result computes what the original did, and skip (with
a reason) everything else. The mutations are the ones real exports differ by: a constant
with extra leading 1 dims or another value, an attribute (axis, axes, keepdims, perm) set
otherwise, an input dim changed, an intermediate made a graph output, the operands of a
binary node swapped, an op replaced by a sibling (Add/Sub, Mul/Div, ReduceMean/ReduceSum…).

A case is bad when, on a mutated model onnxruntime loads:
- a pass or verification raises anything but `UserError` (trt-rewrite's exit 3);
- the original runs on generated inputs and the rewritten model fails `onnx.checker` (full
  check), or computes something else: trt-rewrite then writes nothing, and under `--auto`
  one such match loses every other fix.

    python benchmarks/pass_fuzz.py collect /tmp/pf/corpus      # the rewrite tests' models
    python benchmarks/pass_fuzz.py run /tmp/pf/corpus -n 3000 --seed 1 --results pf.json

`collect` runs `tests/rewrite` with this module as a pytest plugin that saves every model
handed to the rewrite manager, with the passes it was run with.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import random
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# --- collect -------------------------------------------------------------------------------


def pytest_configure(config) -> None:  # a pytest plugin hook (`-p pass_fuzz`)
    """Saves every model the rewrite manager is given, with its pass list."""
    out = os.environ.get("PASS_FUZZ_CORPUS")
    if not out:
        return
    from trtforge.analyzer.rewrite import manager

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    real = manager._rewrite_model  # noqa: SLF001

    def recording(session, pass_ids, options):
        try:
            external = any(
                t.data_location == TensorProto.EXTERNAL for t in session.proto.graph.initializer
            )
            data = b"" if external else session.proto.SerializeToString()
            if 0 < len(data) < 4 << 20:
                digest = hashlib.sha256(data).hexdigest()[:16]
                (folder / f"{digest}.onnx").write_bytes(data)
                meta = {"passes": list(pass_ids), "target": str(options.target)}
                (folder / f"{digest}.json").write_text(json.dumps(meta))
        except Exception:  # noqa: BLE001 - recording never fails a test
            pass
        return real(session, pass_ids, options)

    manager._rewrite_model = recording  # noqa: SLF001


def collect(out: Path) -> None:
    env = dict(os.environ, PASS_FUZZ_CORPUS=str(out), PYTHONPATH=str(HERE))
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "pass_fuzz", "-p", "no:cacheprovider"]
        + ["--deselect", "tests/rewrite/test_genai_cli.py", str(ROOT / "tests" / "rewrite")],
        env=env,
        cwd=ROOT,
        check=False,
    )
    print(f"{len(list(out.glob('*.onnx')))} models in {out}")


# --- mutations -----------------------------------------------------------------------------

FLOAT_TYPES = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE)
SIBLINGS = [
    ("Add", "Sub"),
    ("Mul", "Div"),
    ("ReduceMean", "ReduceSum"),
    ("ReduceMean", "ReduceMax"),
    ("Sqrt", "Reciprocal"),
    ("Erf", "Tanh"),
    ("Relu", "Sigmoid"),
    ("MatMul", "Mul"),
]
BINARY = {"Add", "Sub", "Mul", "Div", "Pow", "MatMul", "Max", "Min"}
INT_ATTRS = ("axis", "axes", "keepdims", "perm", "transA", "transB", "to", "blocksize", "k")


def _small_float(t: TensorProto) -> bool:
    return t.data_type in FLOAT_TYPES and int(np.prod(t.dims)) <= 4096


def _constants(model: onnx.ModelProto) -> list[tuple[str, object]]:
    """(kind, holder) of each small float constant: initializers and Constant values."""
    found: list[tuple[str, object]] = [
        ("init", t) for t in model.graph.initializer if _small_float(t)
    ]
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and _small_float(attr.t):
                    found.append(("const", attr.t))
    return found


def _replace(t: TensorProto, values: np.ndarray, keep_type: bool = True) -> None:
    """`t` holding `values` under its name (cast to its element type with `keep_type`)."""
    if keep_type:
        values = values.astype(helper.tensor_dtype_to_np_dtype(t.data_type))
    name = t.name
    t.CopyFrom(numpy_helper.from_array(values))
    t.name = name


def m_widen_constant(model, rng) -> str | None:
    choices = _constants(model)
    if not choices:
        return None
    _, t = rng.choice(choices)
    values = numpy_helper.to_array(t)
    extra = rng.randint(1, 3)
    _replace(t, values.reshape((1,) * extra + values.shape))
    return f"constant '{t.name}' {list(values.shape)} -> {[1] * extra + list(values.shape)}"


def m_squeeze_constant(model, rng) -> str | None:
    choices = [c for c in _constants(model) if any(d == 1 for d in c[1].dims)]
    if not choices:
        return None
    _, t = rng.choice(choices)
    values = numpy_helper.to_array(t)
    _replace(t, values.reshape([d for d in values.shape if d != 1]))
    return f"constant '{t.name}' squeezed from {list(values.shape)}"


def m_constant_value(model, rng) -> str | None:
    choices = _constants(model)
    if not choices:
        return None
    _, t = rng.choice(choices)
    values = numpy_helper.to_array(t).astype(np.float64)
    how = rng.choice(["scale", "shift", "negate", "zero", "one"])
    if how == "scale":
        values = values * rng.choice([1.001, 1.1, 0.5, 2.0, 10.0])
    elif how == "shift":
        values = values + rng.choice([1e-3, 0.1, 1.0])
    elif how == "negate":
        values = -values
    elif how == "zero":
        values = np.zeros_like(values)
    else:
        values = np.ones_like(values)
    _replace(t, values)
    return f"constant '{t.name}' {how}"


def m_int_attr(model, rng) -> str | None:
    choices = [
        (n, a)
        for n in model.graph.node
        for a in n.attribute
        if a.name in INT_ATTRS and a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS)
    ]
    if not choices:
        return None
    node, attr = rng.choice(choices)
    if attr.type == onnx.AttributeProto.INT:
        old = attr.i
        attr.i = (
            1 - attr.i
            if attr.name in ("keepdims", "transA", "transB")
            else attr.i + rng.choice([-2, -1, 1, 2])
        )
        return f"{node.op_type} {attr.name} {old} -> {attr.i}"
    old = list(attr.ints)
    if attr.name == "perm" and len(old) > 1:
        new = old[:]
        rng.shuffle(new)
    elif old and rng.random() < 0.5:
        new = old[:-1] if len(old) > 1 else [old[0] - 1]
    else:
        new = old + [rng.choice([-1, -2, 0, 1])]
    del attr.ints[:]
    attr.ints.extend(new)
    return f"{node.op_type} {attr.name} {old} -> {new}"


def m_input_dim(model, rng) -> str | None:
    choices = [
        (i, d)
        for i in model.graph.input
        if i.type.HasField("tensor_type")
        for d in i.type.tensor_type.shape.dim
    ]
    if not choices:
        return None
    inp, dim = rng.choice(choices)
    old = dim.dim_value if dim.HasField("dim_value") else dim.dim_param
    if rng.random() < 0.3:
        dim.dim_param = rng.choice(["N", "dyn"])
    else:
        dim.dim_value = rng.choice([1, 2, 3, 5, 8])
    new = dim.dim_value if dim.HasField("dim_value") else dim.dim_param
    return f"input '{inp.name}' dim {old} -> {new}"


def m_escape(model, rng) -> str | None:
    outs = {o.name for o in model.graph.output}
    choices = [o for n in model.graph.node for o in n.output if o and o not in outs]
    if not choices:
        return None
    name = rng.choice(choices)
    model.graph.output.append(helper.ValueInfoProto(name=name))
    return f"'{name}' made a graph output"


def m_swap(model, rng) -> str | None:
    choices = [n for n in model.graph.node if n.op_type in BINARY and len(n.input) == 2]
    if not choices:
        return None
    node = rng.choice(choices)
    a, b = node.input
    node.input[0], node.input[1] = b, a
    return f"{node.op_type} '{node.name or node.output[0]}' operands swapped"


def m_sibling(model, rng) -> str | None:
    pairs = {}
    for a, b in SIBLINGS:
        pairs.setdefault(a, []).append(b)
        pairs.setdefault(b, []).append(a)
    choices = [n for n in model.graph.node if n.op_type in pairs and n.domain in ("", "ai.onnx")]
    if not choices:
        return None
    node = rng.choice(choices)
    old = node.op_type
    node.op_type = rng.choice(pairs[old])
    return f"{old} '{node.name or node.output[0]}' -> {node.op_type}"


def m_opset(model, rng) -> str | None:
    """Another ai.onnx opset (exports come at 11-13 and at 17-21), by onnx's converter."""
    from onnx import version_converter

    current = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if not current or model.functions:
        return None
    target = rng.choice([o for o in (11, 13, 14, 17, 18, 20) if o != current])
    try:
        converted = version_converter.convert_version(model, target)
    except Exception:  # noqa: BLE001
        return None
    model.CopyFrom(converted)
    return f"opset {current} -> {target}"


def m_float16(model, rng) -> str | None:
    """Every FLOAT tensor as FLOAT16 (fp16 exports), Casts to FLOAT included."""
    f32, f16 = TensorProto.FLOAT, TensorProto.FLOAT16

    def tensor(t):
        if t.data_type == f32:
            _replace(t, numpy_helper.to_array(t).astype(np.float16), keep_type=False)

    def value_info(v):
        if v.type.HasField("tensor_type") and v.type.tensor_type.elem_type == f32:
            v.type.tensor_type.elem_type = f16

    def graph(g):
        for t in g.initializer:
            tensor(t)
        for v in [*g.input, *g.output, *g.value_info]:
            value_info(v)
        for node in g.node:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    tensor(attr.t)
                elif attr.type == onnx.AttributeProto.GRAPH:
                    graph(attr.g)
                elif attr.name == "to" and attr.i == f32:
                    attr.i = f16
                elif attr.name == "value_float" or attr.name == "value_floats":
                    return False
        return True

    if any(t.data_location == TensorProto.EXTERNAL for t in model.graph.initializer):
        return None
    return "float32 -> float16" if graph(model.graph) else None


def m_identity(model, rng) -> str | None:
    """An Identity (or a no-op Cast) between a producer and one of its readers."""
    produced = {o for n in model.graph.node for o in n.output if o}
    choices = [(n, i) for n in model.graph.node for i, x in enumerate(n.input) if x in produced]
    if not choices:
        return None
    node, index = rng.choice(choices)
    name = node.input[index]
    new = f"{name}__copy{rng.randrange(1 << 20)}"
    copy_node = helper.make_node("Identity", [name], [new])
    position = list(model.graph.node).index(node)
    model.graph.node.insert(position, copy_node)
    node.input[index] = new
    return f"Identity before {node.op_type} input {index} ('{name}')"


def m_shuffle(model, rng) -> str | None:
    """Another topological order of the nodes."""
    nodes = list(model.graph.node)
    known = {i.name for i in model.graph.input} | {t.name for t in model.graph.initializer}
    known.add("")
    order, pending = [], nodes[:]
    while pending:
        ready = [n for n in pending if all(x in known for x in n.input)]
        if not ready:
            return None  # reads an outer name (a body) or is not sorted: left
        pick = rng.choice(ready)
        pending.remove(pick)
        order.append(pick)
        known.update(pick.output)
    if order == nodes:
        return None
    del model.graph.node[:]
    model.graph.node.extend(order)
    return "nodes reordered"


MUTATIONS = [
    m_widen_constant,
    m_squeeze_constant,
    m_constant_value,
    m_int_attr,
    m_input_dim,
    m_escape,
    m_swap,
    m_sibling,
    m_opset,
    m_float16,
    m_identity,
    m_shuffle,
]


def mutate(model: onnx.ModelProto, rng: random.Random) -> tuple[onnx.ModelProto, list[str]]:
    out = copy.deepcopy(model)
    done: list[str] = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        what = rng.choice(MUTATIONS)(out, rng)
        if what:
            done.append(what)
    # the declared output types may no longer hold: ONNX's inference declares them again
    del out.graph.value_info[:]
    names = [o.name for o in out.graph.output]
    del out.graph.output[:]
    out.graph.output.extend(onnx.ValueInfoProto(name=name) for name in names)
    try:
        inferred = onnx.shape_inference.infer_shapes(out)
    except Exception:  # noqa: BLE001 - not a model any more; `_valid` says so
        return out, done
    del out.graph.output[:]
    out.graph.output.extend(inferred.graph.output)
    return out, done


# --- running -------------------------------------------------------------------------------


def _valid(model: onnx.ModelProto) -> bool:
    """The mutated model is a model: the full checker passes and onnxruntime loads it (whether
    it runs on generated inputs, verification finds out: "unverifiable")."""
    import onnxruntime as ort

    try:
        onnx.checker.check_model(model, full_check=True)
        options = ort.SessionOptions()
        options.log_severity_level = 4
        ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001
        return False
    return True


def run_case(
    model: onnx.ModelProto, passes: list[str], target: str, options=None
) -> tuple[str, str]:
    """('ok'|'skipped'|bad kind, detail) for one rewrite + verification."""
    from trtforge.analyzer.errors import UserError
    from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
    from trtforge.analyzer.rewrite.verify import verify
    from trtforge.analyzer.targets import parse_target

    try:
        options = options or RewriteOptions(parse_target(target))
        result = rewrite_model(model, passes, options)
    except UserError as err:
        return "user-error", str(err)[:300]
    except Exception:  # noqa: BLE001
        return "crash", traceback.format_exc()[-1500:]
    if not result.changed:
        return "unchanged", ""
    try:  # first: a model onnxruntime cannot run is not a model a pass is judged on
        verification = verify(model, result.proto, allowances=result.allowances)
    except UserError as err:
        return "unverifiable", str(err)[:300]
    except Exception:  # noqa: BLE001
        return "verify-crash", traceback.format_exc()[-1500:]
    try:
        onnx.checker.check_model(result.proto, full_check=True)
    except Exception as err:  # noqa: BLE001
        return "invalid-output", str(err)[:500]
    applied = {k: v.applied for k, v in result.passes.items() if v.applied}
    if not verification.ok and "requantize" in applied and options.requantize_form != "float":
        # as trt-rewrite does: the qdq form's grid may be coarser upstream than the output's
        # allowance says; the exact float form is the fix written then
        options = RewriteOptions(parse_target(target), requantize_form="float")
        return run_case(model, passes, target, options)
    if not verification.ok and not verify(model, model).ok:
        # the original against itself differs: its outputs are undefined (onnxruntime leaves
        # a binary PROBIT classifier's second score column unset), nothing to judge a pass by
        return "nondeterministic", verification.describe_worst()
    if not verification.ok:
        return "verify-failed", f"{verification.describe_worst()} (applied {applied})"
    return "ok", ""


BAD = {"crash", "invalid-output", "verify-failed", "verify-crash"}


def run(corpus: Path, n: int, seed: int, results: Path | None, save: Path | None) -> int:
    from trtforge.analyzer.rewrite.registry import all_passes

    entries = sorted(corpus.glob("*.onnx"))
    if not entries:
        raise SystemExit(f"no models in {corpus}: run `collect` first")
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    bad: list[dict] = []
    start = time.time()
    tried = 0
    everything = all_passes()
    while tried < n:
        path = rng.choice(entries)
        meta = json.loads(path.with_suffix(".json").read_text())
        model = onnx.load(path, load_external_data=False)
        mutated, what = mutate(model, rng)
        if not what or not _valid(mutated):
            counts["invalid-mutation"] = counts.get("invalid-mutation", 0) + 1
            continue
        tried += 1
        passes = meta["passes"] if rng.random() < 0.7 else everything
        target = rng.choice(["trt-10", "rtx-1"])
        kind, detail = run_case(mutated, passes, target)
        counts[kind] = counts.get(kind, 0) + 1
        if kind in BAD:
            case = {
                "index": tried,
                "model": path.name,
                "mutations": what,
                "passes": passes,
                "target": target,
                "kind": kind,
                "detail": detail,
            }
            bad.append(case)
            print(f"[{tried}] {kind}: {path.name} {what} {passes} -> {detail[:300]}", flush=True)
            if save:
                save.mkdir(parents=True, exist_ok=True)
                onnx.save(mutated, save / f"bad{tried}.onnx")
        if tried % 20 == 0:
            print(f"{tried}/{n}, {time.time() - start:.0f} s, {len(bad)} bad", flush=True)
    summary = {"seed": seed, "cases": tried, "seconds": round(time.time() - start, 1)}
    summary["counts"] = counts
    print(json.dumps(summary))
    if results:
        results.write_text(json.dumps({**summary, "bad": bad}, indent=1))
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect", help="save the rewrite tests' models into a folder")
    c.add_argument("out", type=Path)
    r = sub.add_parser("run", help="mutate, rewrite and verify")
    r.add_argument("corpus", type=Path)
    r.add_argument("-n", type=int, default=1000)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--results", type=Path)
    r.add_argument("--save", type=Path, help="save the bad cases' models here")
    args = parser.parse_args()
    if args.cmd == "collect":
        collect(args.out)
        return 0
    from trtforge.analyzer.rewrite.graphutil import graphsurgeon_silenced

    with graphsurgeon_silenced():
        return run(args.corpus, args.n, args.seed, args.results, args.save)


if __name__ == "__main__":
    sys.exit(main())
