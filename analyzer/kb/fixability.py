"""Completes every finding with what fixes it, or why nothing does automatically.

Rules state why the parser refuses a node; whether a trt-rewrite pass removes the finding is
often a fact about the graph around the node, not about the op. This module adds those fixes
once, for every rule, after the rule has spoken:

  * a node whose every input is a build-time constant (initializers, Constant nodes and what
    is computed from them only) is computed by `fold-constants`, whatever the parser thinks
    of the op: the node disappears (two real models parsed only after folding and were never
    told so);
  * a node refused for its opset below the rule's range (`opset-out-of-range`,
    `pre-opset7-broadcast`) and the graph-level `graph/old-opset` are fixed by
    `upgrade-opset` (onnx's version converter, verified);
  * any other error finding without a fix gets "no automatic fix: <why>" in its hint, the why
    chosen by the kind of finding (`NO_FIX`); `explain` returns it for a code.
"""

from __future__ import annotations

import functools
import re

from trtforge.analyzer.findings import Finding, Fix

FOLD = Fix("rewrite", "fold-constants")
UPGRADE = Fix("rewrite", "upgrade-opset")
#: the opset `upgrade-opset` converts to when no other is asked for.
UPGRADE_DEFAULT = 17
#: ops whose output is not a function of their inputs: never folded.
_NOT_FOLDABLE = frozenset(
    {
        "RandomNormal",
        "RandomUniform",
        "RandomNormalLike",
        "RandomUniformLike",
        "Multinomial",
        "Bernoulli",
        "Constant",
    }
)
#: codes fixed by raising the model's opset.
_OPSET_CODES = ("opset-out-of-range", "pre-opset7-broadcast", "graph/old-opset")

