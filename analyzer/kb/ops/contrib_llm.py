"""ONNX Runtime contrib ops of LLM exports (onnxruntime-genai's model builder): what the parsers do.

TensorRT-RTX 1.7's parser has importers for com.microsoft GroupQueryAttention and MatMulNBits,
but both end in a plugin the PyPI build does not register, so every such node is rejected:

- MatMulNBits checks, in this order: the activation A is FP16 ("input tensor A must be FP16";
  onnxruntime-genai's int4 CPU exports keep FLOAT activations), bits is 4 or 8 ("only 4-bit
  and 8-bit MatMulNBits are supported"), block_size is 32, 64 or 128 ("block_size must be one
  of 32/64/128"), then loads its plugin ("failed to load MatMulNBits plugin").
- GroupQueryAttention checks that `scale` is set and nonzero ("scale is invalid";
  onnxruntime's default 0 means 1/sqrt(head_size)), then loads its plugin ("failed to load
  GroupQueryAttention plugin"), whatever the dtype (FLOAT and FLOAT16 alike), packed QKV or
  not, with or without rotary.

The open-source TensorRT parser (10.x/11.x) has no importer for either (absent from
onnx-tensorrt docs/operators.md and onnxOpImporters.cpp), so on trt-10/trt-11 both fall
through to the plugin lookup by name; the engine reports them as "not available" there.
GatherBlockQuantized, PackedAttention and SkipLayerNormalization have no importer on any
target (RTX: "Plugin not found"), so they need no rule: the engine reports a custom-domain op.
The com.microsoft RotaryEmbedding (inputs: input, position_ids, cos_cache, sin_cache) parses and
builds on TensorRT-RTX 1.7 (FLOAT and FLOAT16, 3-D input with num_heads); on TensorRT it would
reach the ONNX RotaryEmbedding importer (10.15), which reads ONNX's input order (X, cos_cache,
sin_cache, position_ids), so it is not counted as supported there. On TensorRT-RTX its 3-D form
needs a nonzero `num_heads` (absent: an assertion; 0, as onnxruntime-genai's DML and fp16 CPU
exports write it: the parser process dies of SIGFPE). com.microsoft Attention (packed QKV
weights) reaches the ONNX Attention importer (dispatch by op_type) and fails its rank check.

Every finding names the rewrite passes that remove the op (`dequantize-nbits` for
MatMulNBits, the GroupQueryAttention decomposition where one is installed), from the pass
registry: only passes that exist are named.

Sources: observed with the TensorRT-RTX 1.7.1 parser and AOT builds for SM89 (probes of each
condition above, FLOAT and FLOAT16); onnx-tensorrt docs/operators.md (10.15) and
onnxOpImporters.cpp (no contrib importers).
"""

from __future__ import annotations

from trtforge.analyzer.findings import Fix
from trtforge.analyzer.kb.ops._tensor_common import OBSERVED
from trtforge.analyzer.kb.rule import NodeContext, OpRule, Since

MS = "com.microsoft"
SOURCE = (
    f"{OBSERVED} (importer conditions and plugin load, FLOAT and FLOAT16); onnx-tensorrt "
    "docs/operators.md (10.15) and onnxOpImporters.cpp (no importer in the open-source parser)"
)
RTX_IMPORTER = Since(
    trt=None,
    rtx=(1, 7),
    reason="the open-source TensorRT parser has no importer for this ONNX Runtime contrib op",
)


def _fixes(op: str) -> tuple[Fix, ...]:
    """The rewrite passes that remove com.microsoft `op` (the pass registry's declarations)."""
    try:
        from trtforge.analyzer.rewrite.registry import passes_removing
    except ImportError:  # the knowledge base without the rewrite package
        return ()
    return tuple(Fix("rewrite", p) for p in passes_removing(MS, op))


def _plugin_missing(ctx: NodeContext, op: str, hint: str):
    return ctx.finding(
        "plugin-missing",
        f"TensorRT-RTX's {op} importer needs the {op} plugin, which its build does not "
        f'register ("failed to load {op} plugin")',
        hint,
        _fixes(op),
    )


def _check_matmul_nbits(ctx: NodeContext):
    fixes = _fixes("MatMulNBits")
    hint = "trt-rewrite --dequantize-nbits (blocked INT4 DequantizeLinear + MatMul)"
    a = ctx.input(0)
    if a is not None and a.dtype not in ("FLOAT16", "UNDEFINED"):
        yield ctx.finding(
            "activation-dtype",
            f"input tensor A must be FP16 (has {a.dtype}); the importer takes only FLOAT16 "
            "activations",
            hint,
            fixes,
        )
    bits = ctx.attr_int("bits", 4)
    if bits not in (4, 8):
        yield ctx.finding(
            "bits",
            f"bits={bits}; only 4-bit and 8-bit MatMulNBits are imported",
            hint,
            fixes,
        )
    block = ctx.attr_int("block_size", 0)
    if block not in (32, 64, 128):
        yield ctx.finding(
            "block-size",
            f"block_size={block}; the importer takes 32, 64 or 128",
            hint,
            fixes,
        )
    yield _plugin_missing(ctx, "MatMulNBits", hint)


