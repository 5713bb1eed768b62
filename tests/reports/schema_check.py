"""Validators for the machine-readable reports: the shipped JSON Schema, and SARIF by hand."""

from __future__ import annotations

import jsonschema

from trtforge.analyzer.schemas import check_schema


def validate_check_json(doc: dict) -> None:
    """Validates against the shipped schema, then the invariants a schema cannot state."""
    jsonschema.Draft202012Validator.check_schema(check_schema())
    jsonschema.validate(doc, check_schema(), cls=jsonschema.Draft202012Validator)
    nodes = doc["nodes"]
    assert [n["index"] for n in nodes] == list(range(len(nodes)))
    assert doc["model"]["node_count"] == len(nodes)
    for status in ("supported", "unsupported", "plugin"):
        assert doc["summary"][status] == sum(n["status"] == status for n in nodes)
    for node in nodes:
        if node["status"] == "unsupported":
            assert node["reasons"], f"unsupported node {node['index']} has no reason"
    if any(n["status"] == "unsupported" for n in nodes):
        assert doc["supported"] is False


SARIF_LEVELS = {"none", "note", "warning", "error"}


def validate_sarif(log: dict) -> list[dict]:
    """Checks the SARIF 2.1.0 properties that are required (and those code scanning needs).

    Returns the results of the single run.
    """
    assert log["version"] == "2.1.0"
    assert isinstance(log["$schema"], str) and "sarif" in log["$schema"]
    assert isinstance(log["runs"], list) and len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "trtforge"
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)), "duplicate rule ids"
    for rule in rules:
        assert rule["id"] and rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in SARIF_LEVELS
    artifacts = run["artifacts"]
    for result in run["results"]:
        assert result["ruleId"] in ids
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in SARIF_LEVELS
        assert result["message"]["text"].strip()
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        artifact = physical["artifactLocation"]
        assert artifact["uri"]
        assert artifacts[artifact["index"]]["location"]["uri"] == artifact["uri"]
        assert physical["region"]["startLine"] >= 1
        logical = location["logicalLocations"]
        assert logical and all(loc["name"] and loc["fullyQualifiedName"] for loc in logical)
        assert result["partialFingerprints"]
    return run["results"]
