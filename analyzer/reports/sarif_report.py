"""The SARIF 2.1.0 report, for code scanning (e.g. GitHub's upload-sarif).

One run whose tool driver is `trtforge` with one rule per finding code; one result per finding
(node or graph level) located in the model file, with a logical location naming the node
(`graph.node[<index>]`, its name, op type and domain). A model is binary, so the physical
region is line 1 (code-scanning UIs require a line); the logical location carries the node.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import PurePath
from urllib.parse import quote

from trtforge.analyzer.findings import Finding
from trtforge.analyzer.report import NodeVerdict, Report

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/trtforge/trtforge"
#: logs with more results than this are written without indentation.
INDENT_MAX_RESULTS = 2000

#: short descriptions of the codes every op can produce; op-specific codes use their message.
DESCRIPTIONS = {
    "custom-domain-op": "Custom-domain op with no TensorRT importer and no known plugin",
    "unknown-op": "Op that is not in the ONNX standard and matches no known plugin",
    "not-available": "Op not supported by the parser of this TensorRT release",
    "opset-out-of-range": "Opset version outside the range the parser accepts for the op",
    "unsupported-dtype": "Tensor element type the parser does not accept for this input/output",
    "input-not-constant": "Input that must be a build-time constant is computed at run time",
    "attribute-value": "Attribute value the parser does not support",
    "subgraph-node": "A node inside an If/Loop/Scan body is not supported",
    "data-dependent-shape": "Output shape depends on tensor values",
    "plugin-not-registered": "Node runs only through a plugin that is not available",
}


def _version() -> str:
    try:
        return metadata.version("trtforge")
    except metadata.PackageNotFoundError:
        return "0.0.0+dev"


def _uri(path: str) -> tuple[str, str | None]:
    """(uri, uriBaseId): relative paths are relative to the source root."""
    pure = PurePath(path)
    text = quote(pure.as_posix(), safe="/:", errors="surrogateescape")  # the file name's bytes
    if pure.is_absolute():
        return "file://" + text, None
    return text, "%SRCROOT%"


def _level(finding: Finding) -> str:
    return "error" if finding.is_error else "warning"


def _logical(node: NodeVerdict | None, finding: Finding) -> list[dict]:
    if node is None:
        return [{"name": "graph", "fullyQualifiedName": "graph", "kind": "module"}]
    label = node.name or f"<{node.op_type} #{node.index}>"
    out = [
        {
            "name": label,
            "fullyQualifiedName": f"graph.node[{node.index}]",
            "kind": "object",
            "properties": {
                "index": node.index,
                "opType": node.op_type,
                "domain": node.domain,
            },
        }
    ]
    if finding.inner:
        out.append(
            {
                "name": finding.inner,
                "fullyQualifiedName": f"graph.node[{node.index}]/{finding.inner}",
                "kind": "object",
            }
        )
    return out


def render(report: Report) -> str:
    """The report as a SARIF 2.1.0 log (JSON text)."""
    rules: dict[str, dict] = {}
    results: list[dict] = []
    uri, base = _uri(report.model.path)
    artifact_location: dict = {"uri": uri, "index": 0}
    if base:
        artifact_location["uriBaseId"] = base

    def add(finding: Finding, node: NodeVerdict | None) -> None:
        if finding.code not in rules:
            rule: dict = {
                "id": finding.code,
                "name": finding.code.replace("/", "-"),
                "shortDescription": {
                    "text": DESCRIPTIONS.get(finding.code, f"trt-check finding {finding.code}")
                },
                "defaultConfiguration": {"level": _level(finding)},
            }
            if finding.hint:
                rule["help"] = {"text": finding.hint}
            if finding.source:
                rule["properties"] = {"source": finding.source}
            rules[finding.code] = rule
        where = f"node {node.index}:{node.name}:{node.op_type}" if node else "graph"
        fingerprint = hashlib.sha256(f"{finding.code}|{where}".encode()).hexdigest()[:32]
        result: dict = {
            "ruleId": finding.code,
            "ruleIndex": list(rules).index(finding.code),
            "level": _level(finding),
            "message": {
                "text": finding.message + (f"\nHint: {finding.hint}" if finding.hint else "")
            },
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": dict(artifact_location),
                        "region": {"startLine": 1},
                    },
                    "logicalLocations": _logical(node, finding),
                }
            ],
            "partialFingerprints": {"trtforgeNode/v1": fingerprint},
        }
        if finding.fixes:
            result["properties"] = {"fixes": [f.to_json() for f in finding.fixes]}
        results.append(result)

    for node in report.nodes:
        for finding in node.reasons:
            add(finding, node)
    for finding in report.graph_findings:
        add(finding, None)

    artifact = {
        "location": {k: v for k, v in artifact_location.items() if k != "index"},
        "hashes": {"sha-256": report.model.sha256},
    }
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "trtforge",
                        "fullName": "trtforge trt-check",
                        "version": _version(),
                        "informationUri": INFORMATION_URI,
                        "rules": list(rules.values()),
                    }
                },
                "artifacts": [artifact],
                "results": results,
                "invocations": [{"executionSuccessful": True}],
                "properties": {
                    "target": report.target,
                    "backend": report.backend,
                    "supported": report.supported,
                    "summary": report.summary,
                    "notes": list(report.notes),
                },
            }
        ],
    }
    if base:
        log["runs"][0]["originalUriBaseIds"] = {
            "%SRCROOT%": {"description": {"text": "The directory trt-check was run from."}}
        }
    # indented for reading; large logs compact (the C encoder: `indent` disables it)
    indent = 2 if len(results) <= INDENT_MAX_RESULTS else None
    return json.dumps(log, indent=indent, ensure_ascii=False)
