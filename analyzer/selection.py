"""Why a check runs for this target with this backend: one line for the report and `--help`.

Imports nothing heavy (no onnx): `trt-check -h` shows the line.
"""

from __future__ import annotations

from trtforge.analyzer.targets import Target, default_target, installed_package, installed_target


def explain_selection(backend: str, target: Target | None, chosen: str) -> str:
    """Why `check(backend=backend, target=target)` runs `chosen` and for which target: one
    line for the report header and `--help`, naming the flag that changes it.

    E.g. `target rtx-1.7 (tensorrt_rtx 1.7.1 installed; --target T for another) · backend
    parser (tensorrt_rtx 1.7.1 installed; --backend static for the knowledge base)`.
    """
    # package metadata only: this also runs for `--help`, which must not look for TensorRT
    installed = installed_target(find_module=False)
    package = installed_package(find_module=False)
    name = " ".join(package) if package else ""
    if target is not None:
        why_target = f"target {target.id} (--target)"
    elif chosen == "static" and backend == "auto" and installed is not None:
        installed = None  # metadata without an importable module: as if not installed
        why_target = f"target {default_target().id} ({name} is not importable; --target T)"
    elif installed is not None:
        why_target = f"target {installed.id} ({name} installed; --target T for another)"
    else:
        why_target = (
            f"target {default_target().id} (no TensorRT installed: the newest line the "
            "knowledge base knows; --target T for another)"
        )
    if backend != "auto":
        why_backend = f"backend {chosen} (--backend {backend})"
    elif chosen == "parser":
        why_backend = f"backend parser ({name} installed; --backend static for the knowledge base)"
    elif installed is None:
        why_backend = (
            "backend static (no TensorRT installed; pip install tensorrt-rtx for the real parser)"
        )
    else:
        why_backend = (
            f"backend static ({name} installed is not {target.line if target else '?'}; "
            "--backend parser needs the same line)"
        )
    return f"{why_target} · {why_backend}"
