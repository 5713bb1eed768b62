"""The static backend: per-node verdicts from the knowledge base. No GPU, no TensorRT.

For every node: find how the parser would handle it (a built-in importer, chosen by op_type
alone whatever the domain; else a plugin), then apply the rule's facts — availability on the
target, opset range, element types, build-time-constant inputs, attribute limits, and the
rule's own check. Nodes with subgraphs (If/Loop/Scan) get the verdict of their whole body.
"""

from __future__ import annotations

import logging

import onnx

from trtforge.analyzer.findings import Finding, Fix
from trtforge.analyzer.graph import GraphView, infer_types
from trtforge.analyzer.kb import graph_rules
from trtforge.analyzer.kb.policy import (
    convertible_types,
    default_types,
    effective_dtype,
    intermediate_refused_types,
)
from trtforge.analyzer.kb.registry import find_rule
from trtforge.analyzer.kb.rule import NodeContext, OpRule
from trtforge.analyzer.loading import LoadedModel
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
from trtforge.analyzer.targets import Target

log = logging.getLogger("trtforge.static")

FOLD = Fix("rewrite", "fold-constants")


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


def plugin_match(node: onnx.NodeProto, target: Target):
    """The plugin `node` resolves to on `target` (no built-in importer takes it), else None."""
    rule = _builtin_rule(node, target)
    if rule is not None and rule.since.available(target):
        return None
    return find_plugin(node, target)


