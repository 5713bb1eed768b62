"""Fixability: do real exports that TensorRT-RTX rejects build after `trt-rewrite --auto`?

Two steps, as a user runs the tools:

    pip install torch==2.13.0 transformers onnxscript   # the generators only; CPU torch
    python benchmarks/fixability.py build DIR [--category C ...]
    python benchmarks/fixability.py run DIR [-j N] [--category C ...] [--json out.json]
        [--markdown docs/fixability.md] [--merge earlier.json ...]
    python benchmarks/fixability.py report a.json b.json ... --markdown docs/fixability.md

`report` writes the Markdown from the --json files of runs (made on different machines or by
different people, e.g. the detection category apart), keeping everything below the analysis
mark of an existing report. Generated corpora belong outside git (/tmp or .dev/).

`build` writes models into `DIR/<category>/`, each generator with random weights and no
download (a generator whose packages are missing is skipped with a message):

* `onnx-wheel`: the models the onnx wheel ships (`onnx/backend/test/data/{light,real,
  pytorch-converted,pytorch-operator,simple}`);
* `nfnet`: NF-Net-style CNNs (weight-standardized convolutions, exported as BatchNormalization
  in training mode over the constant weights; ScaledStdConv2d and the functional form);
* `torchscript-old`: TorchScript exports at opsets 11-13 of BERT (with token_type_ids), GPT-2,
  ViT and DistilBERT;
* `transformers-ort`: onnxruntime-optimized (fused contrib ops) and onnxruntime-quantized
  transformers (from `benchmarks/holdout_hf.py`);
* `detection`, `ml`: torchvision detection models and scikit-learn/LightGBM/XGBoost pipelines,
  from the generator scripts of those areas when present (`benchmarks/detection_models.py`,
  `benchmarks/ml_models.py`).

`run` takes every model through: `trt-check --target rtx-1` (static knowledge base: rejected
or not) → `trt-rewrite --auto --target rtx-1` (verification on) → `trt-build
--compute-capability 89` on the result (TensorRT-RTX's own parser, trtforge's plugins
registered, then its AOT builder — no GPU needed; a parser refusal and a builder failure are
told apart), and
writes per category: models, rejected before, parsing after, building after, verified — plus
every model that does not get through, with the tools' own one-line reason. Models whose
inputs or outputs are string tensors, maps or sequences are counted apart: no TensorRT engine
has those. A model that does not parse after `--auto` is tried again with `--auto --split`
(does the TensorRT part build?). Where trt-rewrite refuses because the ORIGINAL model does not
run in onnxruntime (so nothing can be compared), it is rewritten with `--no-verify`, as the
tool's hint says, and reported as not verified, with onnxruntime's reason.
A sidecar `MODEL.shapes.json` (`{"input": [dims…]}`) gives build shapes for dynamic inputs;
otherwise a dynamic dim builds as 1 (first dim) or 16.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = "rtx-1"
TIMEOUT_S = 900

# ---------------------------------------------------------------------------------------------
# generators


def gen_onnx_wheel(out: Path) -> None:
    """Every model the onnx wheel ships outside the per-node tests."""
    import onnx

    data = Path(onnx.__file__).parent / "backend" / "test" / "data"
    for group in ("light", "real", "pytorch-converted", "pytorch-operator", "simple"):
        for model in sorted((data / group).rglob("*.onnx")):
            stem = model.parent.name if model.name == "model.onnx" else model.stem
            name = stem if stem.startswith(group) else f"{group}_{stem}"
            shutil.copy(model, out / f"{name}.onnx")


def gen_nfnet(out: Path) -> None:
    """NF-Net-style CNNs: weight standardization as timm writes it (F.batch_norm in training
    mode over the reshaped weight, so the exporter emits BatchNormalization training_mode=1)."""
    import torch
    import torch.nn.functional as F

    class StdConv(torch.nn.Conv2d):
        def __init__(self, *a, gain: bool = True, **k):
            super().__init__(*a, **k)
            self.gain = torch.nn.Parameter(torch.ones(self.out_channels, 1, 1, 1)) if gain else None

        def forward(self, x):
            w = F.batch_norm(
                self.weight.reshape(1, self.out_channels, -1),
                None,
                None,
                weight=(self.gain.reshape(-1) if self.gain is not None else None),
                training=True,
                momentum=0.0,
                eps=1e-5,
            ).reshape_as(self.weight)
            return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)

    class Block(torch.nn.Module):
        def __init__(self, c: int, gain: bool):
            super().__init__()
            self.c1 = StdConv(c, c, 3, padding=1, gain=gain)
            self.c2 = StdConv(c, c, 1, gain=gain)

        def forward(self, x):
            return x + 0.2 * self.c2(F.gelu(self.c1(F.relu(x))))

    class NFNet(torch.nn.Module):
        def __init__(self, gain: bool):
            super().__init__()
            self.stem = StdConv(3, 16, 3, stride=2, padding=1, gain=gain)
            self.blocks = torch.nn.Sequential(Block(16, gain), Block(16, gain))
            self.head = torch.nn.Linear(16, 10)

        def forward(self, x):
            y = self.blocks(self.stem(x))
            return self.head(y.mean((2, 3)))

    torch.manual_seed(0)
    x = torch.randn(1, 3, 32, 32)
    for gain in (True, False):
        model = NFNet(gain).eval()
        for opset in (11, 13, 17):
            name = f"nfnet_{'gain' if gain else 'nogain'}_opset{opset}"
            torch.onnx.export(
                model,
                (x,),
                str(out / f"{name}.onnx"),
                opset_version=opset,
                dynamo=False,
                input_names=["image"],
                output_names=["logits"],
            )


def gen_torchscript_old(out: Path) -> None:
    """TorchScript exports at opsets 11-13 (ONNX shape inference loses the LayerNorm input's
    shape there), including BERT with token_type_ids (a type vocabulary of 2)."""
    import torch
    import transformers as tf

    torch.manual_seed(0)
    seq = 8
    ids = torch.randint(0, 100, (1, seq))
    mask = torch.ones(1, seq, dtype=torch.int64)
    types = torch.zeros(1, seq, dtype=torch.int64)
    eager = {"attn_implementation": "eager"}  # SDPA has no symbolic below opset 14
    text = dict(vocab_size=128, num_hidden_layers=2, num_attention_heads=2, **eager)
    models = {
        "bert": (
            tf.BertModel(tf.BertConfig(hidden_size=32, intermediate_size=64, **text)),
            (ids, mask, types),
            ["input_ids", "attention_mask", "token_type_ids"],
        ),
        "distilbert": (
            tf.DistilBertModel(
                tf.DistilBertConfig(
                    vocab_size=128, dim=32, hidden_dim=64, n_layers=2, n_heads=2, **eager
                )
            ),
            (ids, mask),
            ["input_ids", "attention_mask"],
        ),
        "gpt2": (
            tf.GPT2Model(tf.GPT2Config(vocab_size=128, n_embd=32, n_layer=2, n_head=2, **eager)),
            (ids,),
            ["input_ids"],
        ),
        "vit": (
            tf.ViTModel(
                tf.ViTConfig(
                    image_size=32,
                    patch_size=8,
                    hidden_size=32,
                    num_hidden_layers=2,
                    num_attention_heads=2,
                    intermediate_size=64,
                    **eager,
                )
            ),
            (torch.randn(1, 3, 32, 32),),
            ["pixel_values"],
        ),
    }

    class ByName(torch.nn.Module):
        """Calls the model with keyword arguments and returns its last hidden state."""

        def __init__(self, model, names):
            super().__init__()
            self.model, self.names = model, names

        def forward(self, *inputs):
            return self.model(**dict(zip(self.names, inputs, strict=True)))[0]

    for name, (model, inputs, names) in models.items():
        wrapped = ByName(model.eval(), names)
        for opset in (11, 12, 13):
            torch.onnx.export(
                wrapped,
                inputs,
                str(out / f"{name}_opset{opset}.onnx"),
                opset_version=opset,
                dynamo=False,
                input_names=names,
                dynamic_axes={n: {0: "batch"} for n in names},
            )


def gen_transformers_ort(out: Path) -> None:
    """onnxruntime-optimized and -quantized transformers (benchmarks/holdout_hf.py)."""
    holdout = _load_script("holdout_hf")
    holdout.export(str(out))
    holdout.ort_optimized(str(out))
    holdout.quantized(str(out))
    # keep only what onnxruntime changed: the plain exports are the agreement corpus's business
    changed = ("_ort", "_dyn_", "_qdq", "_qop")
    for path in out.glob("*.onnx"):
        if not any(s in path.stem for s in changed):
            path.unlink()
            Path(f"{path}.data").unlink(missing_ok=True)


def gen_ml(out: Path) -> None:
    """scikit-learn, LightGBM and XGBoost models converted with skl2onnx/onnxmltools
    (benchmarks/ml_models.py)."""
    ml = _load_script("ml_models")
    for name, model, classes in ml.sklearn_models():
        ml.convert_sklearn(name, model, classes, out)
    ml.onehot_pipeline(out)
    ml.boosters(out)


def _from_script(script: str, function: str = "build") -> Callable[[Path], None]:
    def gen(out: Path) -> None:
        getattr(_load_script(script), function)(out)

    gen.__doc__ = f"models written by benchmarks/{script}.py ({function}(out))"
    return gen


def _load_script(name: str):
    path = HERE / f"{name}.py"
    if not path.is_file():
        raise ModuleNotFoundError(f"benchmarks/{name}.py is not in this checkout")
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


GENERATORS: dict[str, Callable[[Path], None]] = {
    "onnx-wheel": gen_onnx_wheel,
    "nfnet": gen_nfnet,
    "torchscript-old": gen_torchscript_old,
    "transformers-ort": gen_transformers_ort,
    "detection": _from_script("detection_models"),
    "ml": gen_ml,
}


def build(root: Path, categories: list[str]) -> None:
    for cat in categories:
        out = root / cat
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        try:
            GENERATORS[cat](out)
        except ModuleNotFoundError as exc:
            print(f"{cat}: skipped ({exc})", file=sys.stderr)
            continue
        n = len(list(out.glob("*.onnx")))
        print(f"{cat}: {n} models in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# the pipeline


@dataclass
class Outcome:
    category: str
    model: str
    #: inputs/outputs no TensorRT engine has: string tensors, maps, sequences (counted apart)
    strings: bool = False
    io: str = ""  # what those are, e.g. "output output_probability: seq(map(int64,float))"
    rejected_before: bool | None = None
    unsupported_before: int | None = None
    rewrite_exit: int | None = None
    verified: str = ""  # "yes", "no: <why>", "" (not rewritten)
    parses_after: bool | None = None
    unsupported_after: int | None = None
    builds_after: bool | None = None
    reason: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    passes: list[str] = field(default_factory=list)  # passes that changed something
    #: `--auto --split` where the model does not parse after `--auto`: "builds",
    #: "parses, no build: …", "no: …" ("" not tried)
    split: str = ""
    host_nodes: list[str] = field(default_factory=list)  # ops the split left to onnxruntime

    @classmethod
    def from_json(cls, record: dict) -> Outcome:
        """An outcome from a --json file, also one written by an older or newer version of
        this script (unknown keys dropped, missing ones defaulted)."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in record.items() if k in known})


