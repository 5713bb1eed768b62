"""LLM export corpus: tiny random-weight decoders written by onnxruntime-genai's model builder,
checked, rewritten and built with trtforge.

Three steps, each its own subcommand (the first needs torch, transformers, onnxruntime-genai and
onnx_ir, which are not trtforge dependencies; the others need only trtforge and, for the parser
verdicts and the engines, TensorRT-RTX):

    # a separate venv for the exporter (torch CPU exactly ==2.13.0)
    python -m venv .venv-genai
    .venv-genai/bin/pip install torch==2.13.0 transformers onnxruntime-genai onnx onnx_ir
    .venv-genai/bin/python benchmarks/llm_exports.py export --out /tmp/llm_corpus

    # the table (trtforge's venv, tensorrt_rtx installed)
    python benchmarks/llm_exports.py report /tmp/llm_corpus --markdown docs/llm-exports-table.md

    # the small fixtures committed for the tests (tests/fixtures/llm/)
    python benchmarks/llm_exports.py fixtures /tmp/llm_corpus tests/fixtures/llm

    # other builder paths: more architectures, providers and --extra_options (PRECISION-PROVIDER
    # [+KEY=VALUE...]); two of them are the fixtures of tests/fixtures/llm-variants/
    .venv-genai/bin/python benchmarks/llm_exports.py export --out /tmp/llm_extra \
        --arch llama --variant fp16-dml --variant int4-cpu+is_symmetric=0
    .venv-genai/bin/python benchmarks/llm_exports.py export --out /tmp/llm_extra \
        --arch qwen3 --variant fp16-cuda
    python benchmarks/llm_exports.py fixtures /tmp/llm_extra tests/fixtures/llm-variants \
        --name llama-fp16-dml --name qwen3-fp16-cuda

Each architecture is a transformers config with hidden size 32 (2 attention heads of 16, one
key/value head: grouped-query attention), 2 layers and a 64-token vocabulary, saved locally
with a word-level tokenizer, so the builder runs offline. Variants: fp32-cpu, int4-cpu,
fp16-cuda, int4-cuda (`-p PRECISION -e PROVIDER`; the builder writes CUDA models on a machine
without a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: architecture name -> (transformers config class, extra config fields)
ARCHS: dict[str, tuple[str, dict]] = {
    "llama": ("LlamaConfig", {}),
    "qwen2": ("Qwen2Config", {}),
    "mistral": ("MistralConfig", {"sliding_window": None}),
    "gemma": ("GemmaConfig", {"head_dim": 16}),
    "phi3": ("Phi3Config", {"pad_token_id": 2, "original_max_position_embeddings": 64}),
    # not in the default corpus (--arch NAME): other attention layouts of the builder
    "qwen3": ("Qwen3Config", {"head_dim": 16}),  # q_norm/k_norm per head
    "gemma2": ("Gemma2Config", {"head_dim": 16}),  # softcap, alternating sliding window
    # LayerNorm, partial rotary, Gelu; head size 32 so that the rotary half is 8 wide (the
    # CPU GroupQueryAttention kernel wants a cache width that is a multiple of 8)
    "granite": ("GraniteConfig", {}),
    "smollm3": ("SmolLM3Config", {"pad_token_id": 2, "bos_token_id": 1, "eos_token_id": 2}),
    "olmo": ("OlmoConfig", {}),
    "phi": ("PhiConfig", {"partial_rotary_factor": 0.5, "hidden_size": 64}),
}
#: the five architectures of the default corpus
DEFAULT_ARCHS = ("llama", "qwen2", "mistral", "gemma", "phi3")
VARIANTS = ("fp32-cpu", "int4-cpu", "fp16-cuda", "int4-cuda")
COMMON = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    vocab_size=64,
    max_position_embeddings=64,
)
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


# -- export (exporter venv) --------------------------------------------------------------------
def _save_hf(arch: str, folder: Path) -> None:
    """Saves a random-weight model of `arch` and a word-level tokenizer into `folder`."""
    import torch
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    config_class, extra = ARCHS[arch]
    config = getattr(transformers, config_class)(**{**COMMON, **extra})
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(folder)
    vocab = {f"t{i}": i for i in range(COMMON["vocab_size"])}
    vocab["<unk>"] = 0
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="t1", eos_token="t2", pad_token="t2"
    ).save_pretrained(folder)


def _variant(spec: str) -> tuple[str, str, list[str], str]:
    """`PRECISION-PROVIDER[+KEY=VALUE...]` -> precision, provider, builder --extra_options,
    the folder suffix (fp16-cuda, int4-cpu+is_symmetric=0 -> int4-cpu-is_symmetric0)."""
    head, *extra = spec.split("+")
    precision, _, provider = head.partition("-")
    suffix = "-".join([head, *(e.replace("=", "").replace("/", "") for e in extra)])
    return precision, provider, extra, suffix


def export(out: Path, archs: list[str], variants: list[str]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for arch in archs:
            hf = Path(tmp) / arch
            _save_hf(arch, hf)
            for spec in variants:
                precision, provider, extra_options, suffix = _variant(spec)
                name = f"{arch}-{suffix}"
                dest = out / name
                shutil.rmtree(dest, ignore_errors=True)
                cmd = [
                    sys.executable,
                    "-m",
                    "onnxruntime_genai.models.builder",
                    "-i",
                    str(hf),
                    "-o",
                    str(dest),
                    "-p",
                    precision,
                    "-e",
                    provider,
                    "-c",
                    str(Path(tmp) / "cache"),
                ]
                if extra_options:
                    cmd += ["--extra_options", *extra_options]
                started = time.time()
                proc = subprocess.run(
                    cmd, capture_output=True, text=True, env={**os.environ, **OFFLINE}
                )
                ok = proc.returncode == 0 and (dest / "model.onnx").exists()
                failures += not ok
                print(f"{name}: {'ok' if ok else 'FAILED'} ({time.time() - started:.1f} s)")
                if not ok:
                    print(proc.stderr[-2000:])
                for extra in ("tokenizer.json", "tokenizer_config.json"):
                    (dest / extra).unlink(missing_ok=True)  # not needed by trtforge
    return 1 if failures else 0


# -- report (trtforge venv) --------------------------------------------------------------------
def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    return subprocess.run(
        [str(bindir / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout
    )


def _check(model: Path, target: str, backend: str) -> dict | None:
    proc = _cli(
        "trt-check", str(model), "--target", target, "--backend", backend, "--format", "json"
    )
    if proc.returncode not in (0, 1):
        return None
    return json.loads(proc.stdout)


def _judged(node: dict) -> bool:
    """False for a node the parser backend could not judge (its process died before it, or the
    parser failed on the graph as a whole)."""
    return not any(r.get("code") == "parser/not-judged" for r in node.get("reasons", []))


def _unsupported(report: dict | None) -> str:
    if report is None:
        return "error"
    ops = sorted({n["op_type"] for n in report["nodes"] if n["status"] == "unsupported"})
    count = report["summary"]["unsupported"]
    unjudged = sum(not _judged(n) for n in report["nodes"])
    return (
        f"{count}"
        + (f" ({', '.join(ops)})" if ops else "")
        + (f" + {unjudged} not judged" if unjudged else "")
    )


def _agree(static: dict | None, parser: dict | None) -> str:
    """yes: the same verdict for the model and for every node the parser judged (a parser
    crash leaves the nodes after the crash unjudged: they are not compared)."""
    if not static or not parser:
        return "NO"
    pairs = [(s, p) for s, p in zip(static["nodes"], parser["nodes"], strict=True) if _judged(p)]
    same = static["supported"] == parser["supported"] and all(
        s["status"] == p["status"] for s, p in pairs
    )
    return "yes" if same else "NO"


def _error_line(stderr: str) -> str:
    """The line that says what went wrong (not the Hint after it)."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if "error" in line.lower() or "failed" in line.lower():
            return line.strip()
    return lines[-1] if lines else ""


