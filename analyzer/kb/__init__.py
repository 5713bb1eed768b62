"""The static knowledge base: what TensorRT's ONNX parser accepts, per op and per target.

One module per ONNX op (or tight op family) under `trtforge.analyzer.kb.ops`, each declaring
`RULES` (a list of `OpRule`). Modules are discovered automatically; a duplicate (domain, op)
is an error. See docs/knowledge-base.md for how to add one.

Names are imported on first use (PEP 562): a pass that reads a constant of `kb.fixability`
does not import the rule machinery (and numpy, onnx) with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trtforge.analyzer.lazy import lazy_exports

_EXPORTS = {
    "NEVER": "trtforge.analyzer.kb.rule",
    "AttrLimit": "trtforge.analyzer.kb.rule",
    "NodeContext": "trtforge.analyzer.kb.rule",
    "OpRule": "trtforge.analyzer.kb.rule",
    "Since": "trtforge.analyzer.kb.rule",
    "all_rules": "trtforge.analyzer.kb.registry",
    "find_rule": "trtforge.analyzer.kb.registry",
}

if TYPE_CHECKING:
    from trtforge.analyzer.kb.registry import all_rules, find_rule
    from trtforge.analyzer.kb.rule import NEVER, AttrLimit, NodeContext, OpRule, Since

__all__ = ["NEVER", "AttrLimit", "NodeContext", "OpRule", "Since", "all_rules", "find_rule"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