def _tool(name: str) -> list[str]:
    exe = Path(sys.executable).parent / name
    return [str(exe)] if exe.exists() else [name]


def _run(cmd: list[str], timeout: int = TIMEOUT_S) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"timed out after {timeout} s")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith(("error", "trt-"))]
    return (errors or lines or [""])[-1][:300]


def _check(model: Path) -> tuple[int | None, str]:
    """The nodes that do not build by trt-check's knowledge base (static: one pass, no
    per-node parser re-parsing; it agrees with TensorRT-RTX's parser on the agreement
    corpus): the unsupported ones and those served by a plugin this install has not built —
    what its verdict counts (`supported` is false; a graph error with no such node counts
    one)."""
    proc = _run(
        [
            *_tool("trt-check"),
            str(model),
            "--backend",
            "static",
            "--target",
            TARGET,
            "--format",
            "json",
            "--no-advice",
        ]
    )
    if proc.returncode not in (0, 1):
        return None, _last_line(proc.stderr or proc.stdout)
    report = json.loads(proc.stdout)
    failing = sum(
        n["status"] == "unsupported"
        or (n["status"] == "plugin" and not (n.get("plugin") or {}).get("available", False))
        for n in report["nodes"]
    )
    return failing or int(not report["supported"]), ""


def _non_tensor_io(model: Path) -> str:
    """The model's inputs/outputs that no TensorRT engine can have (string tensors, maps,
    sequences, optionals), described; "" when there are none."""
    import onnx

    m = onnx.load(str(model), load_external_data=False)
    found = []
    for kind, values in (("input", m.graph.input), ("output", m.graph.output)):
        for v in values:
            text = _type_text(v.type)
            if "string" in text or not v.type.HasField("tensor_type"):
                found.append(f"{kind} {v.name}: {text}")
    return "; ".join(found)


