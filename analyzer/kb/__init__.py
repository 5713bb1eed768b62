"""The static knowledge base: what TensorRT's ONNX parser accepts, per op and per target.

One module per ONNX op (or tight op family) under `trtforge.analyzer.kb.ops`, each declaring
`RULES` (a list of `OpRule`). Modules are discovered automatically; a duplicate (domain, op)
is an error. See docs/knowledge-base.md for how to add one.
"""

from __future__ import annotations

from trtforge.analyzer.kb.registry import all_rules, find_rule
from trtforge.analyzer.kb.rule import NEVER, AttrLimit, NodeContext, OpRule, Since

__all__ = ["NEVER", "AttrLimit", "NodeContext", "OpRule", "Since", "all_rules", "find_rule"]
