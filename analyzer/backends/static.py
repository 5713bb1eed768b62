"""The static backend: per-node verdicts from the knowledge base. No GPU, no TensorRT.

For every node: find how the parser would handle it (a built-in importer, chosen by op_type
alone whatever the domain; else a plugin), then apply the rule's facts — availability on the
target, opset range, element types, build-time-constant inputs, attribute limits, and the
rule's own check. Nodes with subgraphs (If/Loop/Scan) get the verdict of their whole body.

Large models repeat a few kinds of node thousands of times; a node found supported with no
finding lends that verdict to the nodes that look exactly like it (`VerdictMemo`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import itertools
import logging
import math
import re
from collections.abc import Mapping
from itertools import repeat
from operator import itemgetter

import numpy as np
import onnx

from trtforge.analyzer import schema_types, validity
from trtforge.analyzer.backends import local_functions
from trtforge.analyzer.findings import Finding, Fix
from trtforge.analyzer.graph import GraphView, holds_graph
from trtforge.analyzer.inference import GENERATED_DIM, TypeTable
from trtforge.analyzer.kb import fixability, graph_rules
from trtforge.analyzer.kb.policy import (
    MAX_TENSOR_ELEMENTS,
    convertible_types,
    default_types,
    effective_dtype,
    intermediate_refused_types,
    uint8_weights,
)
from trtforge.analyzer.kb.registry import all_rules, find_rule
from trtforge.analyzer.kb.rule import (
    AttributeRead,
    NodeContext,
    OpRule,
    display_name,
    finding_prefix,
)
from trtforge.analyzer.loading import LoadedModel, load_model
from trtforge.analyzer.plugin_lookup import find_plugin
from trtforge.analyzer.report import (
    PLUGIN,
    SUPPORTED,
    UNSUPPORTED,
    ModelInfo,
    NodeVerdict,
    PluginRef,
    Report,
)
from trtforge.analyzer.session import ModelSession
from trtforge.analyzer.targets import Target

try:  # node keys built in C (csrc/analyzer/memo_keys.cpp), when it was built
    from trtforge.analyzer import _memo_keys
except ImportError:  # pragma: no cover - a build without a C++ compiler
    _memo_keys = None

log = logging.getLogger("trtforge.static")

FOLD = Fix("rewrite", "fold-constants")

#: a body of this many nodes or more shares verdicts among alike nodes
#: (`StaticChecker._body_verdicts`)
BODY_MEMO_FROM = 64

#: a group of tensors typed alike smaller than this is keyed one by one: keying by type
#: makes two passes over the whole type table (~0.02 s for 100,000 tensors)
KEYED_ALONE_BELOW = 64

#: a form (`graph.NodeFields.forms`) of this many signatures or more, each of at most
#: VARIED_NODES_PER_SIGNATURE nodes on average, is one verdict key for the values of the
#: attributes its signatures differ in (`VerdictMemo.kinds`)
VARIED_FROM = 64
VARIED_NODES_PER_SIGNATURE = 2
_NOT_VARIED = object()
_NONE_VARIED: frozenset[int] = frozenset()


def _domain(node: onnx.NodeProto) -> str:
    return "" if node.domain in ("", "ai.onnx") else node.domain


def _builtin_rule(node: onnx.NodeProto, target: Target) -> OpRule | None:
    """The rule of the importer the parser dispatches `node` to, if one exists on `target`."""
    domain = _domain(node)
    if domain:
        custom = find_rule(domain, node.op_type)
        if custom is not None:
            return custom
    rule = find_rule("", node.op_type)
    if rule is None:
        return None
    if domain and not rule.since.available(target):
        return None  # no importer on this target: the parser tries a plugin instead
    return rule


def has_importer(node: onnx.NodeProto, target: Target) -> bool:
    """True when `target`'s parser dispatches `node` to a built-in importer (by op_type, whatever
    the domain: TensorRT-RTX imports com.microsoft SkipSimplifiedLayerNormalization itself), so
    the node is not looked up as a plugin."""
    rule = _builtin_rule(node, target)
    return rule is not None and rule.since.available(target)


def plugin_match(node: onnx.NodeProto, target: Target):
    """The plugin `node` resolves to on `target` (no built-in importer takes it), else None."""
    rule = _builtin_rule(node, target)
    if rule is not None and rule.since.available(target):
        return None
    return find_plugin(node, target)


class StaticChecker:
    """Applies the knowledge base to every node of one model for one target.

    Args:
        model: the model, or its session (whose type table and structural problems it
            shares: `session.ModelSession`).
        target: the target.
        memo: share verdicts among nodes that look alike (`VerdictMemo`); False judges every
            node on its own (the reference the memo is tested against).
    """

    def __init__(
        self, model: LoadedModel | ModelSession, target: Target, memo: bool = True
    ) -> None:
        self.session = ModelSession.of(model)
        loaded = self.loaded = self.session.loaded
        self.target = target
        self.memo = memo
        self.opsets = loaded.opsets
        #: every tensor's type: set by `run` (inferred while the graph's structure is read).
        self.types = TypeTable()
        self._default_types = default_types(target)
        self._convertible = convertible_types(target)
        self._refused_intermediate = intermediate_refused_types(target)
        self._dispatch: dict[tuple[str, str], tuple[OpRule | None, int, bool]] = {}
        #: (op_type, domain, serialized attributes) -> the plugin such a node resolves to
        #: (what the lookup reads of a node; a model repeats a few kinds many times)
        self._plugins: dict[tuple, object] = {}
        #: (domain, op_type) -> the rewrite passes that remove such a node
        self._removing: dict[tuple[str, str], tuple[Fix, ...]] = {}
        self._input_types: dict[tuple[tuple[str, str], int], frozenset[str]] = {}
        #: model-local functions by name (the parser looks them up by op_type alone)
        self._functions = local_functions.parser_functions(loaded.structure)
        self._depth = 0  # of local-function calls being judged (see `_call_findings`)
        self._calls: local_functions.CallVerdicts | None = None  # (made when a call is met)
        #: the keys of body nodes judged "supported, no finding" without reading anything
        #: else, for every body of the model (`_body_verdicts`), and how many body nodes
        #: have been judged so far
        self._clean_body_keys: set[tuple] = set()
        #: a body node's key -> {what its verdict read: what nodes judged clean held there}
        self._clean_body_values: dict[tuple, dict[tuple, set[tuple]]] = {}
        #: (a node's input keys, its output keys) -> `_made_up_dims_renumbered` of them: the
        #: nodes of 2,000 bodies alike have a few dozen (hashing them is ~10x faster than
        #: renumbering their dims again)
        self._renumbered: dict[tuple, tuple] = {}
        self._body_nodes = 0

    # -- one node -----------------------------------------------------------------------
    def _rule_of(self, node: onnx.NodeProto) -> tuple[OpRule | None, int, bool]:
        """(rule, opset, has a built-in importer on the target), per (op_type, domain)."""
        key = (node.op_type, node.domain)
        found = self._dispatch.get(key)
        if found is None:
            rule = _builtin_rule(node, self.target)
            # Built-in importers read the default domain's opset whatever the node's domain
            # (onnx-tensorrt ImporterContext::getOpsetVersion() with no domain).
            opset_domain = "" if rule is not None and not rule.domain else _domain(node)
            builtin = rule is not None and rule.since.available(self.target)
            found = self._dispatch[key] = (rule, self.opsets.get(opset_domain, 0), builtin)
        return found

    def evaluate(self, node: onnx.NodeProto, graph: GraphView):
        """Returns (status, findings, plugin match) for one node."""
        return self._judge(node, graph)[:3]

    def _judge(
        self,
        node: onnx.NodeProto,
        graph: GraphView,
        watch: bool = False,
        attributes: list[bytes] | None = None,
        elided: bool = False,
        varied: frozenset[int] = frozenset(),
    ):
        """`evaluate`, and the NodeContext the rule saw (`watch`: see NodeContext;
        `attributes`: the node's, serialized, if at hand: its plugin lookup is then shared
        with the nodes of the same op, domain and attributes; `elided`: its key leaves out
        tensor values, `NodeFields.attribute_keys`; `varied`: the attributes its key holds
        without their values, `VerdictMemo.kinds`)."""
        rule, opset, builtin = self._rule_of(node)
        ctx = NodeContext(
            node, graph, self.target, opset, rule, watch=watch, elided=elided, varied=varied
        )
        if not builtin and node.op_type in self._functions:
            findings = self._call_findings(node, graph, ctx, not elided and not varied)
            status = UNSUPPORTED if any(f.is_error for f in findings) else SUPPORTED
            return status, findings, None, ctx
        if not builtin:
            plugin = self._plugin_of(node, attributes)
            if plugin is not None:
                findings = fixability.complete(self._plugin_findings(ctx, plugin), node, graph)
                return PLUGIN, findings, plugin, ctx
            # a node its schema refuses is invalid whatever imports it
            findings = list(_invalid_inputs(ctx, node, graph))
            findings.append(self._no_importer(ctx, rule, node))
            findings = fixability.complete(findings, node, graph)
            if any(f.code.startswith("invalid/") for f in findings):  # trt-rewrite refuses
                findings = [dataclasses.replace(f, fixes=()) for f in findings]  # such a node
            return UNSUPPORTED, findings, None, ctx
        findings = list(self._apply(ctx, node, graph, rule))
        only = set(rule.bodies(ctx)) if rule.bodies is not None else None
        findings.extend(self._subgraphs(node, graph, only))
        findings = fixability.complete(findings, node, graph, ctx)
        status = UNSUPPORTED if any(f.is_error for f in findings) else SUPPORTED
        return status, findings, None, ctx

    def _plugin_of(self, node: onnx.NodeProto, attributes: list[bytes] | None):
        """`find_plugin(node)`, once per op, domain and attributes when they are given."""
        if attributes is None:
            return find_plugin(node, self.target)
        key = (node.op_type, node.domain, tuple(attributes))
        if key not in self._plugins:
            self._plugins[key] = find_plugin(node, self.target)
        return self._plugins[key]

    def _custom_fixes(self, node: onnx.NodeProto) -> tuple[Fix, ...]:
        """`_custom_fixes(node)`, once per domain and op."""
        key = (_domain(node), node.op_type)
        found = self._removing.get(key)
        if found is None:
            found = self._removing[key] = _custom_fixes(node)
        return found

    def _call_findings(
        self, node: onnx.NodeProto, graph: GraphView, ctx: NodeContext, keyed: bool
    ) -> list[Finding]:
        """A call to a model-local function: the findings of its body (`local_functions`),
        judged once per kind of call (`local_functions.CallVerdicts`). The verdict comes
        from the function's body (`ctx.reads_outside`), unless it has no finding and so
        holds for the calls alike in the key (`keyed`: it holds every attribute's value) and
        in the constants it read (each input's: `NodeContext.input_value`)."""
        ctx.reads_outside = True
        if self._depth >= local_functions.MAX_DEPTH:
            return []
        if self._calls is None:

            def check(model: onnx.ModelProto) -> Report:
                path = self.loaded.path
                inner = StaticChecker(
                    load_model(model, path.parent if path is not None else None),
                    self.target,
                    memo=False,
                )
                inner._depth = self._depth + 1
                return inner.run()

            self._calls = local_functions.CallVerdicts(self.loaded.structure, check)
        findings, alike = self._calls.findings(node, graph)
        if alike and keyed:
            for index in range(len(node.input)):  # (the constants it read: shared by them)
                ctx.input_value(index)
            ctx.reads_outside = False
        return findings

    def _allowed_input_types(self, rule: OpRule, index: int | str) -> frozenset[str]:
        """The element types input `index` ("*": any position the rule does not list) may
        have under `rule` on the target."""
        key = (rule.key, index)
        allowed = self._input_types.get(key)
        if allowed is None:
            listed = rule.types.get(index, rule.types.get("*"))
            if listed is None:
                allowed = self._default_types
            else:  # a type the parser cannot convert is refused whatever the rule lists
                allowed = frozenset(listed) & self._convertible
            self._input_types[key] = allowed
        return allowed

    def _plugin_findings(self, ctx: NodeContext, plugin) -> list[Finding]:
        if plugin.available:
            return []
        return [
            ctx.finding(
                "plugin-not-registered",
                f"runs only through plugin {plugin.namespace}::{plugin.name} "
                f"v{plugin.version}, whose kernels are not built in this install",
                "install trtforge on a machine with nvcc so its CUDA plugins are built",
            )
        ]

    def _no_importer(self, ctx: NodeContext, rule: OpRule | None, node: onnx.NodeProto) -> Finding:
        """The finding of a node no importer takes (`node`: ctx's node, whose op and domain —
        part of its verdict key — are read here without marking the context)."""
        domain = _domain(node)
        if rule is not None:  # a known op, not available on this target
            first = rule.since.first(self.target)
            why = rule.since.reason or (
                f"the {self.target.line} parser has no importer for it"
                if first is None
                else f"first accepted in {self.target.family}-{first[0]}.{first[1]}"
            )
            return ctx.finding(
                "not-available",
                f"not supported on {self.target.id}: {why}",
                rule.hint or "rewrite the model to avoid this op, or implement it as a plugin",
                _merge_fixes(rule.fixes, self._custom_fixes(node)),
                source=rule.source,
            )
        if domain:
            return ctx.finding(
                "custom-domain-op",
                f"custom op of domain '{domain}' has no TensorRT importer and no known plugin",
                "decompose it into standard ONNX ops (trt-rewrite) or provide a plugin "
                f"named '{node.op_type}' (trt-plugin new {node.op_type})",
                self._custom_fixes(node),
            )
        return ctx.finding(
            "unknown-op",
            "not an operator of the ONNX standard, and no plugin of that name is known",
            f"check the exporter; or provide a plugin named '{node.op_type}'",
            self._custom_fixes(node),
        )

    def _apply(self, ctx: NodeContext, node: onnx.NodeProto, graph: GraphView, rule: OpRule):
        # the inputs' types and ranks the schema allows (a model breaking them is invalid)
        yield from _invalid_inputs(ctx, node, graph)
        if rule.opsets is not None and ctx.opset:
            low, high = rule.opsets
            if ctx.opset < low or (high is not None and ctx.opset > high):
                yield ctx.finding(
                    "opset-out-of-range",
                    f"opset {ctx.opset} is outside the range the parser accepts for this op "
                    f"({low}..{high if high is not None else ''})",
                    "re-export the model at an opset the parser accepts",
                )
        if rule.empty_outputs_refused and not all(node.output):
            yield ctx.finding(
                "empty-output",
                "an output is given an empty name (left out), which the parser's importer for "
                "this op refuses: it makes every output and counts fewer names",
                "give every output a name in the exporter (an output nothing reads may stay "
                "unread)",
            )
        refused = rule.empty_inputs_refused
        listed, facts = rule.types, graph.facts
        # (the types of a position the rule does not list are its "*": looked up once)
        unlisted = self._allowed_input_types(rule, "*")
        for index, name in enumerate(node.input):
            if not name:
                if refused == "*" or index in refused:
                    yield _empty_input_finding(ctx, node, index)
                continue
            declared = facts(name)[0]
            if declared == "UNDEFINED":
                continue
            allowed = self._allowed_input_types(rule, index) if index in listed else unlisted
            if declared in allowed and declared != "UINT8":
                continue  # (a Concat of 100,000 inputs: the common case, in short)
            dtype = effective_dtype(graph, name, declared)
            if dtype == "UINT8" and dtype not in allowed and uint8_weights(graph, name):
                dtype = "INT32"  # an importer that wants a tensor gets an INT32 constant
            if dtype not in allowed:
                inside = f" ({dtype} inside TensorRT)" if dtype != declared else ""
                yield ctx.finding(
                    "unsupported-dtype",
                    f"input {index} ('{name}') has type {declared}{inside}, which the parser "
                    f"does not accept here (accepts {', '.join(sorted(allowed))})",
                    rule.type_hints.get(
                        index, "cast the tensor to a supported type in the exporter"
                    ),
                    rule.type_fixes.get(index, ()),
                )
        for index, name in enumerate(node.output):
            allowed = rule.output_types.get(index, rule.output_types.get("*"))
            if not name or allowed is None:
                continue
            info = graph.tensor(name)
            if info.dtype != "UNDEFINED" and info.dtype not in allowed:
                yield ctx.finding(
                    "unsupported-dtype",
                    f"output {index} ('{name}') has type {info.dtype}, which the parser does "
                    f"not produce here (produces {', '.join(sorted(allowed))})",
                    "change the requested output type in the exporter",
                )
        for index, name in enumerate(node.output):
            if not name:
                continue
            info = graph.tensor(name)
            volume = math.prod(info.shape) if info.static_shape else 0
            if volume > MAX_TENSOR_ELEMENTS:
                yield ctx.finding(
                    "tensor-too-large",
                    f"output {index} ('{name}') would hold {volume:,} elements; a TensorRT "
                    f"tensor holds at most {MAX_TENSOR_ELEMENTS:,} (2^40), and the engine "
                    "build fails",
                    "fix the exporter: the sizes that make this tensor were computed wrongly",
                )
            dtype = effective_dtype(graph, name, info.dtype)
            if graph.is_graph_output(name):
                if dtype == "INT32" and info.dtype == "UINT8":
                    yield ctx.finding(
                        "uint8-weights-output",
                        f"output {index} ('{name}') is declared UINT8 but is computed from "
                        "UINT8 weights, which TensorRT imports as INT32",
                        "declare the output INT32, or Cast it to UINT8 before the graph output",
                    )
                continue
            if dtype in self._refused_intermediate and not uint8_weights(graph, name):
                yield ctx.finding(
                    "uint8-intermediate",
                    f"output {index} ('{name}') is a UINT8 tensor that is not a graph output; "
                    "TensorRT allows UINT8 only for network inputs and outputs",
                    "keep the tensor in INT32/FLOAT (cast to UINT8 only at the graph output), "
                    "or quantize to INT8",
                )
        for index, why in rule.const_inputs.items():
            if ctx.has_input(index) and not graph.tensor(node.input[index]).is_constant:
                yield ctx.finding(
                    "input-not-constant",
                    f"input {index} ('{node.input[index]}') must be a build-time constant: {why}",
                    "fold it into an initializer (trt-rewrite --fold-constants) if it depends "
                    "only on static shapes; otherwise export with a fixed value",
                    (FOLD,),
                )
        for limit in rule.attrs:
            value = ctx.attr(limit.name, limit.default)
            if value is None or value in limit.allowed:
                continue
            yield ctx.finding(
                limit.code or f"{limit.name}",
                f"attribute {limit.name}={value!r} is not supported "
                f"(supported: {', '.join(map(repr, sorted(limit.allowed, key=str)))})",
                limit.hint or "re-export with a supported value",
                limit.fixes,
            )
        if rule.check is not None:
            yield from rule.check(ctx)

    def _subgraphs(
        self, node: onnx.NodeProto, graph: GraphView, only: set[str] | None = None
    ) -> list[Finding]:
        out: list[Finding] = []
        for attr in node.attribute:
            if only is not None and attr.name not in only:
                continue
            bodies = [attr.g] if attr.HasField("g") else list(attr.graphs)
            for body in bodies:
                label = f"{graph.path}{node.name or node.op_type}/{attr.name}"
                view = GraphView(body, self.types, outer=graph, path=label + "/")
                for inner, (_, findings, plugin) in self._body_verdicts(view):
                    if plugin is not None and plugin.available:
                        continue
                    for finding in findings:
                        if not finding.is_error:
                            continue
                        where = f"{label}/{inner.name or inner.op_type}"
                        out.append(
                            Finding(
                                code=finding.code,
                                message=(
                                    f"{node.op_type} node '{node.name}': body node '{where}' "
                                    f"is not supported: {finding.message}"
                                ),
                                hint=finding.hint,
                                fixes=finding.fixes,
                                source=finding.source,
                                inner=finding.inner or where,
                            )
                        )
        return out

    def _body_verdicts(self, view: GraphView):
        """(node, `evaluate`'s verdict) for each node of the body `view`, in order. In a body
        of BODY_MEMO_FROM nodes or more (a scripted model's If around the whole network), and
        in every body once the model's bodies have held 4 × BODY_MEMO_FROM nodes (2,000 Ifs
        of 50 nodes each), a node alike in every fact the memo's keys hold (op, domain,
        serialized attributes, and each tensor's facts, effective type and being a graph
        output: `_BodyKeys`) to one judged "supported, no finding" without reading anything
        else (`NodeContext`), in this body or another, has that verdict too, unjudged: the
        only one a body's node passes on is its errors. Dims shape inference made up enter the
        key by the order they first appear in the node's tensors, as in `VerdictMemo`'s keys
        (each copy of a body gets names of its own: 72 copies of a detector's Loop). Nodes
        with bodies of their own are judged one by one."""
        count = len(view.graph.node)
        self._body_nodes += count
        if count < BODY_MEMO_FROM and self._body_nodes < BODY_MEMO_FROM * 4:
            for _, inner in view.nodes():
                yield inner, self.evaluate(inner, view)
            return
        f = view.fields
        keys = _BodyKeys(view)
        keys.key_alike()
        clean = self._clean_body_keys  # (a key holds what the verdict reads: any body's)
        by_values = self._clean_body_values
        held = _constant_outputs_held(view)
        nested: dict[bytes, bool] = {}
        supported = (SUPPORTED, [], None)
        renumbered = self._renumbered
        for index, inner in view.nodes():
            attributes = f.attributes[index]
            key = None
            if all(map(_plain_attribute, attributes, repeat(nested))):
                tensors = (keys.of(f.inputs[index]), keys.of(f.outputs[index]))
                alike = renumbered.get(tensors)
                if alike is None:
                    alike = renumbered[tensors] = _made_up_dims_renumbered(*tensors)
                key = (f.ops[index], f.domains[index], tuple(attributes), *alike)
                if key in clean:
                    yield inner, supported
                    continue
                seen = by_values.get(key)
                if seen is not None and any(
                    (held_now := _values_held(view, index, reads, held, local=True)) is not None
                    and held_now in values
                    for reads, values in seen.items()
                ):
                    yield inner, supported
                    continue
            status, findings, plugin, ctx = self._judge(inner, view, key is not None)
            if key is not None and status == SUPPORTED and not findings and not ctx.reads_outside:
                if not ctx.values_read:
                    clean.add(key)
                else:  # shared with the nodes of this key that hold the same there
                    reads = tuple(ctx.values_read)
                    held_now = _values_held(view, index, reads, held, local=True)
                    if held_now is not None:
                        by_values.setdefault(key, {}).setdefault(reads, set()).add(held_now)
            yield inner, (status, findings, plugin)

    # -- whole model --------------------------------------------------------------------
    def run(self) -> Report:
        proto = self.loaded.structure  # (no weight's values are read)
        pending = self.session.pending_types()
        try:  # what needs no types, while they are inferred
            top = GraphView.of_loaded(self.loaded, self.types)
            top.read_structure()
            memo = VerdictMemo(top) if self.memo else None
            f = top.fields
            kinds = memo.kinds(f) if memo is not None else None
            # every verdict starts as "supported"; judging a node below changes its own
            verdicts = NodeVerdict.many(f.names, f.ops, f.domains)
            problems = self.session.structural_problems(top) if self._depth == 0 else []
            pending.meanwhile(lambda: _prepare(top, memo))
            self.types = pending.result()
        finally:
            pending.close()
        top.use_types(self.types)
        if schema_types.needs_schemas(set(f.domains)) and isinstance(self.types, TypeTable):
            self.types = _with_schema_types(top, self.types, self.opsets)
        node = f.node

        def display(index: int) -> str:
            # (`index` is the node's position in the top-level graph: no wrapper looked up)
            return display_name(f.names[index], f.ops[index], lambda: index)

        def judge(index: int, watch: bool = False) -> tuple | None:
            """Judges node `index` (`watch`: the first node of its key). Returns what the
            nodes of its key may share, when its rule read nothing outside the key: ("clean",
            reads) for a verdict "supported, no finding" — `reads`, the constant values and
            input analyses it read (`NodeContext.values_read`), that a node must hold alike —
            or ("named", status, findings, plugin) for one whose findings differ from node to
            node only by the name their messages start with; None otherwise."""
            varied = memo.varied(kinds[index]) if memo is not None else frozenset()
            status, findings, plugin, ctx = self._judge(
                node(index), top, watch, f.attributes[index], f.elided(index), varied
            )
            verdict = verdicts[index]
            verdict.status, verdict.reasons = status, findings
            if plugin is not None:
                verdict.plugin = PluginRef(
                    plugin.name, plugin.version, plugin.namespace, plugin.available
                )
            if ctx.reads_outside:
                return None
            if status == SUPPORTED and not findings:
                return ("clean", tuple(ctx.values_read))
            prefix = finding_prefix(f.ops[index], display(index))
            # (findings are completed from the node itself, attributes and all: `fixability`)
            if ctx.values_read or varied:
                return None
            if not all(x.message.startswith(prefix) for x in findings):
                return None
            # the engine's own findings quote tensor names (an input's dtype): a verdict whose
            # text holds one of the node's tensor names is this node's alone
            texts = [x.message[len(prefix) :] + "\0" + x.hint + "\0" + x.inner for x in findings]
            names = [n for n in (*f.inputs[index], *f.outputs[index]) if n]
            if any(_mentions(text, str(n)) for n in names for text in texts):
                return None
            # (each finding's fields, and its message after the node's name)
            named = [(vars(x), x.message[len(prefix) :]) for x in findings]
            return ("named", status, named, verdict.plugin)

        new_finding = object.__new__

        def share_named(index: int, first: int, status: str, findings: list, plugin) -> None:
            """Gives node `index` the verdict of the first node of its key, node `first`
            (`judge`'s "named": each finding's fields and the rest of its message): the same
            findings, their messages starting with this node's name (each made as
            `Finding.with_message` makes one, without its two dict updates: 39,000 nodes
            of an LLM); both hold `findings` as their `kin`."""
            prefix = finding_prefix(f.ops[index], display(index))
            verdicts[first].kin = findings
            verdict = verdicts[index]
            verdict.status, verdict.plugin, verdict.kin = status, plugin, findings
            reasons = verdict.reasons = []
            for fields, rest in findings:
                finding = new_finding(Finding)
                made = finding.__dict__
                made.update(fields)
                made["message"] = prefix + rest
                reasons.append(finding)

        if memo is None:
            for index in range(len(verdicts)):
                judge(index)
        else:
            # the first node of each key is judged; the others share its verdict when its
            # rule read nothing but the key (`VerdictMemo`), else each is judged on its own
            numbers = memo.numbers(kinds, f.inputs, f.outputs)
            firsts = memo.firsts(numbers)
            shared = [judge(index, watch=True) for index in firsts]
            clean = [outcome == ("clean", ()) for outcome in shared]
            # keys whose verdict read constant values: shared among the nodes that hold the
            # same constants there (`VerdictMemo.values_key`)
            by_values: dict[int, dict[tuple, None]] = {
                number: {memo.values_key(firsts[number], outcome[1]): None}
                for number, outcome in enumerate(shared)
                if outcome is not None and outcome[0] == "clean" and outcome[1]
            }
            alone = memo.judged_alone(numbers, clean, firsts)
            holding = memo.holding_seen(alone, numbers, by_values)
            # number -> the inputs read by its verdicts seen clean (`values_key`'s first
            # part; a node is looked up once for each, not once for each verdict seen)
            reads_of = {
                number: dict.fromkeys(key[0] for key in keys) for number, keys in by_values.items()
            }
            for index in alone:
                if index in holding:
                    continue  # holds the constants of a verdict seen clean: shares it
                number = numbers[index]
                outcome = shared[number] if number >= 0 else None
                if outcome is not None and outcome[0] == "named":
                    share_named(index, firsts[number], *outcome[1:])
                    continue
                seen = by_values.get(number)
                if seen is None:
                    judge(index)
                    continue
                if any(memo.values_key(index, reads) in seen for reads in reads_of[number]):
                    continue
                again = judge(index, watch=True)
                if again is not None and again[0] == "clean" and again[1]:
                    seen[memo.values_key(index, again[1])] = None
                    reads_of[number][again[1]] = None
        graph_findings = fixability.complete_graph(
            list(graph_rules.check_graph(self.loaded, top, self.target))
        )
        report = Report(
            model=model_info(self.loaded),
            target=self.target.id,
            backend="static",
            nodes=verdicts,
            graph_findings=graph_findings,
        )
        if self._depth == 0 and not any(p.finding.is_error for p in problems):
            problems += validity.inference_problems(self.types.strict_error, proto, f)
        if self._depth == 0 and not any(p.finding.is_error for p in problems):
            problems += validity.negative_dim_problems(proto.graph, self.types)
        validity.attach(report, problems)
        return report


def _invalid_inputs(ctx: NodeContext, node: onnx.NodeProto, graph: GraphView):
    """`invalid/` findings for the ways the node's inputs (and fixed output types) break
    its schema (`validity.input_problems`)."""
    for code, why, hint in validity.input_problems(node, graph, ctx.opset):
        yield ctx.finding(f"invalid/{code}", why, hint + validity.NO_FIX, source=validity.SOURCE)


def _empty_input_finding(ctx: NodeContext, node: onnx.NodeProto, index: int):
    """Input `index` of `node` is given as an empty name, which its importer refuses
    (`OpRule.empty_inputs_refused`: the parser counts the empty name as an input it cannot
    read). Left out at the end, the input is simply absent (`--trim-empty-inputs`)."""
    trailing = all(not name for name in node.input[index:])
    return ctx.finding(
        "empty-input",
        f"input {index} is given as an empty name (an optional input left out), which the "
        "parser's importer for this op refuses",
        "leave the input out of the node's input list"
        if trailing
        else "give the input its default value as a constant in the exporter",
        (Fix("rewrite", "trim-empty-inputs"),) if trailing else (),
    )


def _with_schema_types(top: GraphView, types: TypeTable, opsets: Mapping[str, int]) -> TypeTable:
    """`types`, with the element types the op schemas give the top-level tensors that ONNX's
    inference left untyped (`schema_types`: what follows onnxruntime's com.microsoft ops), set
    on `top` too; `types` itself where there are none."""
    f = top.fields
    found = schema_types.element_types(
        f.ops,
        f.domains,
        f.inputs,
        f.outputs,
        opsets,
        _element_type_reader(top, types),
        types.serialized_table(),
        itertools.chain(top.initializer_names(), top.input_names()),
    )
    if not found:
        return types
    types = types.with_element_types(found)
    top.use_types(types, changed=found)
    return types


def _element_type_reader(top: GraphView, types: TypeTable):
    """name -> its element type ("UNDEFINED": none), as `top.facts(name)[0]` gives it: for a
    tensor the nodes compute, read off its serialized type once per distinct type (the
    schema binder asks for ~25,000 names of an LLM; its facts, ~3 µs each, are not needed),
    for the graph's initializers and inputs from the view."""
    facts = top.facts
    table = types.serialized_table()
    declared = top.initializer_names() | top.input_names()
    by_type: dict[bytes, str] = {}

    def element_type(name: str) -> str:
        raw = None if name in declared else table.get(name)
        if raw is None:
            return facts(name)[0]
        dtype = by_type.get(raw)
        if dtype is None:
            dtype = by_type[raw] = facts(name)[0]
        return dtype

    return element_type


def _prepare(top: GraphView, memo: VerdictMemo | None) -> None:
    """What needs no types, done while they are inferred: the knowledge base's rules loaded
    (their modules register the structural analyses), those analyses of the graph
    (`GraphView.prepare_structural`), the memo's table of constant values, and onnxruntime's
    schemas where its ops will ask for them (`schema_types.read_schemas_for`)."""
    all_rules()
    top.prepare_structural()
    if memo is not None:
        memo.prepare()
    schema_types.read_schemas_for(top.fields.domains)


def _mentions(text: str, name: str) -> bool:
    """Whether `text` holds tensor `name` as a word of its own: not inside a longer word (a
    tensor named `s` is not mentioned by "is supported"), so that the findings of generated
    graphs' one-letter names are still shared (`StaticChecker.run`'s "named" verdicts)."""
    start = text.find(name)
    while start >= 0:
        end = start + len(name)
        if not (start and _WORD_CHAR(text[start - 1])) and not (
            end < len(text) and _WORD_CHAR(text[end])
        ):
            return True
        start = text.find(name, start + 1)
    return False


#: whether a character continues a word (letters, digits, underscore): a name's occurrence
#: next to one is part of another word
_WORD_CHAR = re.compile(r"\w").fullmatch


def _holds_graph(attribute: bytes, nested: dict[bytes, bool]) -> bool:
    """`holds_graph(attribute)`, looked up in `nested` (the answers so far) first."""
    found = nested.get(attribute)
    if found is None:
        found = nested[attribute] = holds_graph(attribute)
    return found


def _plain_attribute(attribute, nested: dict[bytes, bool]) -> bool:
    """Whether a serialized attribute is bytes holding no graph (`nested`: as
    `_holds_graph`)."""
    return type(attribute) is bytes and not _holds_graph(attribute, nested)


def _tensor_key(graph: GraphView, name: str, facts: tuple) -> tuple:
    """What a verdict key holds of tensor `name` of `graph` whose facts are `facts`: those,
    its type inside TensorRT, whether it is a graph output, and, for UINT8, whether the
    parser reads it as INT32 weights."""
    return (
        facts,
        effective_dtype(graph, name, facts[0]),
        graph.is_graph_output(name),
        facts[0] == "UINT8" and uint8_weights(graph, name),  # read as INT32 by most ops
    )


def _constant_outputs_held(view: GraphView) -> dict[str, object]:
    """What stands for the constant value of each output of a Constant node of `view` (its
    attributes: `_value_attributes`, its tensor's name left out), the last producer of a
    name as `producer_index` has it. A body's held values are these alone: its initializers'
    names, which stand for their values in one graph, are another body's too."""
    fields, producer = view.fields, view.producer_index
    return {
        out: ("Constant", _value_attributes(fields, i))
        for i in [i for i, op in enumerate(fields.ops) if op == "Constant"]
        for out in fields.outputs[i]
        if out and producer[out] == i
    }


#: an initializer of at most this many elements stands for its value in `values_key`, not for
#: its name (`_HeldByValue`)
HELD_BY_VALUE_UP_TO = 64


class _HeldByValue:
    """What stands for the constant value of a top-level tensor in `VerdictMemo.values_key`:
    `constants` (`VerdictMemo._constants_held`), but a small initializer (at most
    HELD_BY_VALUE_UP_TO elements, read by `GraphView.constant_value`, which is what a check
    reads through `NodeContext.input_value`) stands for its value — its element type, shape
    and bytes — instead of its name. An exporter gives each node's axes, starts or shape an
    initializer of its own (a transformer's thousands of Unsqueeze nodes, each with its [0]):
    nodes of one key holding equal values share a verdict seen clean instead of each being
    judged. Made once per initializer asked for."""

    def __init__(self, graph: GraphView, constants: dict[str, object]) -> None:
        self._graph = graph
        self._constants = constants
        self._by_value: dict[str, object] = {}

    def get(self, name: str) -> object:
        held = self._constants.get(name)
        if type(held) is not str:  # a Constant's output (its attributes), or no constant
            return held
        by_value = self._by_value.get(name)
        if by_value is None:
            by_value = held  # (a large or unreadable one: by its name)
            shape = self._graph.facts(name)[1]  # (its dims: nothing read of a large one)
            if shape is not None and math.prod(shape) <= HELD_BY_VALUE_UP_TO:
                value = self._graph.constant_value(name)  # (decoded to those dims)
                # (objects — strings — by name: their bytes would be addresses, not values)
                if value is not None and value.dtype.kind != "O":
                    by_value = _by_value(value)
            self._by_value[name] = by_value
        return by_value

    def many(self, names: list[str]) -> list[object]:
        """`get` of each of `names`, the small initializers among them read together
        (`GraphView.constant_rows`: one buffer per element type and count) instead of
        decoded one by one: a U-Net's 10,000 Resize nodes each have scales of their own."""
        unread = [
            name
            for name in dict.fromkeys(names)
            if name not in self._by_value and type(self._constants.get(name)) is str
        ]
        facts = self._graph.facts
        small = {}  # name -> its dims
        for name in unread:
            shape = facts(name)[1]
            if shape is not None and math.prod(shape) <= HELD_BY_VALUE_UP_TO:
                small[name] = shape
        if len(small) > 1:
            for dtype, group, rows in self._graph.constant_rows(small):
                if dtype == "BFLOAT16":  # (read as FLOAT there: decoded one by one)
                    continue
                for name, row in zip(group, rows, strict=True):
                    self._by_value[name] = _by_value(row.reshape(small[name]))
        return list(map(self.get, names))


def _by_value(value: np.ndarray) -> tuple:
    """What stands for a small initializer's value (`_HeldByValue`): its element type, shape
    and bytes."""
    return ("value", value.dtype.str, value.shape, value.tobytes())


def _values_held(
    view: GraphView,
    index: int,
    reads: tuple,
    constants: dict | _HeldByValue,
    local: bool = False,
) -> tuple | None:
    """What node `index` of `view` holds where a judged node's check read
    (`NodeContext.values_read`): an analysis by its answer, an attribute the key holds
    without its value by its key, an input by what stands for its constant value in
    `constants` (`VerdictMemo.values_key`). Any other input has no constant value (None);
    `local` (a body): where it is not computed by the body either (an initializer, an
    enclosing graph's value), the node is not keyed (None)."""
    inputs = view.fields.inputs[index]
    out = []
    for read in reads:
        if type(read) is tuple:  # (input, analysis): `NodeContext.input_derived`
            position, analysis = read
            out.append(("derived", analysis(view, inputs[position])))
        elif type(read) is AttributeRead:  # an attribute the key holds without its value
            out.append(view.fields.attribute_keys[index][read.position])
        else:
            name = inputs[read]
            held = constants.get(name)
            if held is None and local and name not in view.producer_index:
                return None
            out.append(held)
    return tuple(out)


def _made_up_dims_renumbered(*tensor_keys: tuple) -> tuple:
    """`tensor_keys` (`_BodyKeys.of` of a node's inputs, then of its outputs) with each dim
    name shape inference made up (`unk__<n>`) replaced by the order in which it first appears
    among them: two nodes whose dims are alike but for those names have one key. A check can
    compare a node's dims with each other, and such a name means nothing else (a check that
    asks more of one, `NodeContext.is_input_dim`, reads outside the key)."""
    seen: dict[str, int] = {}
    out = []
    for keys in tensor_keys:
        renamed = []
        for key in keys:
            shape = key[0][1] if key else None
            if shape and any(type(d) is str and d.startswith(GENERATED_DIM) for d in shape):
                dims = tuple(
                    (GENERATED_DIM, seen.setdefault(d, len(seen)))
                    if type(d) is str and d.startswith(GENERATED_DIM)
                    else d
                    for d in shape
                )
                key = ((key[0][0], dims, *key[0][2:]), *key[1:])
            renamed.append(key)
        out.append(tuple(renamed))
    return tuple(out)


class _BodyKeys:
    """What `StaticChecker._body_verdicts` keys a body's tensors by: `_tensor_key`, as
    `VerdictMemo` keys a top-level tensor (made-up dims here by their names)."""

    def __init__(self, view: GraphView) -> None:
        self._view = view
        self._keys: dict[str, tuple] = {"": ()}
        #: (serialized type, being an initializer, a constant, an output) of a value the
        #: body computes -> its key: such a value's facts are those of its type and flags
        #: (`GraphView._find_facts`), and so is its key but for UINT8 (`uint8_weights`)
        self._by_type: dict[tuple, tuple] = {}

    def of(self, names: list[str]) -> tuple:
        keys = self._keys
        return tuple([keys.get(name) or self._key(name) for name in names])

    def key_alike(self) -> None:
        """Keys the values the body computes whose facts are those of their type
        (`GraphView.body_values_typed_alike`) in bulk: one of each type from its facts, the
        others by lookup in one C-level pass (a network inside a body: 100,000 tensors),
        UINT8 ones (`uint8_weights`) left to be keyed one by one."""
        view = self._view
        whole = view.type_table()
        alike = view.body_values_typed_alike()
        if not alike or type(whole) is not dict:
            return
        # the body's own entries (the table holds the whole model's: 2,000 bodies each
        # passing over it would take seconds)
        table = {n: whole[n] for n in view.producer_index if n in alike and n in whole}
        by_type: dict[bytes, tuple] = {}
        for serialized, name in _first_names(table, alike, inside=True).items():
            key = self._key(name)
            if key[0][0] != "UINT8":
                by_type[serialized] = key
        _keyed_by_type(table, by_type, alike, True, self._keys)

    def _key(self, name: str) -> tuple:
        view = self._view
        serialized = view.serialized_type(name)
        typed = None
        if serialized is not None and name in view.producer_index:
            typed = (
                serialized,
                view.is_initializer(name),
                view.is_constant(name),
                view.is_graph_output(name),
            )
            found = self._by_type.get(typed)
            if found is not None:
                self._keys[name] = found
                return found
        facts = view.facts(name)
        key = self._keys[name] = _tensor_key(view, name, facts)
        if typed is not None and facts[0] != "UINT8":
            self._by_type[typed] = key
        return key


class VerdictMemo:
    """Verdicts shared among the nodes of one graph that look exactly alike.

    A node's verdict is a function of what the engine and the node's rule read of it. The
    key holds all the engine reads: op_type and domain (hence rule and opset), the
    attributes (serialized), and for each input and output the tensor's facts (dtype, shape,
    initializer/constant/graph-input flags; `GraphView.facts`), its effective dtype and
    whether it is a graph output. A rule's `check` may read more (the graph, constant values,
    names): its NodeContext notes that (`reads_outside`), and such kinds of node are judged
    one by one. A check that read only constant input values or walks up the producers
    (`NodeContext.values_read`) has its verdict shared with the nodes that hold the same there
    (`values_key`). The verdict "supported, no finding" is shared, and so are findings whose
    text names only the node (its name is put in each node's copy); findings quoting a tensor
    name are the node's own. Nodes with subgraphs never share.

    Symbolic dims that shape inference made up (`unk__<n>`, new names in every block of a
    transformer) enter the key by which of the node's dims they equal, not by their spelling:
    a check can compare dims, and a name made up by inference means nothing else.

    The checker numbers the keys (`numbers`), judges the first node of each (`firsts`), and
    then only the nodes that cannot share it (`judged_alone`).
    """

    def __init__(self, graph: GraphView) -> None:
        self.graph = graph
        #: name -> id (from 1: never falsy), or (id, generated dim names) for shapes that
        #: hold dims made up by shape inference.
        self._tensor_keys = _TensorKeys(self)
        self._ids: dict[tuple, int] = {}
        #: (op, domain, serialized attributes, input count) -> number
        self._kinds: dict[tuple, int] = {}
        #: serialized attribute -> whether it holds a graph
        self._nested: dict[bytes, bool] = {}
        #: name -> what stands for its constant value in `values_key` (`_constants_held`)
        self._held: dict[str, tuple] | None = None
        self._held_by_value: _HeldByValue | None = None
        self._generated = False  # some tensor has made-up dims
        #: serialized type -> key of the tensors whose facts are those of their type (all
        #: but `_not_typed_alike`): spares decoding the facts of every tensor. Set up at the
        #: first key (the graph's types may arrive after this memo is made).
        self._by_type: dict[bytes | None, int | tuple[int, tuple[str, ...]]] | None = None
        self._not_typed_alike: set[str] | None = None
        #: kind -> the positions of the attributes it holds without their values (`kinds`)
        self._varied: dict[int, frozenset[int]] = {}

    def kind(self, op: str, domain: str, attributes: list, n_inputs: int) -> int | None:
        """The part of a node's key that needs no types — op, domain, serialized attributes
        (as `NodeFields.attribute_keys` has them) and input count — as a small number; None
        when the node's verdict is never shared (it has subgraphs)."""
        attrs: tuple[bytes, ...] = ()
        if attributes:
            attrs = tuple(attributes)
            for attr in attrs:
                # (a tensor keyed without its values holds no graph)
                if type(attr) is not tuple and _holds_graph(attr, self._nested):
                    return None  # as `_subgraphs` finds bodies, whatever the attribute's type
        kinds = self._kinds
        return kinds.setdefault((op, domain, attrs, n_inputs), len(kinds))

    def kinds(self, fields) -> list[int | None]:
        """`kind` of every node of `fields` (`graph.NodeFields`), computed once per node
        signature (`NodeFields.signatures`: signatures refine kinds).

        The signatures of a form (`NodeFields.forms`) that has many of them, each of a node
        or two (100,000 LeakyRelus, each with its own `alpha`), share one kind: the
        attributes whose values differ among them are held by position alone (`varied`),
        and a rule that reads one notes it (`NodeContext.values_read`), so its verdict is
        shared among the nodes that hold the same value there (`values_key`). Where a form's
        signatures hold many nodes each, reading a value costs nothing that way; here each
        would be judged on its own anyway."""
        numbers, first = fields.signatures()
        ops, domains, attributes, inputs = (
            fields.ops,
            fields.domains,
            fields.attribute_keys,
            fields.inputs,
        )
        of_signature = self._varied_kinds(fields, numbers, first)
        for signature, i in enumerate(first):
            if of_signature[signature] is _NOT_VARIED:
                of_signature[signature] = self.kind(
                    ops[i], domains[i], attributes[i], len(inputs[i])
                )
        return list(map(of_signature.__getitem__, numbers))

    def _varied_kinds(self, fields, numbers: list[int], first: list[int]) -> list:
        """The kind of each signature that shares one with the others of its form (`kinds`),
        _NOT_VARIED for the others."""
        out: list = [_NOT_VARIED] * len(first)
        forms = fields.forms()
        if forms is None:
            return out
        form_of = np.asarray(forms[0], dtype=np.intp)
        signatures = np.bincount(form_of)
        nodes = np.bincount(form_of, weights=np.bincount(numbers, minlength=len(first)))
        varied = np.flatnonzero(
            (signatures >= VARIED_FROM) & (signatures * VARIED_NODES_PER_SIGNATURE >= nodes)
        )
        if not varied.size:
            return out
        order = np.argsort(form_of, kind="stable")
        starts = np.concatenate(([0], np.cumsum(signatures)))
        keys = fields.attribute_keys
        for form in varied.tolist():
            members = order[starts[form] : starts[form + 1]].tolist()
            held = [keys[first[s]] for s in members]
            try:
                positions = frozenset(
                    p for p in range(len(held[0])) if len(set(map(itemgetter(p), held))) > 1
                )
            except TypeError:  # an attribute that cannot be hashed (a writable view)
                continue
            i = first[members[0]]
            # (the form in the marker: another form, whose attribute there is of another type
            # or holds other fields, is another kind)
            attrs = [("varied", form, p) if p in positions else a for p, a in enumerate(held[0])]
            kind = self.kind(fields.ops[i], fields.domains[i], attrs, len(fields.inputs[i]))
            if kind is not None:
                self._varied[kind] = positions
            for s in members:
                out[s] = kind
        return out

    def varied(self, kind: int | None) -> frozenset[int]:
        """The positions of the attributes whose values nodes of `kind` differ in (`kinds`):
        what their NodeContext notes reading (`NodeContext.varied`)."""
        return self._varied.get(kind, _NONE_VARIED)

    def numbers(
        self, kinds: list[int | None], inputs: list[list[str]], outputs: list[list[str]]
    ) -> list[int]:
        """Each node's key as a number (equal keys, equal numbers; in order of first
        appearance), -1 for a node whose verdict is never shared (`_node_keys`). Every tensor
        is keyed first (`_key_all`); the keys are numbered in C (`trtforge.analyzer.
        _memo_keys`, csrc/analyzer/memo_keys.cpp) when it is built, without building them."""
        self._key_all()
        if _memo_keys is not None:
            try:
                return _memo_keys.node_key_numbers(
                    kinds, inputs, outputs, self._tensor_keys, self._generated
                )
            except TypeError:  # not lists (a caller of our own API): the Python path
                pass
        table: dict[tuple, int] = {}
        return [
            -1 if key is None else table.setdefault(key, len(table))
            for key in self._node_keys(kinds, inputs, outputs)
        ]

    def values_key(self, index: int, reads: tuple) -> tuple:
        """(`reads`, what node `index` holds at those inputs): equal for two nodes of one key
        only when a check reading those inputs' constant values (`NodeContext.input_value`)
        or analyses (`NodeContext.input_derived`) sees the same in both. A small initializer
        stands for its value, a larger one for it by its name (`_HeldByValue`); a Constant
        node's output by its attributes (`_value_attributes`: its tensor's name left out);
        anything else has no constant value (`GraphView.constant_value`: None) and stands
        for that; an analysis, by its answer."""
        return reads, _values_held(self.graph, index, reads, self._values_by_value())

    def holding_seen(
        self, indices: list[int], numbers: list[int], by_values: dict[int, dict[tuple, None]]
    ) -> set[int]:
        """Among `indices`, the nodes that hold one of their key's `values_key`s seen clean
        (`by_values`: number -> those keys) and so share its verdict: found in bulk, a key at
        a time, column by column (a transformer's thousands of Unsqueeze nodes, each with its
        Constant axes, or Reshapes whose shape no float input reaches); the nodes left are
        for `values_key`, one by one."""
        if not by_values or not indices:
            return set()
        at = np.asarray(indices, dtype=np.intp)
        of = np.asarray(numbers, dtype=np.intp)[at]
        graph, constants = self.graph, self._values_by_value()
        inputs = graph.fields.inputs
        found: set[int] = set()
        for number, seen in by_values.items():
            members = at[of == number].tolist()
            for reads, held in list(seen):
                if not members:
                    break
                columns = []
                for read in reads:
                    if type(read) is tuple:  # (input, analysis): `NodeContext.input_derived`
                        position, analysis = read
                        names = [inputs[i][position] for i in members]
                        many = getattr(analysis, "many", None)  # its answers in one call
                        if many is not None:
                            answers = many(graph, names)
                        else:
                            answers = [analysis(graph, name) for name in names]
                        tagged: dict = {}  # (answers are hashable: one tuple for each)
                        columns.append(
                            [tagged.get(a) or tagged.setdefault(a, ("derived", a)) for a in answers]
                        )
                    elif type(read) is AttributeRead:
                        keys = graph.fields.attribute_keys
                        columns.append([keys[i][read.position] for i in members])
                    else:
                        columns.append(constants.many([inputs[i][read] for i in members]))
                rows = zip(*columns, strict=True)
                alike = [m for m, row in zip(members, rows, strict=True) if row == held]
                found.update(alike)
                if alike:
                    members = sorted(set(members).difference(alike))
        return found

    def prepare(self) -> None:
        """Builds what the memo reads of the graph's structure alone (`_constants_held`)."""
        self._constants_held()

    def _constants_held(self) -> dict[str, tuple]:
        """Name -> what stands for the constant value of a tensor in `values_key`: an
        initializer its name (a string, never equal to a Constant's tuple), a Constant node's
        output ("Constant", the node's attributes: `_value_attributes`) (initializers first,
        as `GraphView.is_initializer` has it); any other tensor has no constant value
        (absent: None). Built once, for the memo's top-level graph."""
        if self._held is None:
            held = _constant_outputs_held(self.graph)
            names = self.graph.initializer_names()
            held.update(zip(names, names, strict=True))  # (in C: 100,000 in a quantized model)
            self._held = held
        return self._held

    def _values_by_value(self) -> _HeldByValue:
        """`_constants_held`, small initializers standing for their values (`_HeldByValue`)."""
        if self._held_by_value is None:
            self._held_by_value = _HeldByValue(self.graph, self._constants_held())
        return self._held_by_value

    @staticmethod
    def firsts(numbers: list[int]) -> list[int]:
        """The index of the first node of each number (in order; -1 left out)."""
        first = dict(zip(reversed(numbers), range(len(numbers) - 1, -1, -1), strict=True))
        first.pop(-1, None)
        return sorted(first.values())

    @staticmethod
    def judged_alone(numbers: list[int], clean: list[bool], firsts: list[int]) -> list[int]:
        """The nodes judged one by one, in order: those whose verdict is never shared (-1)
        and those whose first node (`firsts`, judged already: `clean[i]` for the first of
        number i) was not supported with no finding."""
        if all(clean) and -1 not in numbers:
            return []
        shared = np.append(np.asarray(clean, dtype=bool), False)  # number -1: never shared
        alone = np.flatnonzero(~shared[np.asarray(numbers, dtype=np.intp)])
        already = set(firsts)
        return [index for index in alone.tolist() if index not in already]

    def _node_keys(
        self, kinds: list[int | None], inputs: list[list[str]], outputs: list[list[str]]
    ) -> list[tuple | None]:
        """The key of every node (node i: kind `kinds[i]`, from `kinds`; inputs `inputs[i]`,
        outputs `outputs[i]`), None for a node whose verdict is never shared: built from
        lookups only (tensors with no type: `_TensorKeys`), as (kind, input keys, output
        keys), or (kind, keys renumbered) when some tensor has made-up dims."""
        get = self._tensor_keys.__getitem__
        if not self._generated:  # C-level iteration: ~0.1 s for 100,000 nodes
            keys: list[tuple | None] = list(
                zip(
                    kinds,
                    map(tuple, map(map, repeat(get), inputs)),
                    map(tuple, map(map, repeat(get), outputs)),
                    strict=True,
                )
            )
            if None in kinds:  # never shared
                keys = [None if key[0] is None else key for key in keys]
            return keys
        out: list[tuple | None] = []
        for kind, ins, outs in zip(kinds, inputs, outputs, strict=True):
            if kind is None:
                out.append(None)
                continue
            key = (*map(get, ins), *map(get, outs))
            if tuple in map(type, key):
                out.append((kind, _renumber(key)))
            else:
                out.append((kind, key[: len(ins)], key[len(ins) :]))
        return out

    def _key_all(self) -> None:
        """Keys every tensor of the type table and every tensor not typed alike (the first
        key sets the memo up: `_tensor_key`)."""
        if self._not_typed_alike is not None:
            return
        self._tensor_key("")
        if self._by_type is None:
            return
        self._key_initializers_alike()
        left = self._not_typed_alike.difference(self._tensor_keys)
        if len(left) >= KEYED_ALONE_BELOW:  # the graph inputs by declared type (and being an
            declared = self.graph.declared_input_types()  # output too): one of each keyed
            by_type: dict[tuple, int | tuple[int, tuple[str, ...]]] = {}
            is_output = self.graph.is_graph_output
            for name in left.intersection(declared):
                alike = (declared[name], is_output(name))
                key = by_type.get(alike)
                if key is not None:
                    self._tensor_keys[name] = key
                    continue
                key, of_type = self._new_tensor_key(name)
                if of_type:
                    by_type[alike] = key
            left.difference_update(declared)
        for name in left:
            self._new_tensor_key(name)

    def _key_initializers_alike(self) -> None:
        """Keys the graph's initializers by element type and dims: an initializer's facts
        are those and its being one (`GraphView._find_facts`), whatever its values, so
        initializers of one element type and shape share a key, made from the facts of the
        first and looked up for the others (50,000 per-layer weights: ~0.05 s, against
        ~0.25 s keying each from its facts). UINT8 ones (whose keys say how their consumers
        read them: `uint8_weights`) and graph outputs are keyed one by one."""
        graph, known = self.graph, self._tensor_keys
        heads = graph.initializer_heads()  # read from the file: no wrapper for each
        if heads is not None and self._key_initializer_heads(heads):
            return
        by_kind: dict[tuple[int, tuple[int, ...]], int] = {}
        kinds = {n: (t.data_type, tuple(t.dims)) for n, t in graph.initializer_items()}
        for name, kind in kinds.items():
            if name in known or graph.is_graph_output(name):
                continue
            if kind[0] == onnx.TensorProto.UINT8:
                continue
            key = by_kind.get(kind)
            if key is not None:
                known[name] = key
                continue
            key, of_type = self._new_tensor_key(name)
            if of_type and type(key) is int:
                by_kind[kind] = key

    def _key_initializer_heads(self, heads) -> bool:
        """`_key_initializers_alike` from the initializers' heads (`graph.InitializerHeads`),
        in bulk: the first initializer of each kind (element type and dims) is keyed from its
        facts, and the others of a kind whose key is shared get it in one dict update; those
        of a kind whose key is not are keyed one by one; UINT8 ones, those keyed already and
        graph outputs are left alone. False (nothing done) when a name is given twice."""
        graph, known = self.graph, self._tensor_keys
        names, kinds, table = heads.names, heads.kinds, heads.table
        present = set(names)
        if len(present) != len(names):
            return False
        apart = present.intersection(known.keys()) | present.intersection(graph.output_names())
        uint8 = onnx.TensorProto.UINT8
        #: kind number -> its shared key; None: not keyed here (UINT8) or one by one (False)
        shared: list = [None] * len(table)
        open_kinds = {k for k, (data_type, _) in enumerate(table) if data_type != uint8}
        for name, kind in zip(names, kinds, strict=True):  # the first of each kind
            if not open_kinds:
                break
            if kind not in open_kinds or name in apart:
                continue
            open_kinds.discard(kind)
            key, of_type = self._new_tensor_key(name)
            shared[kind] = key if of_type and type(key) is int else False
        if all(shared):  # every kind keyed in bulk: one update, then those apart put back
            held = {name: known[name] for name in apart if name in known}
            known.update(zip(names, map(shared.__getitem__, kinds), strict=True))
            for name in apart:
                if name in held:
                    known[name] = held[name]
                else:
                    del known[name]
            return True
        bulk = {
            name: key
            for name, key in zip(names, map(shared.__getitem__, kinds), strict=True)
            if key
        }
        for name in apart:
            bulk.pop(name, None)
        known.update(bulk)
        if False in shared:  # kinds whose keys are each tensor's own
            for name, kind in zip(names, kinds, strict=True):
                if shared[kind] is False and name not in known and name not in apart:
                    self._new_tensor_key(name)
        return True

    def _tensor_key(self, name: str) -> int | tuple[int, tuple[str, ...]]:
        if self._not_typed_alike is None:  # the first key: types are known now
            not_typed_alike = self.graph.tensors_not_typed_alike()
            self._by_type = None if not_typed_alike is None else {}
            self._not_typed_alike = not_typed_alike or set()
            if self._by_type is not None:
                self._key_typed_alike()
            known = self._tensor_keys.get(name)
            if known is not None:
                return known
        if self._by_type is not None and name not in self._not_typed_alike:
            serialized = self.graph.serialized_type(name)
            key = self._by_type.get(serialized)
            if key is not None:
                self._tensor_keys[name] = key
                return key
            key, of_type = self._new_tensor_key(name)
            if of_type:
                self._by_type[serialized] = key  # same type, same facts, same key
            return key
        return self._new_tensor_key(name)[0]

    def _key_typed_alike(self) -> None:
        """Gives every tensor typed alike (all but `_not_typed_alike`) the key of its type in
        bulk: each distinct type is keyed once, from one of its tensors, and the table's
        names get the keys of their types in one C-level pass (100,000 tensors: ~0.03 s,
        against ~0.3 s keying each as a node first reads it). A type whose key is not a
        function of the type alone (UINT8: `_new_tensor_key`) has its tensors keyed one by
        one; tensors not typed alike are keyed by `_tensor_key`, over what this sets."""
        by_type, known, skip = self._by_type, self._tensor_keys, self._not_typed_alike
        table = self.graph.type_table()
        # the first tensor typed alike of each type, the types in order of first appearance
        # (in C: a transformer's 100,000 tensors have ~25,000 distinct types)
        one_of = _first_names(table, skip, inside=False)
        alone: set[bytes] = set()
        self._key_generated_alike(one_of)
        for serialized, name in one_of.items():
            if serialized in by_type:
                continue
            key, of_type = self._new_tensor_key(name)
            if of_type:
                by_type[serialized] = key
            else:
                alone.add(serialized)
        # the others by lookup; those not typed alike are keyed from their own facts
        # (`_tensor_key`), the computed constants and outputs below
        for name in _keyed_by_type(table, by_type, skip, False, known):
            if table[name] in alone:
                self._new_tensor_key(name)
        self._key_computed_alike(table)
        # the computed tensors inference left untyped (custom ops' outputs) have the facts of
        # none: one key, given in one pass (a chain of 100,000 custom-op nodes: ~0.05 s less)
        untyped = self.graph.producer_index.keys() - table.keys()  # (in C: set differences)
        untyped.difference_update(skip, known.keys())
        if untyped:
            key, _ = self._new_tensor_key(min(untyped))  # (all of them alike: any one)
            known.update(dict.fromkeys(untyped, key))

    def _key_computed_alike(self, table: Mapping[str, bytes]) -> None:
        """Keys the computed constants (`GraphView.constants_typed_alike`) and the graph
        outputs the nodes compute (`GraphView.outputs_typed_alike`, each group apart) by
        type: one of each type from its facts, the others by lookup (a model's many Constant
        outputs, or a model of many outputs)."""
        graph = self.graph
        for names in (graph.constants_typed_alike(), *graph.outputs_typed_alike()):
            if len(names) < KEYED_ALONE_BELOW:  # (each bulk pass reads the whole table)
                for name in sorted(names):
                    if name in table and name not in self._tensor_keys:
                        self._new_tensor_key(name)
                continue
            by_type: dict[bytes, int | tuple[int, tuple[str, ...]]] = {}
            for serialized, name in _first_names(table, names, inside=True).items():
                key, of_type = self._new_tensor_key(name)  # (keys `name` itself)
                if of_type:
                    by_type[serialized] = key
            for name in _keyed_by_type(table, by_type, names, True, self._tensor_keys):
                if name not in self._tensor_keys:
                    self._new_tensor_key(name)

    def _key_generated_alike(self, one_of: dict[bytes, str]) -> None:
        """Keys the types that differ only in the names of their made-up dims once per
        pattern: a transformer's blocks each get new `unk__<n>` names, so 100,000 nodes hold
        ~25,000 distinct types but a few dozen patterns, and decoding each type costs ~20 µs.

        Two serialized types whose bytes are equal but for the text of their `unk__` dim
        names (of equal lengths) have the same facts but for those names, so the key of one
        (id, names) gives the other's (id, its names). One type of each pattern is keyed
        from its facts, which must name the same dims as its bytes; else the pattern's
        types are keyed one by one (`_key_typed_alike`)."""
        by_type = self._by_type
        if _memo_keys is not None:  # the same grouping in C
            patterns = _memo_keys.generated_patterns(one_of, by_type)
        else:
            patterns = {}
            for serialized in one_of:
                if b"unk__" in serialized and serialized not in by_type:
                    split = _generated_dims_python(serialized)
                    if split is not None:
                        patterns.setdefault(split[0], []).append((serialized, split[1]))
        for members in patterns.values():
            if len(members) < 2:
                continue
            first, names = members[0]
            key, of_type = self._new_tensor_key(one_of[first])
            if not of_type or type(key) is not tuple or key[1] != names:
                continue
            by_type[first] = key
            number = key[0]
            for serialized, names in members[1:]:
                by_type[serialized] = (number, names)
        if patterns:
            self._generated = True

    def _new_tensor_key(self, name: str) -> tuple[int | tuple[int, tuple[str, ...]], bool]:
        """The tensor's key from its facts, and whether the key is a function of them alone
        (not of the producer: a UINT8 tensor may be INT8 inside TensorRT)."""
        graph = self.graph
        facts = graph.facts(name)
        shape = facts[1]
        generated: tuple[str, ...] = ()
        if shape is not None:
            generated = tuple(d for d in shape if type(d) is str and d.startswith(GENERATED_DIM))
            if generated:
                shape = tuple(
                    GENERATED_DIM if type(d) is str and d.startswith(GENERATED_DIM) else d
                    for d in shape
                )
                facts = (facts[0], shape, *facts[2:])
        seen = _tensor_key(graph, name, facts)
        key = self._ids.get(seen)
        if key is None:
            key = self._ids[seen] = len(self._ids) + 1
        of_type = facts[0] != "UINT8"
        if generated:
            self._generated = True
            self._tensor_keys[name] = (key, generated)
            return (key, generated), of_type
        self._tensor_keys[name] = key
        return key, of_type


#: a dim_param field (a Dimension's field 2) of up to 127 bytes whose text is a made-up name
_GENERATED_DIM_FIELD = re.compile(rb"\x12([\x05-\x7f])unk__")


def _value_attributes(fields, index: int) -> tuple:
    """Node `index`'s attributes as far as its values go: serialized, but a tensor whose key
    keeps its values and leaves its name and doc string out (`NodeFields.attribute_keys`:
    (1, ...)) stands by that key. Two Constants holding one value under two tensor names hold
    the same; a key that leaves the values out (None, ...) cannot stand for them."""
    keys, attributes = fields.attribute_keys[index], fields.attributes[index]
    if keys is attributes:
        return tuple(attributes)
    return tuple(
        key if type(key) is tuple and key[0] == 1 else attribute
        for key, attribute in zip(keys, attributes, strict=True)
    )


def _generated_dims_python(serialized: bytes) -> tuple[bytes, tuple[str, ...]] | None:
    """A serialized type with the text of its `unk__` dim names blanked, and those names in
    order; None when they cannot be told apart from the rest of the bytes.

    Shape inference makes up new `unk__<n>` names for every unknown dim, so each block of a
    transformer has types of its own; types equal once blanked have the same dtype, rank,
    dim values and dim names but for those (of equal lengths), and whatever is judged of
    one holds for all.
    """
    parts, names, end = [], [], 0
    for match in _GENERATED_DIM_FIELD.finditer(serialized):
        start = match.start() + 2
        if start < end:
            return None
        parts.append(serialized[end:start])
        end = start + match.group(1)[0]
        try:
            names.append(serialized[start:end].decode())
        except UnicodeDecodeError:
            return None
    parts.append(serialized[end:])
    return b"\0".join(parts), tuple(names)


def _first_names(table: Mapping[str, bytes], names: set[str], inside: bool) -> dict[bytes, str]:
    """The first name of each type among the entries of `table` whose name is in `names`
    (`inside`) or not in it, the types in order of first appearance (in C when built:
    `_memo_keys.first_names`)."""
    if _memo_keys is not None and type(table) is dict:
        return _memo_keys.first_names(table, names, inside)
    return _first_names_python(table, names, inside)


def _first_names_python(table: Mapping[str, bytes], names: set[str], inside: bool) -> dict:
    first: dict[bytes, str] = {}
    for name, serialized in table.items():
        if (name in names) == inside:
            first.setdefault(serialized, name)
    return first


def _keyed_by_type(
    table: Mapping[str, bytes], by_type: dict, names: set[str], inside: bool, known: dict
) -> list[str]:
    """Sets `known[name] = by_type[type]` for the entries of `table` that `_first_names`
    selects and whose type has a key; returns the other selected names, in order (in C when
    built: `_memo_keys.keyed_by_type`)."""
    if _memo_keys is not None and type(table) is dict:
        return _memo_keys.keyed_by_type(table, by_type, names, inside, known)
    return _keyed_by_type_python(table, by_type, names, inside, known)


def _keyed_by_type_python(
    table: Mapping[str, bytes], by_type: dict, names: set[str], inside: bool, known: dict
) -> list[str]:
    left = []
    for name, serialized in table.items():
        if (name in names) != inside:
            continue
        key = by_type.get(serialized)
        if key is None:
            left.append(name)
        else:
            known[name] = key
    return left


class _TensorKeys(dict):
    """name -> tensor key (`VerdictMemo._tensor_key`); a name not yet keyed (a tensor with no
    type, that `_key_typed_alike` did not see) is keyed on lookup, so node keys are built by
    plain lookups (`VerdictMemo._node_keys`)."""

    def __init__(self, memo: VerdictMemo) -> None:
        super().__init__({"": -1})
        self._memo = memo

    def __missing__(self, name: str) -> int | tuple[int, tuple[str, ...]]:
        return self._memo._tensor_key(name)


def _renumber(tensors: tuple) -> tuple:
    """Tensor keys with made-up dim names replaced by their order of first appearance."""
    numbers: dict[str, int] = {}
    out = []
    for tensor in tensors:
        if type(tensor) is tuple:
            key, names = tensor
            tensor = (key, tuple([numbers.setdefault(n, len(numbers)) for n in names]))
        out.append(tensor)
    return tuple(out)


def _custom_fixes(node: onnx.NodeProto) -> tuple[Fix, ...]:
    """Rewrite passes that remove this op (custom domain, or a non-standard op in the default
    domain such as onnxruntime's SimplifiedLayerNormalization), from the pass registry."""
    passes_removing = _passes_removing()
    if passes_removing is None:
        return ()
    return tuple(Fix("rewrite", p) for p in passes_removing(_domain(node), node.op_type))


@functools.cache
def _passes_removing():
    """`rewrite.registry.passes_removing`, imported once (asked for each of 100,000 distinct
    custom ops); None without the rewrite package."""
    try:
        from trtforge.analyzer.rewrite.registry import passes_removing
    except ImportError:
        return None
    return passes_removing


def _merge_fixes(*groups: tuple[Fix, ...]) -> tuple[Fix, ...]:
    seen: dict[tuple[str, str], Fix] = {}
    for fix in (f for group in groups for f in group):
        seen.setdefault((fix.kind, fix.name), fix)
    return tuple(seen.values())


def model_info(loaded: LoadedModel) -> ModelInfo:
    proto = loaded.structure
    return ModelInfo(
        path=loaded.display_path,
        sha256=loaded.sha256_later,
        ir_version=proto.ir_version,
        opsets=loaded.opsets,
        node_count=len(proto.graph.node),
    )


def check_static(model: LoadedModel | ModelSession, target: Target, memo: bool = True) -> Report:
    """Checks `model` (or the model of a session) against the knowledge base for `target`.

    `memo=False` judges every node on its own (see `VerdictMemo`); the report is the same.
    """
    with _cyclic_gc_paused():
        return StaticChecker(model, target, memo).run()


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Pauses Python's cyclic garbage collector (restored after).

    A check allocates a few objects per node and tensor and frees nothing cyclic; with
    hundreds of thousands of live protobuf wrappers, each automatic collection walks all of
    them: ~0.4 s of a 100,000-node check. Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
