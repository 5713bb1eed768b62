"""Backends of trt-check: `static` (the knowledge base) and `parser` (a real ONNX parser)."""