def _rewrite(model: Path, out: Path, target: str) -> tuple[str, str]:
    proc = _cli("trt-rewrite", str(model), "-o", str(out), "--auto", "--target", target)
    if proc.returncode == 0:
        unchanged = "graph unchanged" in proc.stderr + proc.stdout
        return ("unchanged" if unchanged else "yes"), ""
    return ("no" if proc.returncode == 1 else f"exit {proc.returncode}"), _error_line(proc.stderr)


def _build(model: Path, out: Path) -> str:
    """trt-build AOT for SM89; the KV-cache dims get their ranges from genai_config.json beside
    the model (trt-build's defaults)."""
    proc = _cli("trt-build", str(model), "-o", str(out), "--compute-capability", "8.9", timeout=900)
    if proc.returncode == 0:
        return "yes"
    return f"no: {_error_line(proc.stderr)[:120]}"


def _rewrite_row(folder: Path, work: Path, target: str, build: bool) -> dict[str, str]:
    """`trt-rewrite --auto` for `target` (verified); when verification fails or cannot run, the
    same with --no-verify, so that the table still shows what the passes leave and whether the
    engine builds (marked unverified)."""
    work.mkdir()
    shutil.copy(folder / "genai_config.json", work / "genai_config.json")
    model, out = folder / "model.onnx", work / "model.onnx"
    before = _check(model, target, "static")
    verified, why = _rewrite(model, out, target)
    written = verified in ("yes", "unchanged")
    if not written:
        proc = _cli(
            "trt-rewrite", str(model), "-o", str(out), "--auto", "--target", target, "--no-verify"
        )
        written = proc.returncode == 0
    after = _check(out, target, "parser" if target == "rtx-1" else "static") if written else None
    row = {
        f"{target} before": _unsupported(before),
        f"{target} after --auto": (_unsupported(after) if after else "—")
        + ("" if verified in ("yes", "unchanged") or not after else " (unverified)"),
        f"{target} verified": verified if not why else f"{verified}: {why[:100]}",
    }
    if target == "rtx-1":
        row["engine (rtx-1, SM89)"] = (
            _build(out, work / "model.engine") if build and written else "—"
        )
    return row