#: (pattern on the code, why no pass removes it). First match wins; every code the knowledge
#: base can emit must match one (tests/test_fixability.py enumerates them).
NO_FIX: tuple[tuple[str, str], ...] = (
    (
        r"layout-sequence-lens$",
        "the parser masks the sequence as if it were sequence-major; no pass transposes a "
        "recurrence to layout 0 yet: re-export with layout 0",
    ),
    (
        r"empty-external-initializer$",
        "trt-rewrite writes external data as the input has it; re-save the model with small "
        "tensors inline",
    ),
    (
        r"tf-half-pixel-nearest-mode$",
        "another rounding picks other pixels: no rewrite computes the same values in a mode "
        "the parser takes; re-export with round_prefer_floor",
    ),
    (
        r"(^|/)(not-available|custom-domain-op|unknown-op|plugin-not-registered)$",
        "no trtforge pass or built plugin implements this op for the target; `trt-plugin new` "
        "scaffolds a plugin for it",
    ),
    (
        r"(dtype|types|-type|datatype|uint8-[a-z-]+|unsupported-target-type|float-shape-input)$",
        "changing an element type changes what the model computes; re-export with a type the "
        "parser takes",
    ),
    (
        r"(dynamic[a-z-]*|not-constant|cache-length|index-depth|axis-dim|scale-shape|head-size|"
        r"constant-input|sequence-lens|trip-count|scan-output-without-trip-count)$",
        "the value is known only at run time here (fold-constants applies only when it depends "
        "on constants and static shapes); export with static shapes",
    ),
    (
        r"(^|scan/)negative-axis$",
        "no pass rewrites the axes yet",
    ),
    (
        r"^invalid/",
        "trtforge rewrites valid graphs only; fix the exporter and re-export the model",
    ),
    (
        r"(^|/)(kernel-volume|input-count)$",
        "no pass splits a window or a Concat into stages yet",
    ),
    (
        r"(^|loop/)condition-without-condition-input$",
        "no pass gives a loop a condition yet (the body's condition output is ignored without "
        "one); change the loop at its source",
    ),
    (
        r"(^|loop/)negative-trip-count$",
        "no pass removes a loop that never runs; change the loop at its source",
    ),
    (
        r"(^|/)(dim-too-large|int32-range|pads-too-large|strides-too-large|dilations-too-large|"
        r"tensor-too-large)$",
        "the sizes are beyond what any TensorRT layer takes, and no real model needs them: "
        "the exporter computed them wrongly; fix it",
    ),
    (
        r"(^|/)empty-output$",
        "no pass names an output left out yet; give every output a name in the exporter",
    ),
    (
        r"(^|/)empty-input$",
        "only empty names at the end of the inputs are dropped (trim-empty-inputs); one "
        "before a real input needs its default value, given in the exporter",
    ),
    (
        r"(^|averagepool/)pads-exclusive$",
        "no pass rewrites an exclusive-count average yet; pad explicitly or count the pads "
        "at the source",
    ),
    (
        r"carried-shape$",
        "only a Concat that grows an initially empty value has a rewrite (loop-concat-scan, "
        "given a trip count); another shape change needs the loop written anew at the source",
    ),
    (
        r"maxpool/extra-outputs$",
        "TensorRT's pooling computes no argmax, and no rewrite computes the Indices; a "
        "MaxUnpool model (SegNet-style) needs a plugin (trt-plugin new) or an unpooling "
        "without indices",
    ),
    (
        r"(training-mode|extra-outputs)$",
        "the node computes training-time outputs; export the model in inference mode (eval())",
    ),
    (
        r"(^|/)(rank|spatial-rank|rank-above-8|branch-ranks|rope-dims|heads-divisible|kv-shape|"
        r"mask-shape|past-kv|packed-qkv|num-heads|boxes-last-dim|vector-times-batched|"
        r"output-shape-1d|odd-4bit-volume|scaled-dims|negative-last-chunk|num-outputs|"
        r"frame-length|complex-signal|k-too-large|diagonal|ellipsis)$",
        "the tensor layout is one the parser's importer does not implement; reshape it in the "
        "exporter",
    ),
    (
        r"(^|/)(p|dilations|activation|bidirectional-activations|input-forget|fmod-float|"
        r"softcap|softmax-precision|causal-with-mask|negative-pre-padding|nonzero-zero-point|"
        r"scale-not-positive|equation-characters|approximate|attribute|attribute-value|axes|"
        r"axis|asymmetric-pads|coordinate-transformation-mode|keep-aspect-ratio-policy|"
        r"reduction|integer-base|integer-exponent|opset-21)$",
        "the attribute or value selects a computation TensorRT's importer does not implement; "
        "no equivalent rewrite exists in trtforge",
    ),
    (
        r"(^|/)((broadcast|shapes)-mismatch|batch-dims|axis-range|block-scale-shape)$",
        "the graph is invalid (its shapes do not broadcast or concatenate, or batch_dims or a "
        "quantization axis is outside the range ONNX defines); fix the exporter",
    ),
    (
        r"(^|/)local-function-not-analyzed$",
        "the function body could not be judged; inline the model's functions (onnx.inliner) "
        "and check again",
    ),
    (
        r"^graph/",
        "the model's interface itself must change; re-export it",
    ),
)
#: the reason for an attribute limit's finding (codes derived from the rules' `attrs`).
ATTRIBUTE_WHY = (
    "the attribute selects a computation TensorRT's importer does not implement; no "
    "equivalent rewrite exists in trtforge"
)


def _attribute_codes() -> frozenset[str]:
    """Codes of every attribute-limit finding, from the knowledge base's rules."""
    global _ATTR_CODES
    if _ATTR_CODES is None:
        from trtforge.analyzer.kb import all_rules

        _ATTR_CODES = frozenset(
            f"{rule.slug}/{limit.code or limit.name}"
            for rule in all_rules()
            for limit in rule.attrs
        )
    return _ATTR_CODES


_ATTR_CODES: frozenset[str] | None = None


@functools.cache
def explain(code: str) -> str | None:
    """Why no pass removes a finding of `code` (None when no pattern matches); once per code
    (every node of 100,000 distinct custom ops has an unfixable finding)."""
    for pattern, why in NO_FIX:
        if re.search(pattern, code):
            return why
    if code in _attribute_codes():
        return ATTRIBUTE_WHY
    return None


def foldable(node, graph) -> bool:
    """True when `node` computes only from build-time constants (and can be folded): none of
    them stored in an external data file, which fold-constants leaves unread (a model's
    weights are never loaded to be folded)."""
    names = [name for name in node.input if name]
    if not names or not all(graph.is_constant(name) for name in names):
        return False  # (before the attributes are read: most nodes read a computed value)
    return _computes_values(node) and not any(graph.is_external(name) for name in names)