def _check_gqa(ctx: NodeContext):
    fixes = _fixes("GroupQueryAttention")
    hint = (
        "decompose the attention into standard ops (trt-rewrite), or register a "
        "GroupQueryAttention plugin"
        if fixes
        else "register a GroupQueryAttention plugin, or decompose the attention into standard "
        "ops (KV-cache Concat, grouped heads, causal mask, Softmax)"
    )
    if ctx.attr_float("scale", 0.0) == 0.0:
        yield ctx.finding(
            "scale",
            "scale is not set (onnxruntime's default 0 means 1/sqrt(head_size)); the importer "
            'asserts a nonzero scale ("scale is invalid")',
            "set scale=1/sqrt(head_size) on the node, or " + hint,
            fixes,
        )
    yield _plugin_missing(ctx, "GroupQueryAttention", hint)


def _check_ms_rotary(ctx: NodeContext):
    """com.microsoft RotaryEmbedding on TensorRT-RTX 1.7.1 (observed): all four inputs are read
    ("Invalid Node" when one is empty); a 3-D input needs `num_heads`: absent, the importer
    asserts ("num_heads attribute is required for 3D input tensors"); 0 (onnxruntime's default,
    which infers the heads from the cache width, as onnxruntime-genai's DML and fp16 CPU exports
    write it) the importer divides by it and the parser process dies (SIGFPE). 4-D inputs
    [batch, heads, seq, head_size] parse either way."""
    fixes = _fixes("RotaryEmbedding")
    hint = "trt-rewrite --decompose-gqa (decomposes the rotary embedding into standard ops)"
    names = ("input", "position_ids", "cos_cache", "sin_cache")
    missing = [names[i] for i in range(4) if not ctx.has_input(i)]
    if missing:
        yield ctx.finding(
            "missing-input",
            f"{', '.join(missing)} not given; the importer reads all four inputs (input, "
            "position_ids, cos_cache, sin_cache)",
            "connect every input (the export is incomplete)",
            fixes,
        )
        return
    x = ctx.input(0)
    problem = rotary_heads_problem(x.rank if x is not None else None, ctx.attr("num_heads", None))
    if problem is not None:
        code, message = problem
        yield ctx.finding(
            code, message, "set num_heads (hidden size / head size), or " + hint, fixes
        )


def rotary_heads_problem(rank: int | None, num_heads) -> tuple[str, str] | None:
    """(code, message) when TensorRT-RTX's importer cannot take a com.microsoft RotaryEmbedding
    of input rank `rank` with the attribute num_heads (None: absent); None when it can. Shared
    with decompose-gqa, which keeps the nodes RTX imports."""
    if rank != 3:
        return None
    if num_heads is None:
        return "num-heads", "3-D input without the num_heads attribute; the importer asserts it"
    if int(num_heads) == 0:
        return (
            "num-heads-zero",
            "3-D input with num_heads=0 (onnxruntime infers the heads from cos_cache); "
            "TensorRT-RTX's importer divides by it and the parser process dies (SIGFPE)",
        )
    return None


def _check_ms_attention(ctx: NodeContext):
    yield ctx.finding(
        "contrib-layout",
        "com.microsoft Attention (hidden states, packed QKV weights, bias) reaches the ONNX "
        "Attention importer, which parsers choose by op_type and which reads (Q, K, V): "
        '"Q, K, and V inputs must have the same number of dimensions"',
        "trt-rewrite --decompose-contrib (MatMul/Softmax/MatMul)",
        _fixes("Attention"),
    )


RULES = [
    OpRule(
        op="MatMulNBits",
        source=SOURCE,
        since=RTX_IMPORTER,
        hint="trt-rewrite --dequantize-nbits (blocked INT4 DequantizeLinear + MatMul)",
        check=_check_matmul_nbits,
    ),
    OpRule(
        op="GroupQueryAttention",
        source=SOURCE,
        since=RTX_IMPORTER,
        hint="decompose the attention into standard ops, or implement it as a plugin",
        check=_check_gqa,
    ),
    OpRule(
        op="RotaryEmbedding",
        domain=MS,
        source=f"{OBSERVED} (com.microsoft RotaryEmbedding, FLOAT and FLOAT16, AOT SM89); "
        "onnx-tensorrt onnxOpImporters.cpp importRotaryEmbedding (ONNX input order)",
        since=Since(
            trt=None,
            rtx=(1, 7),
            reason="TensorRT's RotaryEmbedding importer reads the ONNX op's inputs (X, "
            "cos_cache, sin_cache, position_ids); the com.microsoft op orders them (input, "
            "position_ids, cos_cache, sin_cache)",
        ),
        hint="decompose the rotary embedding (Slice, Mul, Neg, Concat, Add)",
        check=_check_ms_rotary,
    ),
    OpRule(
        op="Attention",
        domain=MS,
        source=f"{OBSERVED} (com.microsoft Attention with and without bias, FLOAT and "
        "FLOAT16: the ONNX Attention importer's rank assertion); onnx-tensorrt "
        "onnxOpImporters.cpp importAttention (dispatch by op_type)",
        hint="trt-rewrite --decompose-contrib (MatMul/Softmax/MatMul)",
        check=_check_ms_attention,
    ),
]