def report(corpus: Path, markdown: Path | None, build: bool) -> int:
    rows = []
    for folder in sorted(p for p in corpus.iterdir() if (p / "model.onnx").exists()):
        model = folder / "model.onnx"
        started = time.time()
        static = _check(model, "rtx-1", "static")
        parser = _check(model, "rtx-1", "parser")
        row = {
            "model": folder.name,
            "rtx static": _unsupported(static),
            "rtx parser": _unsupported(parser),
            "agree": _agree(static, parser),
        }
        with tempfile.TemporaryDirectory() as tmp:
            for target in ("trt-10", "rtx-1"):
                row.update(_rewrite_row(folder, Path(tmp) / target, target, build))
        print(f"{folder.name}: {time.time() - started:.0f} s", file=sys.stderr)
        rows.append(row)
    header = list(rows[0]) if rows else []
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if markdown is not None:
        markdown.write_text(text)
    return 0 if all(r["agree"] == "yes" for r in rows) else 1


# -- fixtures ----------------------------------------------------------------------------------
FIXTURES = (
    "llama-fp32-cpu",
    "llama-int4-cpu",
    "llama-fp16-cuda",
    "llama-int4-cuda",
    "gemma-int4-cpu",
    "qwen2-fp16-cuda",
    "phi3-int4-cpu",
)


#: exports of other builder paths (tests/fixtures/llm-variants, from a corpus made with
#: `export --arch llama --variant fp16-dml` and `export --arch qwen3 --variant fp16-cuda`)
VARIANT_FIXTURES = ("llama-fp16-dml", "qwen3-fp16-cuda")


def fixtures(corpus: Path, dest: Path, names: list[str]) -> int:
    """Copies a few exports (model, weights inlined, genai_config.json) into `dest`."""
    import onnx

    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        model = onnx.load(corpus / name / "model.onnx")  # pulls in model.onnx.data
        target = dest / name
        target.mkdir(exist_ok=True)
        onnx.save(model, target / "model.onnx")
        shutil.copy(corpus / name / "genai_config.json", target / "genai_config.json")
        print(f"{name}: {(target / 'model.onnx').stat().st_size} bytes")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="build the corpus (exporter venv)")
    e.add_argument("--out", type=Path, required=True)
    e.add_argument(
        "--arch",
        action="append",
        choices=sorted(ARCHS),
        help="default: " + ", ".join(DEFAULT_ARCHS),
    )
    e.add_argument(
        "--variant",
        action="append",
        help="PRECISION-PROVIDER[+KEY=VALUE...] (builder -p, -e, --extra_options), e.g. "
        "fp16-cpu or int4-cpu+is_symmetric=0; default: " + ", ".join(VARIANTS),
    )
    r = sub.add_parser("report", help="check/rewrite/build every model of the corpus")
    r.add_argument("corpus", type=Path)
    r.add_argument("--markdown", type=Path)
    r.add_argument("--no-build", action="store_true")
    f = sub.add_parser("fixtures", help="copy the committed fixtures out of the corpus")
    f.add_argument("corpus", type=Path)
    f.add_argument("dest", type=Path)
    f.add_argument(
        "--name",
        action="append",
        help="an export to copy (default: "
        + ", ".join(FIXTURES)
        + "; the variant fixtures: "
        + ", ".join(VARIANT_FIXTURES)
        + ")",
    )
    args = ap.parse_args(argv)
    if args.cmd == "export":
        return export(args.out, args.arch or list(DEFAULT_ARCHS), args.variant or list(VARIANTS))
    if args.cmd == "report":
        return report(args.corpus, args.markdown, not args.no_build)
    return fixtures(args.corpus, args.dest, args.name or list(FIXTURES))


if __name__ == "__main__":
    sys.exit(main())