def _type_text(t) -> str:
    import onnx

    kind = t.WhichOneof("value")
    if kind == "tensor_type":
        return onnx.TensorProto.DataType.Name(t.tensor_type.elem_type).lower()
    if kind == "sequence_type":
        return f"seq({_type_text(t.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({_type_text(t.optional_type.elem_type)})"
    if kind == "map_type":
        key = onnx.TensorProto.DataType.Name(t.map_type.key_type).lower()
        return f"map({key},{_type_text(t.map_type.value_type)})"
    return str(kind)


def _build_shapes(model: Path, original: Path, report: Path | None = None) -> list[str]:
    """--shapes for `model`'s dynamic inputs: from the original's sidecar, else the shapes
    verification ran the original with (the rewrite's report: sizes the model takes, e.g. a
    waveform long enough for its convolutions), else 1 for a first dim and 16 for others."""
    import onnx

    side = original.with_suffix(".shapes.json")
    given = json.loads(side.read_text()) if side.is_file() else {}
    verified: dict = {}
    try:
        ver = json.loads(report.read_text()).get("verification") if report else None
        verified = (ver or {}).get("input_shapes") or {}
    except (OSError, ValueError):
        pass
    m = onnx.load(str(model), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    args = []
    for inp in m.graph.input:
        if inp.name in inits or not inp.type.HasField("tensor_type"):
            continue
        dims = inp.type.tensor_type.shape.dim
        if inp.name in given:
            shape = given[inp.name]
        elif all(d.HasField("dim_value") for d in dims):
            continue
        elif len(verified.get(inp.name, [])) == len(dims):
            shape = verified[inp.name]
        else:
            shape = [
                d.dim_value if d.HasField("dim_value") else (1 if i == 0 else 16)
                for i, d in enumerate(dims)
            ]
        s = "x".join(str(v) for v in shape) or "1"
        args += ["--shapes", f"{inp.name}:{s},{s},{s}"]
    return args


def _rewrite(model: Path, out: Path, report: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [*_tool("trt-rewrite"), str(model), "-o", str(out), "--auto", "--target", TARGET]
    return _run([*cmd, *extra, "--report", str(report), "-q"])


def _verification(report: Path) -> tuple[str, list[str]]:
    """What the rewrite's --report says of verification, and the passes that changed
    something."""
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        return "yes", []
    passes = [p for p, st in data.get("passes", {}).items() if st.get("applied")]
    ver = data.get("verification")
    if ver is None:
        return "not needed (graph unchanged)", passes
    if not ver.get("ok", False):
        return "no", passes
    mode = ver.get("mode", "model")
    return ("yes" if mode == "model" else f"yes ({mode})"), passes


def _original_does_not_run(proc: subprocess.CompletedProcess) -> str:
    """Why verification was impossible when trt-rewrite refused because the ORIGINAL model
    does not run in onnxruntime (an invalid export, a kernel onnxruntime lacks), else ""."""
    text = proc.stderr or ""
    if proc.returncode != 2 or "ORIGINAL model does not run" not in text:
        return ""
    detail = re.search(r"\[ONNXRuntimeError\] : \d+ : \w+ : (.*)", text)
    what = detail.group(1) if detail else _last_line(text)
    what = re.split(r"\)?; (other dynamic|spatial) dims", what)[0]  # the first candidate's
    what = re.sub(r"^(This is an invalid model\. |Load model from \S+ failed:)", "", what)
    return f"the original model does not run in onnxruntime ({what.strip()[:200]})"


def _trt_build(
    target: Path, shapes_from: Path, engine: Path, report: Path | None = None
) -> tuple[bool, bool, str]:
    """TensorRT-RTX's parser (trtforge's plugins registered) and its AOT builder for SM89:
    (parses, builds, the tool's one-line reason)."""
    cmd = [*_tool("trt-build"), str(target), "-o", str(engine), "--compute-capability", "89"]
    proc = _run([*cmd, *_build_shapes(target, shapes_from, report)])
    message = _last_line(proc.stderr or proc.stdout)
    builds = proc.returncode == 0
    parses = builds or (proc.returncode == 1 and "parser refused" not in message)
    if parses and not builds and "builder" not in message:
        # refused before the parser ran (plugin kernels not built, …): ask the parser itself
        parses = _parser_accepts(target)
    engine.unlink(missing_ok=True)
    Path(f"{engine}.json").unlink(missing_ok=True)
    return parses, builds, "" if builds else message


def _parser_accepts(model: Path) -> bool:
    """Whether TensorRT-RTX's parser takes every node (`trt-check --backend parser`)."""
    proc = _run(
        [*_tool("trt-check"), str(model), "--backend", "parser", "--target", TARGET, "--no-advice"]
    )
    return proc.returncode == 0


def process(category: str, model: Path, work: Path) -> Outcome:
    t0 = time.perf_counter()
    res = Outcome(category, model.name)
    try:
        res.io = _non_tensor_io(model)
        res.strings = bool(res.io)
    except Exception as exc:  # the benchmark reports, it does not stop
        res.reason = f"not loadable: {exc}"[:300]
        return res
    before, why = _check(model)
    if before is None:
        res.reason = f"trt-check: {why}"
        return res
    res.unsupported_before = before
    res.rejected_before = before > 0
    if not res.rejected_before:
        res.seconds = time.perf_counter() - t0
        return res  # accepted as it is: counted, not rewritten or built
    stem = work / f"{category}__{model.stem}"
    out, report = Path(f"{stem}.trt.onnx"), Path(f"{stem}.report.json")
    proc = _rewrite(model, out, report)
    res.rewrite_exit = proc.returncode
    unverifiable = _original_does_not_run(proc)
    if unverifiable:
        # what the hint says to do: the original cannot be compared, so write it unverified
        proc = _rewrite(model, out, report, "--no-verify")
        res.rewrite_exit = proc.returncode
    if proc.returncode != 0:
        res.verified = f"no: {_last_line(proc.stderr or proc.stdout)}"
        res.reason = f"trt-rewrite exit {proc.returncode}"
    else:
        res.verified, res.passes = _verification(report)
        if unverifiable:
            res.verified = f"no (written with --no-verify): {unverifiable}"
        res.unsupported_after, _ = _check(out)
        # the real parser and builder: a parser refusal and a builder failure are told apart
        res.parses_after, res.builds_after, message = _trt_build(
            out, model, Path(f"{stem}.engine"), report
        )
        if message:
            res.reason = f"trt-build: {message}"
    if not res.parses_after and proc.returncode in (0, 1):
        _split(res, model, stem)
    res.seconds = time.perf_counter() - t0
    return res


def _split(res: Outcome, model: Path, stem: Path) -> None:
    """What is left after --auto: `--auto --split` writes the largest part TensorRT parses
    (its ops leave to onnxruntime host models); does that part build?"""
    out, report = Path(f"{stem}.split.trt.onnx"), Path(f"{stem}.split.report.json")
    proc = _rewrite(model, out, report, "--split")
    if proc.returncode != 0:
        res.split = f"no: {_last_line(proc.stderr or proc.stdout)}"
        return
    try:
        manifest = json.loads(report.read_text()).get("split", {})
    except (OSError, ValueError):
        manifest = {}
    res.host_nodes = sorted(set(manifest.get("host_nodes", [])))
    if not any(s.get("runtime") == "tensorrt" for s in manifest.get("stages", [])):
        res.split = "no: nothing for TensorRT"
        return
    parses, builds, message = _trt_build(out, model, Path(f"{stem}.split.engine"))
    res.split = (
        "builds" if builds else (f"parses, no build: {message}" if parses else f"no: {message}")
    )


def run(root: Path, jobs: int, categories: list[str] | None = None) -> list[Outcome]:
    work = root / "_work"
    work.mkdir(exist_ok=True)
    tasks = [
        (cat.name, model)
        for cat in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "_work")
        if not categories or cat.name in categories
        for model in sorted(cat.glob("*.onnx"))
    ]
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda t: process(t[0], t[1], work), tasks))
    return results


