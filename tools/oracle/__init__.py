"""The agreement oracle: scores the static knowledge base against a real TensorRT ONNX parser.

`corpus` gathers models (the onnx wheel's test data, every node test case the installed onnx
generates, the project's own fixtures); `groundtruth` runs the real parser on them in worker
processes and caches its verdicts by model sha256; `score` compares those with the static
backend. Run it with `python -m tools.oracle --out DIR`.
"""
