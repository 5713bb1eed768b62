"""trt-plugin: scaffold, list and test trtforge plugins.

  trt-plugin new NAME [--namespace NS] [--root DIR]
      scaffold csrc/<name>/ (kernel, launch adapter, IPluginV3 glue, pybind11 binding),
      plugins/decls/<name>.py (the declaration) and tests/plugins/test_<name>.py: an identity
      plugin that builds and passes its tests out of the box. Rebuild (pip install .) after.
  trt-plugin list [--json]
      every declared plugin, whether its kernels were built.
  trt-plugin test NAME [--hidden 1,128,4096] [--rows 1,64]
      run the kernel harness on a GPU: fresh random inputs, poisoned outputs, every declared
      type combination against the float64 reference.

Exit status: 0 ok; 1 a test failed; 2 bad input or arguments; 3 internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import string
from pathlib import Path
from typing import NoReturn

from trtforge.plugins.cli._common import EXIT_OK, Failure, Parser, UserError, run, setup_logging


def _parser() -> argparse.ArgumentParser:
    ap = Parser(
        prog="trt-plugin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("-v", "--verbose", action="count", default=0)
    sub = ap.add_subparsers(dest="cmd", required=True)
    n = sub.add_parser("new", help="scaffold a plugin (identity kernel, declaration, tests)")
    n.add_argument("name", help="plugin name = ONNX op_type, CamelCase (e.g. FastGelu)")
    n.add_argument(
        "--namespace", default="trtforge", help="plugin namespace = ONNX domain (default trtforge)"
    )
    n.add_argument(
        "--root", help="trtforge source tree (default: found upward from the current directory)"
    )
    ls = sub.add_parser("list", help="list declared plugins")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    t = sub.add_parser("test", help="run the kernel harness on a GPU")
    t.add_argument("name", help="plugin name")
    t.add_argument("--version", default="1")
    t.add_argument("--namespace", default="trtforge")
    t.add_argument("--hidden", help="comma-separated hidden sizes (default: 1 ... 65536)")
    t.add_argument("--rows", help="comma-separated row counts (default: 1,7,64,257)")
    t.add_argument("--seed", type=int, default=0)
    return ap


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("__", "_")


def _find_root(start: Path) -> Path | None:
    for d in (start, *start.parents):
        if (d / "csrc" / "common" / "plugin_base.h").is_file() and (
            d / "plugins" / "decls"
        ).is_dir():
            return d
    return None


def _declared_where(root: Path, key: tuple[str, str, str]) -> str | None:
    """Where plugin `key` (name, version, namespace) is already declared, or None.

    Two places count: the declarations this installation loads (what every trtforge command
    reads; a second one makes them all fail), and the `PluginSpec(...)` calls with literal
    arguments in `root`'s plugins/decls/ (a tree other than the installed one).
    """
    from trtforge.plugins import catalog

    spec = catalog.find_plugin(*key)
    if spec is not None:
        return f"plugins/decls/{catalog.declaration_module(spec)}.py"
    for path in sorted((root / "plugins" / "decls").glob("*.py")):
        if not path.name.startswith("_") and key in _literal_specs(path):
            return str(path.relative_to(root))
    return None


#: the largest declaration file read for its PluginSpec calls (a few kilobytes each)
MAX_DECL_BYTES = 1 << 20


def _literal_specs(path: Path) -> set[tuple[str, str, str]]:
    """(name, version, namespace) of each `PluginSpec(name=..., version=..., namespace=...)`
    call with constant arguments in the Python file `path`."""
    import ast
    import stat

    try:  # a FIFO or a device of that name would block or never end: regular files only
        if not stat.S_ISREG(path.stat().st_mode) or path.stat().st_size > MAX_DECL_BYTES:
            return set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    keys = set()
    for node in ast.walk(tree):
        func = getattr(node, "func", None)
        if not isinstance(node, ast.Call) or getattr(func, "id", getattr(func, "attr", "")) != (
            "PluginSpec"
        ):
            continue
        kw = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
        if {"name", "version", "namespace"} <= kw.keys():
            keys.add((kw["name"], kw["version"], kw["namespace"]))
    return keys


def _make_folders(folder: Path, made: list[Path]) -> None:
    """Makes `folder` and the folders above it that are missing, each added to `made`."""
    missing = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as err:
            raise UserError(
                f"{path}: cannot create it ({err.strerror})", "check the permissions"
            ) from None
        made.append(path)


def cmd_new(args) -> int:
    from trtforge.plugins.cli import _templates as tpl

    name = args.name
    if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name):
        raise UserError(
            f"plugin name '{name}' is not CamelCase letters and digits",
            "use a name like FastGelu: it becomes the ONNX op_type",
        )
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", args.namespace):
        raise UserError(
            f"namespace '{args.namespace}' is not a valid ONNX domain",
            "use e.g. trtforge or acme.ops",
        )
    root = Path(args.root) if args.root else _find_root(Path.cwd())
    if root is None or not (root / "csrc" / "common" / "plugin_base.h").is_file():
        raise UserError(
            "no trtforge source tree here (csrc/common/plugin_base.h and plugins/decls/ not found)",
            "run inside a checkout of trtforge, or pass --root DIR",
        )
    mod = _snake(name)
    fn = name[0].lower() + name[1:]
    where = _declared_where(root, (name, "1", args.namespace))
    if where is not None:
        raise UserError(
            f"plugin {args.namespace}::{name} version 1 is already declared (in {where}); a "
            "second declaration would stop every trtforge command",
            f"pick another name, or add version 2 beside version 1 in {where}",
        )
    files = {
        root / "plugins" / "decls" / f"{mod}.py": tpl.DECL,
        root / "csrc" / mod / f"{mod}_kernel.h": tpl.KERNEL_H,
        root / "csrc" / mod / f"{mod}_kernel.cu": tpl.KERNEL_CU,
        root / "csrc" / mod / f"{mod}_launch.h": tpl.LAUNCH_H,
        root / "csrc" / mod / f"{mod}_launch.cpp": tpl.LAUNCH_CPP,
        root / "csrc" / mod / f"{mod}_plugin.cpp": tpl.PLUGIN_CPP,
        root / "csrc" / mod / f"{mod}_binding.cpp": tpl.BINDING_CPP,
        root / "tests" / "plugins" / f"test_{mod}.py": tpl.TEST,
    }
    clash = [str(p.relative_to(root)) for p in files if os.path.lexists(p)]
    if clash:
        raise UserError(
            f"refusing to overwrite {', '.join(clash)}", "remove them or choose another name"
        )
    from trtforge.analyzer.outputs import OutputSet

    made: list[Path] = []  # the folders made for the scaffold, removed if it fails
    try:
        with OutputSet() as outputs:  # all the scaffold's files, or none
            for path, text in files.items():
                _make_folders(path.parent, made)
                body = string.Template(text).substitute(
                    Name=name, mod=mod, ns=args.namespace, fn=fn
                )
                outputs.add_text(path, body, "trt-plugin new")
            outputs.commit()
    except BaseException:
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # (empty: the outputs left nothing there)
        raise
    for path in files:
        print(f"created {path.relative_to(root)}")
    print(
        f"\nnext: edit the kernel in csrc/{mod}/, rebuild (pip install .), then\n"
        f"  trt-plugin test {name}    and    pytest tests/plugins/\n"
        "and regenerate the plugin list in docs/plugins.md: python -m tools.plugin_table"
    )
    return EXIT_OK


def cmd_list(args) -> int:
    from trtforge.plugins import all_plugins, is_available

    rows = []
    for s in all_plugins():
        rows.append(
            {
                "name": s.name,
                "version": s.version,
                "namespace": s.namespace,
                "available": is_available(s),
                "inputs": [t.name for t in s.inputs],
                "outputs": [t.name for t in s.outputs],
                "attributes": {
                    a.name: {"type": a.type, "default": a.default} for a in s.attributes
                },
                "types": ["/".join(c) for c in s.type_combinations],
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for r in rows:
        attrs = ", ".join(f"{k}:{v['type']}={v['default']}" for k, v in r["attributes"].items())
        print(
            f"{r['namespace']}::{r['name']} v{r['version']}  "
            f"{'built' if r['available'] else 'NOT BUILT'}  "
            f"({', '.join(r['inputs'])}) -> ({', '.join(r['outputs'])})  [{attrs}]"
        )
    return EXIT_OK


def _ints(text: str | None, what: str):
    if text is None:
        return None
    try:
        vals = tuple(int(v) for v in text.split(",") if v)
    except ValueError:
        vals = ()
    if not vals or any(v <= 0 for v in vals):
        raise UserError(
            f"--{what} '{text}' is not a comma-separated list of positive integers",
            f"write e.g. --{what} 1,128,4096",
        )
    return vals


def cmd_test(args) -> int:
    from trtforge.plugins import catalog, find_plugin

    spec = find_plugin(args.name, args.version, args.namespace)
    if spec is None:
        known = ", ".join(f"{s.namespace}::{s.name} v{s.version}" for s in catalog.all_plugins())
        raise UserError(
            f"no plugin {args.namespace}::{args.name} version {args.version}", f"declared: {known}"
        )
    hidden, rows = _ints(args.hidden, "hidden"), _ints(args.rows, "rows")
    try:
        import cupy as cp

        n = cp.cuda.runtime.getDeviceCount()
    except Exception as e:  # noqa: BLE001
        raise UserError(
            f"trt-plugin test needs a CUDA GPU and CuPy ({type(e).__name__}: {e})",
            "pip install cupy-cuda13x (or -cuda12x) and run on a machine with a GPU",
        ) from e
    if n == 0:
        raise UserError("no CUDA GPU visible", "run on a machine with a GPU")
    if catalog.extension_path() is None:
        raise UserError("trtforge._C was not built", "reinstall trtforge where nvcc is on PATH")
    from trtforge import _C

    key = f"{spec.namespace}::{spec.name}/{spec.version}"
    if key not in _C.plugins():
        raise UserError(
            f"{key} has no kernel in trtforge._C (built before the plugin was added?)",
            "rebuild: pip install . (or cmake --build)",
        )
    from trtforge.plugins import harness

    kw = {}
    if hidden:
        kw["hidden_sizes"] = hidden
    if rows:
        kw["row_counts"] = rows
    results = harness.run_all(spec, seed=args.seed, **kw)
    for r in results:
        print(r.line())
    bad = [r for r in results if not r.ok]
    print(f"{len(results) - len(bad)}/{len(results)} cases within tolerance")
    if bad:
        raise Failure(
            f"{len(bad)} case(s) of {spec.qualified_name} differ from the reference",
            "see the FAIL lines: unwritten > 0 means outputs left unwritten",
        )
    return EXIT_OK


def _main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.verbose)
    return {"new": cmd_new, "list": cmd_list, "test": cmd_test}[args.cmd](args)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: the exit status (0, 1, 2 or 3)."""
    return run("trt-plugin", _main, argv)


def console_main() -> NoReturn:
    """The `trt-plugin` command (`cli._args.run_console`)."""
    from trtforge.analyzer.cli._args import run_console

    run_console(main)


if __name__ == "__main__":
    console_main()