class StaticChecker:
    """Applies the knowledge base to every node of one model for one target."""

    def __init__(self, loaded: LoadedModel, target: Target) -> None:
        self.loaded = loaded
        self.target = target
        self.opsets = loaded.opsets
        self.types = infer_types(loaded.proto)
        self._default_types = default_types(target)
        self._convertible = convertible_types(target)

    # -- one node -----------------------------------------------------------------------
    def evaluate(self, node: onnx.NodeProto, graph: GraphView):
        """Returns (status, findings, plugin match) for one node."""
        rule = _builtin_rule(node, self.target)
        # Built-in importers read the default domain's opset whatever the node's domain
        # (onnx-tensorrt ImporterContext::getOpsetVersion() with no domain).
        opset_domain = "" if rule is not None and not rule.domain else _domain(node)
        opset = self.opsets.get(opset_domain, 0)
        ctx = NodeContext(node, graph, self.target, opset, rule)
        if rule is None or not rule.since.available(self.target):
            plugin = find_plugin(node, self.target)
            if plugin is not None:
                return PLUGIN, self._plugin_findings(ctx, plugin), plugin
            return UNSUPPORTED, [self._no_importer(ctx, rule)], None
        findings = list(self._apply(ctx, rule))
        only = set(rule.bodies(ctx)) if rule.bodies is not None else None
        findings.extend(self._subgraphs(node, graph, only))
        status = UNSUPPORTED if any(f.is_error for f in findings) else SUPPORTED
        return status, findings, None

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

    def _no_importer(self, ctx: NodeContext, rule: OpRule | None) -> Finding:
        node = ctx.node
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
                _merge_fixes(rule.fixes, _custom_fixes(node)),
                source=rule.source,
            )
        if domain:
            return ctx.finding(
                "custom-domain-op",
                f"custom op of domain '{domain}' has no TensorRT importer and no known plugin",
                "decompose it into standard ONNX ops (trt-rewrite) or provide a plugin "
                f"named '{node.op_type}' (trt-plugin new {node.op_type})",
                _custom_fixes(node),
            )
        return ctx.finding(
            "unknown-op",
            "not an operator of the ONNX standard, and no plugin of that name is known",
            f"check the exporter; or provide a plugin named '{node.op_type}'",
            _custom_fixes(node),
        )

    def _apply(self, ctx: NodeContext, rule: OpRule):
        node = ctx.node
        if rule.opsets is not None and ctx.opset:
            low, high = rule.opsets
            if ctx.opset < low or (high is not None and ctx.opset > high):
                yield ctx.finding(
                    "opset-out-of-range",
                    f"opset {ctx.opset} is outside the range the parser accepts for this op "
                    f"({low}..{high if high is not None else ''})",
                    "re-export the model at an opset the parser accepts",
                )
        for index, name in enumerate(node.input):
            if not name:
                continue
            allowed = rule.types.get(index, rule.types.get("*"))
            info = ctx.graph.tensor(name)
            if info.dtype in ("UNDEFINED",):
                continue
            dtype = effective_dtype(ctx.graph, name, info.dtype)
            if allowed is None:
                allowed = self._default_types
            else:  # a type the parser cannot convert is refused whatever the rule lists
                allowed = frozenset(allowed) & self._convertible
            if dtype not in allowed:
                yield ctx.finding(
                    "unsupported-dtype",
                    f"input {index} ('{name}') has type {info.dtype}, which the parser does "
                    f"not accept here (accepts {', '.join(sorted(allowed))})",
                    "cast the tensor to a supported type in the exporter",
                )
        for index, name in enumerate(node.output):
            allowed = rule.output_types.get(index, rule.output_types.get("*"))
            if not name or allowed is None:
                continue
            info = ctx.graph.tensor(name)
            if info.dtype != "UNDEFINED" and info.dtype not in allowed:
                yield ctx.finding(
                    "unsupported-dtype",
                    f"output {index} ('{name}') has type {info.dtype}, which the parser does "
                    f"not produce here (produces {', '.join(sorted(allowed))})",
                    "change the requested output type in the exporter",
                )
        for index, name in enumerate(node.output):
            if not name or ctx.graph.is_graph_output(name):
                continue
            dtype = effective_dtype(ctx.graph, name, ctx.graph.tensor(name).dtype)
            if dtype in intermediate_refused_types(self.target):
                yield ctx.finding(
                    "uint8-intermediate",
                    f"output {index} ('{name}') is a UINT8 tensor that is not a graph output; "
                    "TensorRT allows UINT8 only for network inputs and outputs",
                    "keep the tensor in INT32/FLOAT (cast to UINT8 only at the graph output), "
                    "or quantize to INT8",
                )
        for index, why in rule.const_inputs.items():
            if ctx.has_input(index) and not ctx.input(index).is_constant:
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
                for _, inner in view.nodes():
                    status, findings, plugin = self.evaluate(inner, view)
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

    # -- whole model --------------------------------------------------------------------
    def run(self) -> Report:
        proto = self.loaded.proto
        top = GraphView(proto.graph, self.types)
        verdicts: list[NodeVerdict] = []
        for index, node in top.nodes():
            status, findings, plugin = self.evaluate(node, top)
            verdict = NodeVerdict(index, node.name, node.op_type, node.domain, status, findings)
            if plugin is not None:
                verdict.plugin = PluginRef(
                    plugin.name, plugin.version, plugin.namespace, plugin.available
                )
            verdicts.append(verdict)
        graph_findings = list(graph_rules.check_graph(self.loaded, top, self.target))
        return Report(
            model=model_info(self.loaded),
            target=self.target.id,
            backend="static",
            nodes=verdicts,
            graph_findings=graph_findings,
        )


def _custom_fixes(node: onnx.NodeProto) -> tuple[Fix, ...]:
    """Rewrite passes that remove this op (custom domain, or a non-standard op in the default
    domain such as onnxruntime's SimplifiedLayerNormalization), from the pass registry."""
    try:
        from trtforge.analyzer.rewrite.registry import passes_removing
    except ImportError:
        return ()
    return tuple(Fix("rewrite", p) for p in passes_removing(_domain(node), node.op_type))


def _merge_fixes(*groups: tuple[Fix, ...]) -> tuple[Fix, ...]:
    seen: dict[tuple[str, str], Fix] = {}
    for fix in (f for group in groups for f in group):
        seen.setdefault((fix.kind, fix.name), fix)
    return tuple(seen.values())


def model_info(loaded: LoadedModel) -> ModelInfo:
    proto = loaded.proto
    return ModelInfo(
        path=loaded.display_path,
        sha256=loaded.sha256,
        ir_version=proto.ir_version,
        opsets=loaded.opsets,
        node_count=len(proto.graph.node),
    )


def check_static(loaded: LoadedModel, target: Target) -> Report:
    """Checks `loaded` against the knowledge base for `target`."""
    return StaticChecker(loaded, target).run()
