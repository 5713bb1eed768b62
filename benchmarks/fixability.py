"""Fixability: do real exports that TensorRT-RTX rejects build after `trt-rewrite --auto`?

Two steps, as a user runs the tools:

    pip install torch==2.13.0 transformers onnxscript   # the generators only; CPU torch
    python benchmarks/fixability.py build DIR [--category C ...]
    python benchmarks/fixability.py run DIR [--markdown docs/fixability.md] [--json out.json]

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
inputs or outputs are string tensors are counted apart: no TensorRT engine takes strings.
A sidecar `MODEL.shapes.json` (`{"input": [dims…]}`) gives build shapes for dynamic inputs;
otherwise a dynamic dim builds as 1 (first dim) or 16.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
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
    strings: bool = False
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
    """Unsupported nodes by trt-check's knowledge base (static: one pass, no per-node parser
    re-parsing; it agrees with TensorRT-RTX's parser on the agreement corpus)."""
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
    return report["summary"]["unsupported"], ""


def _has_strings(model: Path) -> bool:
    import onnx

    m = onnx.load(str(model), load_external_data=False)
    values = [*m.graph.input, *m.graph.output]
    return any(v.type.tensor_type.elem_type == onnx.TensorProto.STRING for v in values) or any(
        v.type.HasField("sequence_type") or v.type.HasField("map_type") for v in m.graph.output
    )


def _build_shapes(model: Path) -> list[str]:
    import onnx

    side = model.with_suffix(".shapes.json")
    given = json.loads(side.read_text()) if side.is_file() else {}
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
        else:
            shape = [
                d.dim_value if d.HasField("dim_value") else (1 if i == 0 else 16)
                for i, d in enumerate(dims)
            ]
        s = "x".join(str(v) for v in shape) or "1"
        args += ["--shapes", f"{inp.name}:{s},{s},{s}"]
    return args


def process(category: str, model: Path, work: Path) -> Outcome:
    t0 = time.perf_counter()
    res = Outcome(category, model.name)
    try:
        res.strings = _has_strings(model)
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
        return res  # accepted as it is: counted, not rewritten or built
    target = model
    if res.rejected_before:
        out = work / f"{category}__{model.stem}.trt.onnx"
        report = work / f"{category}__{model.stem}.report.json"
        proc = _run(
            [
                *_tool("trt-rewrite"),
                str(model),
                "-o",
                str(out),
                "--auto",
                "--target",
                TARGET,
                "--report",
                str(report),
                "-q",
            ]
        )
        res.rewrite_exit = proc.returncode
        if proc.returncode == 0:
            res.verified = "yes"
            try:
                ver = json.loads(report.read_text()).get("verification")
                if ver is None:
                    res.verified = "not needed (graph unchanged)"
                elif not ver.get("ok", False):
                    res.verified = "no"
            except (OSError, ValueError):
                pass
            target = out
        else:
            res.verified = f"no: {_last_line(proc.stderr or proc.stdout)}"
            res.reason = f"trt-rewrite exit {proc.returncode}"
            res.seconds = time.perf_counter() - t0
            return res
    after, why = _check(target)
    res.unsupported_after = after
    # the real parser and builder: trt-build parses (trtforge's plugins registered) and builds
    # ahead of time for SM89; a parser refusal and a builder failure are told apart
    engine = work / f"{category}__{model.stem}.engine"
    proc = _run(
        [
            *_tool("trt-build"),
            str(target),
            "-o",
            str(engine),
            "--compute-capability",
            "89",
            *_build_shapes(model),
        ]
    )
    message = _last_line(proc.stderr or proc.stdout)
    res.builds_after = proc.returncode == 0
    res.parses_after = proc.returncode == 0 or (
        proc.returncode == 1 and "parser refused" not in message
    )
    if not res.builds_after:
        res.reason = f"trt-build: {message}"
    engine.unlink(missing_ok=True)
    Path(f"{engine}.json").unlink(missing_ok=True)
    res.seconds = time.perf_counter() - t0
    return res


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


def markdown(results: list[Outcome], command: str) -> str:
    cats = sorted({r.category for r in results})
    lines = [
        "# Fixability: rejected real exports after `trt-rewrite --auto`",
        "",
        f"Target `{TARGET}` (TensorRT-RTX's parser and AOT build for SM89, trtforge plugins",
        "registered). Generated by `benchmarks/fixability.py`; every model random-weight,",
        "nothing downloaded. Regenerate:",
        "",
        "```bash",
        command,
        "```",
        "",
        "| category | models | rejected before | without strings | parse after `--auto` "
        "| build after | verified |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    total = [0] * 6
    for cat in [*cats, None]:
        rs = [r for r in results if cat is None or r.category == cat]
        rej = [r for r in rs if r.rejected_before]
        rej_ns = [r for r in rej if not r.strings]
        row = [
            len(rs),
            len(rej),
            len(rej_ns),
            sum(bool(r.parses_after) for r in rej_ns),
            sum(bool(r.builds_after) for r in rej_ns),
            sum(r.verified == "yes" for r in rej_ns),
        ]
        name = f"`{cat}`" if cat else "**all**"
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
        if cat is not None:
            total = [a + b for a, b in zip(total, row, strict=True)]
    rej_ns = total[2]
    if rej_ns:
        lines += [
            "",
            f"Parse after `--auto`: {total[3]}/{rej_ns} = {total[3] / rej_ns:.1%} of "
            "the rejected models without string tensors.",
        ]
    failing = [r for r in results if r.rejected_before and not (r.parses_after and r.builds_after)]
    failing += [r for r in results if r.rejected_before is None]
    if failing:
        lines += [
            "",
            "## Models that do not get through, and why",
            "",
            "| category | model | strings | verified | reason |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in failing:
            reason = r.reason.replace("|", "\\|")
            verified = r.verified.replace("|", "\\|")
            lines.append(
                f"| `{r.category}` | `{r.model}` | {'yes' if r.strings else ''} | "
                f"{verified} | {reason} |"
            )
    return "\n".join(lines) + "\n"


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
    r.add_argument("--json", type=Path, help="per-model outcomes")
    r.add_argument("--category", action="append", help="only these categories (repeatable)")
    r.add_argument(
        "--merge",
        type=Path,
        action="append",
        default=[],
        help="add the outcomes of earlier runs (their --json files) to the report",
    )
    args = ap.parse_args()
    if args.cmd == "build":
        build(args.dir, args.category or list(GENERATORS))
        return
    results = run(args.dir, args.jobs, args.category)
    for earlier in args.merge:
        results += [Outcome(**r) for r in json.loads(earlier.read_text())]
    command = "python benchmarks/fixability.py build DIR && python benchmarks/fixability.py run DIR"
    text = markdown(results, command)
    if args.markdown:
        stamp = time.strftime("%Y-%m-%d", time.gmtime())
        text += f"\nRun {stamp} on {os.cpu_count()} CPUs, no GPU.\n"
        args.markdown.write_text(text)
    else:
        print(text)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))


if __name__ == "__main__":
    main()
