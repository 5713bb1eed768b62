"""The real parser's verdicts on the corpus, cached by model sha256.

The cache is one JSON file per parser version and method revision,
`$XDG_CACHE_HOME/trtforge/oracle-<parser version>-m<METHOD>.json` (default `~/.cache`), mapping
a model's sha256 to the `ParserResult` JSON. Pass `fresh=True` (CI does) to ignore it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tools.oracle.corpus import CorpusModel
from trtforge.analyzer import trt as trt_adapter
from trtforge.analyzer.backends.parser import ParserPool, ParserResult

log = logging.getLogger("trtforge.oracle")

#: revision of the per-node method (`_parser_worker`); bump it to invalidate caches.
METHOD = 6


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    version = trt_adapter.version() or "none"
    return Path(base) / "trtforge" / f"oracle-{trt_adapter.flavour()}-{version}-m{METHOD}.json"


def _load(path: Path) -> dict[str, dict]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _save(path: Path, data: dict[str, dict]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(data, sort_keys=True))
        os.replace(tmp, path)
    except OSError as err:
        log.warning("cannot write the oracle cache %s: %s", path, err)


def ground_truth(
    models: Iterable[CorpusModel],
    workers: int | None = None,
    fresh: bool = False,
    cache: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, ParserResult]:
    """The parser's verdict for each model, by sha256 (cached unless `fresh`)."""
    models = list(models)
    cache = cache or cache_path()
    stored = _load(cache)  # kept for writing back even when `fresh`
    results: dict[str, ParserResult] = {}
    todo: dict[str, CorpusModel] = {}
    for model in models:
        if model.sha256 in stored and not fresh:
            results[model.sha256] = ParserResult.from_json(stored[model.sha256])
        else:
            todo.setdefault(model.sha256, model)
    if todo:
        workers = workers or max(1, min(len(todo), os.cpu_count() or 1))
        by_path = {str(m.path): m for m in todo.values()}
        if len(by_path) != len(todo):
            raise ValueError("two corpus models with different contents share a file path")
        done = 0
        last_save = time.monotonic()
        start = time.monotonic()

        def on_result(path: str, result: ParserResult) -> None:
            nonlocal done, last_save
            done += 1
            sha = by_path[path].sha256
            stored[sha] = result.to_json()
            if progress is not None:
                progress(done, len(todo))
            if time.monotonic() - last_save > 30:
                _save(cache, stored)
                last_save = time.monotonic()

        with ParserPool(workers) as pool:
            ran = pool.run(by_path, on_result)
        for path, result in ran.items():
            results[by_path[path].sha256] = result
        log.info("parsed %d models in %.1f s", len(todo), time.monotonic() - start)
        _save(cache, stored)
    return results