def _with(finding: Finding, fix: Fix, hint: str) -> Finding:
    if any((f.kind, f.name) == (fix.kind, fix.name) for f in finding.fixes):
        return finding
    joined = f"{hint}; {finding.hint}" if finding.hint else hint
    return Finding(
        finding.code,
        finding.message,
        joined,
        (fix, *finding.fixes),
        finding.source,
        finding.severity,
        finding.inner,
    )


def _no_fix(finding: Finding) -> Finding:
    if finding.fixes or "no automatic fix" in finding.hint or not finding.is_error:
        return finding
    why = explain(finding.code) or "trtforge has no rewrite for this case"
    hint = (
        f"{finding.hint}; no automatic fix: {why}" if finding.hint else f"no automatic fix: {why}"
    )
    return Finding(
        finding.code, finding.message, hint, (), finding.source, finding.severity, finding.inner
    )


def _opset_fix(finding: Finding) -> Finding:
    if finding.code.endswith(_OPSET_CODES):
        return _with(
            finding,
            UPGRADE,
            f"trt-rewrite --upgrade-opset {UPGRADE_DEFAULT} converts the model (onnx version "
            "converter, verified)",
        )
    return finding


def complete(findings: list[Finding], node, graph, ctx=None) -> list[Finding]:
    """The findings of one node, each naming its fix or saying why there is none. `ctx`: the
    node's NodeContext, told when the fix depends on nodes upstream (`_folded_upstream`)."""
    if not findings:
        return findings
    errors = any(f.is_error for f in findings)
    fold = errors and foldable(node, graph)
    claims = _claims(node, graph) if errors else []
    out = []
    for finding in findings:
        finding = _opset_fix(finding)
        if fold and finding.is_error:
            finding = _with(
                finding,
                FOLD,
                "every input of the node is a build-time constant: trt-rewrite "
                "--fold-constants computes it away",
            )
        elif finding.is_error and not finding.fixes and _DYNAMIC.search(finding.code):
            upstream = _folded_upstream(node, graph, ctx)
            if upstream is not None:
                finding = _with(
                    finding,
                    FOLD,
                    f"the shape comes through {upstream}, which computes from build-time "
                    "constants only but whose output's shape ONNX's inference cannot tell: "
                    "trt-rewrite --fold-constants computes it, and the shape with it",
                )
        if finding.is_error:
            for fix, why in claims:
                finding = _with(finding, fix, why)
        out.append(_no_fix(_without_passes_that_leave(finding, node, graph)))
    return out


def _claims(node, graph) -> list[tuple[Fix, str]]:
    """(fix, hint sentence) of each pass that rewrites `node` itself into what the parser
    takes (`RewritePass.fixes`: a blocked DequantizeLinear with zero points for
    dequantize-nbits)."""
    if graph is None:
        return []
    return [
        (Fix("rewrite", cls.id), why) for cls in _node_fixers() if (why := cls.fixes(node, graph))
    ]


@functools.cache
def _node_fixers() -> tuple:
    """The rewrite passes that declare nodes they fix (none without the rewrite package)."""
    try:
        from trtforge.analyzer.rewrite.registry import node_fixing_passes
    except ImportError:  # the knowledge base without the rewrite package
        return ()
    return tuple(node_fixing_passes())


#: codes of findings about a value or shape known only at run time (as `NO_FIX` reads them).
_DYNAMIC = re.compile(r"dynamic[a-z-]*$")
#: producers looked at above a node for `_folded_upstream`.
UPSTREAM_NODES = 64


def _folded_upstream(node, graph, ctx=None) -> str | None:
    """The first node above `node`'s inputs (`folds_upstream` of each, in order) that
    fold-constants would compute and whose output has a shape ONNX's inference leaves
    unknown, or None. Read through `ctx` (`NodeContext.input_derived`) where there is one, so
    that nodes whose inputs give the same answer still share their verdict."""
    for index, name in enumerate(node.input):
        if not name:
            continue
        found = (
            ctx.input_derived(index, folds_upstream)
            if ctx is not None
            else folds_upstream(graph, name)
        )
        if found is not None:
            return found
    return None


