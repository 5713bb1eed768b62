"""Development tooling that reads the checkout (not installed with trtforge).

`tools.oracle`: the agreement oracle — builds a corpus from `tests/` fixtures and exports,
runs the real TensorRT parser on it, and scores the knowledge base
(`python -m tools.oracle`, from the repository root). Tests and benchmarks import it.

`tools.model_copies`: nodes copied under new names, for the large models tests and benchmarks
build from small ones.
"""