#: everything below this line of an existing report is kept when the report is regenerated
ANALYSIS_MARK = "<!-- analysis: kept when the report is regenerated -->"


def machine() -> dict:
    """Where and with what a run happened (recorded in its --json file)."""
    import platform

    versions = {}
    for module in ("tensorrt_rtx", "onnxruntime", "onnx", "onnx_graphsurgeon"):
        try:
            versions[module] = importlib.import_module(module).__version__
        except Exception:  # noqa: BLE001 - a missing package is recorded as such
            versions[module] = "not installed"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "gpu": "none (AOT build for SM89 needs none)",
        "python": platform.python_version(),
        "versions": versions,
    }


def load_results(path: Path) -> tuple[dict | None, list[Outcome]]:
    """A --json file: {"meta": ..., "outcomes": [...]} (or the bare list older runs wrote)."""
    data = json.loads(path.read_text())
    if isinstance(data, list):
        return None, [Outcome.from_json(r) for r in data]
    return data.get("meta"), [Outcome.from_json(r) for r in data.get("outcomes", [])]


def _cell(text: str) -> str:
    text = re.sub(r"\b(trt-\w+): \1:", r"\1:", text)  # the tool names itself once
    return text.replace("|", "\\|").replace("\n", " ")


def _summary_rows(results: list[Outcome]) -> tuple[list[str], list[int]]:
    cats = sorted({r.category for r in results})
    lines, total = [], [0] * 8
    for cat in [*cats, None]:
        rs = [r for r in results if cat is None or r.category == cat]
        rej = [r for r in rs if r.rejected_before]
        tensor_io = [r for r in rej if not r.strings]
        row = [
            len(rs),
            len(rej),
            len(rej) - len(tensor_io),
            len(tensor_io),
            sum(bool(r.parses_after) for r in tensor_io),
            sum(bool(r.builds_after) for r in tensor_io),
            sum(r.verified.startswith("yes") for r in tensor_io),
            sum(r.split == "builds" for r in rej if not r.parses_after),
        ]
        name = f"`{cat}`" if cat else "**all**"
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
        if cat is None:
            total = row
    return lines, total