def folds_upstream(graph, name: str) -> str | None:
    """The first node at or above tensor `name`'s producer (breadth first, at most
    UPSTREAM_NODES) that fold-constants would compute and whose output has a shape ONNX's
    inference leaves unknown: TorchScript's `cls.expand(batch, -1, -1)` with a static batch
    computes the Expand's shape through Where/Equal/ConstantOfShape, which ONNX does not
    evaluate, and every shape after it is lost; folding it gives them back. None when there is
    none. Remembered per graph while its types are."""
    memo = graph.analysis("folds_upstream")
    if name in memo:
        return memo[name]
    seen: set[str] = set()
    static: dict[str, bool] = {}
    queue = [name]
    looked = 0
    answer = None
    while queue and looked < UPSTREAM_NODES:
        tensor = queue.pop(0)
        if tensor in seen:
            continue
        seen.add(tensor)
        producer = graph.producer(tensor)
        if producer is None:
            continue
        looked += 1
        if (
            any(out and _shape_unknown(graph.tensor(out).shape) for out in producer.output)
            and _computes_values(producer)
            and all(_folds(graph, i, static, 16) for i in producer.input if i)
        ):
            answer = f"{producer.op_type} '{producer.name or producer.output[0]}'"
            break
        queue.extend(n for n in producer.input if n)
    memo[name] = answer
    return answer


def _folds(graph, name: str, memo: dict[str, bool], depth: int) -> bool:
    """Whether fold-constants computes tensor `name`: a build-time constant not stored in an
    external data file, the Shape of a tensor of static shape (`fold_shapes`), or an op of
    such values only."""
    if name in memo:
        return memo[name]
    memo[name] = False  # (a cycle, or the depth spent: not shown to fold)
    if graph.is_constant(name):
        memo[name] = not graph.is_external(name)
        return memo[name]
    producer = graph.producer(name)
    if producer is None or depth <= 0 or not _computes_values(producer):
        return False
    if producer.op_type == "Shape":
        memo[name] = not _shape_unknown(graph.tensor(producer.input[0]).shape)
    else:
        memo[name] = all(_folds(graph, i, memo, depth - 1) for i in producer.input if i)
    return memo[name]


def _computes_values(node) -> bool:
    """Whether fold-constants can evaluate `node` once its inputs are known: not a random
    op or a Constant, and no If/Loop/Scan body."""
    return node.op_type not in _NOT_FOLDABLE and not any(
        attr.HasField("g") or attr.graphs for attr in node.attribute
    )


def _shape_unknown(shape) -> bool:
    return shape is None or any(not isinstance(d, int) for d in shape)


def _without_passes_that_leave(finding: Finding, node, graph=None) -> Finding:
    """`finding` without the rewrite fixes whose pass leaves `node` as it is
    (`RewritePass.leaves`: a GroupQueryAttention with a quantized KV cache for decompose-gqa),
    each such pass's reason added to the hint: `--auto` would run it and change nothing."""
    reasons, kept = [], []
    for fix in finding.fixes:
        why = _left_by(fix.name, node, graph) if fix.kind == "rewrite" else None
        if why is None:
            kept.append(fix)
        else:
            reasons.append(f"trt-rewrite --{fix.name} leaves this node ({why})")
    if not reasons:
        return finding
    hint = "; ".join([finding.hint, *reasons] if finding.hint else reasons)
    return Finding(
        finding.code,
        finding.message,
        hint,
        tuple(kept),
        finding.source,
        finding.severity,
        finding.inner,
    )


def _left_by(pass_id: str, node, graph=None) -> str | None:
    """Why pass `pass_id` leaves `node` (of `graph`, a GraphView, if given) as it is
    (`RewritePass.leaves`), or None."""
    try:
        from trtforge.analyzer.rewrite.registry import get_pass
    except ImportError:  # the knowledge base without the rewrite package
        return None
    try:
        return get_pass(pass_id).leaves(node, graph)
    except KeyError:
        return None


def complete_graph(findings: list[Finding]) -> list[Finding]:
    """Graph-level findings, completed as `complete` does for nodes."""
    return [_no_fix(_opset_fix(f)) for f in findings]
