"""Rewrite passes, one module each, discovered by `rewrite.registry` (each module sets `PASS`)."""