def markdown(runs: list[tuple[str, dict | None]], results: list[Outcome], keep: str = "") -> str:
    """The report: summary per category, how it was run, every rejected model, and what does
    not get through; `keep` (the analysis of an earlier report) is appended as it is."""
    rows, total = _summary_rows(results)
    lines = [
        "# Fixability: rejected real exports after `trt-rewrite --auto`",
        "",
        "Generated by `benchmarks/fixability.py` (its docstring says how). Each model, all with",
        f"random weights and nothing downloaded: `trt-check --backend static --target {TARGET}`",
        "(rejected or not) → `trt-rewrite --auto` with verification on (onnxruntime, original",
        "against rewritten) → `trt-build --compute-capability 89`: TensorRT-RTX's own parser with",
        "trtforge's plugins registered, then its ahead-of-time builder for SM89 (no GPU needed).",
        "A model that still does not parse is tried once more with `--auto --split` (the largest",
        "part TensorRT parses, the rest as onnxruntime host models).",
        "",
        "| category | models | rejected before | non-tensor I/O | rejected, tensor I/O "
        "| parse after `--auto` | build after (AOT SM89) | verified | `--split`: TRT part builds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        "*Non-tensor I/O*: string tensors, maps or sequences among a model's inputs or outputs.",
        "No TensorRT engine has those, so such a model cannot parse as a whole: it is counted",
        "apart, and the last column says for how many rejected models that do not parse after",
        "`--auto` (these and others) `--split` gets the TensorRT part built. The columns from",
        "*parse after* to *verified* count the rejected models with tensor I/O.",
    ]
    if total[3]:
        lines += [
            "",
            f"**Parse after `--auto`: {total[4]}/{total[3]} = {total[4] / total[3]:.1%}** of the "
            f"rejected models with tensor I/O; build after: {total[5]}/{total[3]}; verified: "
            f"{total[6]}/{total[3]}.",
        ]
    lines += ["", "## Runs", ""]
    for source, meta in runs:
        if meta is None:
            lines.append(f"- `{source}`: no provenance recorded in the file")
            continue
        versions = ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())
        lines += [
            f"- `{source}`: {meta.get('date', '?')}; {meta.get('machine', '?')}; GPU: "
            f"{meta.get('gpu', '?')}; Python {meta.get('python', '?')}; {versions}",
            f"  - categories: {', '.join(meta.get('categories', [])) or 'all in DIR'}",
            f"  - command: `{meta.get('command', '?')}`",
        ]
    lines += [
        "",
        "## Every rejected model",
        "",
        "Unsupported nodes by trt-check's knowledge base before → after; the passes that changed",
        "something; verification (`yes (regions)`: only the changed subgraphs compared, as for",
        "ops onnxruntime's CPU build has no kernel for); TensorRT-RTX parse and AOT build of the",
        "rewritten model.",
        "",
        "| category | model | non-tensor I/O | nodes before → after | passes | verified | parses "
        "| builds | `--split` | why not |",
        "| --- | --- | --- | ---: | --- | --- | --- | --- | --- | --- |",
    ]

    def yes(v: bool | None) -> str:
        return "" if v is None else ("yes" if v else "**no**")

    for r in sorted(results, key=lambda r: (r.category, r.model)):
        if not r.rejected_before:
            continue
        after = "" if r.unsupported_after is None else str(r.unsupported_after)
        split = r.split + (f" (host: {', '.join(r.host_nodes)})" if r.host_nodes else "")
        io = r.io or ("yes" if r.strings else "")
        lines.append(
            f"| `{r.category}` | `{r.model}` | {_cell(io)} | {r.unsupported_before} → {after} "
            f"| {', '.join(r.passes)} | {_cell(r.verified)} | {yes(r.parses_after)} "
            f"| {yes(r.builds_after)} | {_cell(split)} | {_cell(r.reason)} |"
        )
    accepted = sorted((r.category, r.model) for r in results if r.rejected_before is False)
    unknown = [r for r in results if r.rejected_before is None]
    lines += [
        "",
        f"Accepted as exported (not rewritten or built): {len(accepted)} models.",
    ]
    if unknown:
        lines += ["", "Not checked:", ""]
        lines += [f"- `{r.category}/{r.model}`: {_cell(r.reason)}" for r in unknown]
    text = "\n".join(lines) + "\n"
    return text + "\n" + ANALYSIS_MARK + "\n" + (keep or "")


def _write_report(path: Path | None, runs, results) -> None:
    keep = ""
    if path is not None and path.is_file():
        old = path.read_text()
        if ANALYSIS_MARK in old:
            keep = old.split(ANALYSIS_MARK, 1)[1].lstrip("\n")
    text = markdown(runs, results, keep)
    if path is None:
        print(text)
    else:
        path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="generate the corpus")
    b.add_argument("dir", type=Path)
    b.add_argument("--category", action="append", choices=sorted(GENERATORS))
    r = sub.add_parser("run", help="check → rewrite --auto → parse → build, and report")
    r.add_argument("dir", type=Path)
    r.add_argument("-j", "--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    r.add_argument("--markdown", type=Path, help="write the report here (e.g. docs/fixability.md)")
    r.add_argument("--json", type=Path, help="per-model outcomes and where they were measured")
    r.add_argument("--category", action="append", help="only these categories (repeatable)")
    r.add_argument(
        "--merge",
        type=Path,
        action="append",
        default=[],
        help="add the outcomes of earlier runs (their --json files) to the report",
    )
    m = sub.add_parser("report", help="write the report from the --json files of runs")
    m.add_argument("json", type=Path, nargs="+", help="--json files of `run` (merged)")
    m.add_argument("--markdown", type=Path, help="write the report here (e.g. docs/fixability.md)")
    args = ap.parse_args()
    if args.cmd == "build":
        build(args.dir, args.category or list(GENERATORS))
        return
    if args.cmd == "report":
        runs, results = [], []
        for path in args.json:
            meta, outcomes = load_results(path)
            runs.append((path.name, meta))
            results += outcomes
        _write_report(args.markdown, runs, results)
        return
    meta = machine()
    meta["command"] = "python benchmarks/fixability.py " + " ".join(sys.argv[1:])
    meta["categories"] = sorted(args.category or [])
    results = run(args.dir, args.jobs, args.category)
    if args.json:
        data = {"meta": meta, "outcomes": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(data, indent=1) + "\n")
    runs = [(args.json.name if args.json else "this run", meta)]
    for earlier in args.merge:
        earlier_meta, outcomes = load_results(earlier)
        runs.append((earlier.name, earlier_meta))
        results += outcomes
    if args.markdown or not args.json:
        _write_report(args.markdown, runs, results)


if __name__ == "__main__":
    main()
