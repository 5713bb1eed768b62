"""trt-plugin list/test/new (every CLI's -h without heavy modules: tests/reports/test_cli.py)."""

from __future__ import annotations

import json

from _plugin_helpers import run_cli


def test_list_json():
    proc = run_cli("trtforge.plugins.cli.plugin", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {(r["namespace"], r["name"], r["version"]) for r in json.loads(proc.stdout)}
    assert ("trtforge", "LayerNorm", "1") in rows and ("trtforge", "RMSNorm", "1") in rows


def test_test_unknown_plugin_exit_2():
    proc = run_cli("trtforge.plugins.cli.plugin", "test", "NoSuchPlugin")
    assert proc.returncode == 2
    assert "no plugin trtforge::NoSuchPlugin" in proc.stderr and "Hint:" in proc.stderr


def test_new_rejects_bad_names(tmp_path):
    proc = run_cli("trtforge.plugins.cli.plugin", "new", "bad-name", "--root", str(tmp_path))
    assert proc.returncode == 2 and "CamelCase" in proc.stderr
    proc = run_cli("trtforge.plugins.cli.plugin", "new", "Good", "--root", str(tmp_path))
    assert proc.returncode == 2 and "no trtforge source tree" in proc.stderr


def _bare_tree(root):
    """The least `trt-plugin new` takes for a source tree."""
    (root / "csrc" / "common").mkdir(parents=True)
    (root / "csrc" / "common" / "plugin_base.h").write_text("// stand-in\n")
    (root / "plugins" / "decls").mkdir(parents=True)
    return root


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_new_refuses_a_plugin_this_installation_declares(tmp_path):
    root = _bare_tree(tmp_path)
    before = _files(root)
    proc = run_cli("trtforge.plugins.cli.plugin", "new", "LayerNorm", "--root", str(root))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Hint: ")
    assert "trtforge::LayerNorm version 1 is already declared" in lines[0]
    assert "plugins/decls/layernorm.py" in lines[0]
    assert _files(root) == before  # nothing scaffolded
    # another namespace is another plugin
    proc = run_cli(
        "trtforge.plugins.cli.plugin",
        "new",
        "LayerNorm",
        "--namespace",
        "acme",
        "--root",
        str(root),
    )
    assert proc.returncode == 0, proc.stderr
    assert (root / "plugins" / "decls" / "layer_norm.py").is_file()


def test_new_refuses_a_plugin_the_target_tree_declares(tmp_path):
    root = _bare_tree(tmp_path)
    (root / "plugins" / "decls" / "acme_ops.py").write_text(
        "from trtforge.plugins.spec import PluginSpec\n"
        'SPEC = PluginSpec(name="Thing", version="1", namespace="acme", inputs=(), outputs=())\n'
    )
    before = _files(root)
    proc = run_cli(
        "trtforge.plugins.cli.plugin", "new", "Thing", "--namespace", "acme", "--root", str(root)
    )
    assert proc.returncode == 2, proc.stderr
    assert "acme::Thing version 1 is already declared (in plugins/decls/acme_ops.py)" in proc.stderr
    assert _files(root) == before
    proc = run_cli("trtforge.plugins.cli.plugin", "new", "Thing", "--root", str(root))
    assert proc.returncode == 0, proc.stderr  # trtforge::Thing is not acme::Thing


def _folders(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir())


def test_new_leaves_the_tree_as_it_was_when_it_fails(tmp_path):
    """tests/plugins is a file: nothing can be scaffolded there, and the folders made for the
    other files (csrc/<mod>/) go with them."""
    root = _bare_tree(tmp_path)
    (root / "tests").mkdir()
    (root / "tests" / "plugins").write_text("not a folder\n")
    before = (_files(root), _folders(root))
    proc = run_cli("trtforge.plugins.cli.plugin", "new", "FooBar", "--root", str(root))
    assert proc.returncode == 2, proc.stderr
    assert (_files(root), _folders(root)) == before


def test_new_reads_no_fifo_among_the_declarations(tmp_path):
    """A FIFO named *.py in plugins/decls/ blocked `trt-plugin new` for ever."""
    import os

    root = _bare_tree(tmp_path)
    os.mkfifo(root / "plugins" / "decls" / "pipe.py")
    proc = run_cli("trtforge.plugins.cli.plugin", "new", "FooBar", "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    assert (root / "csrc" / "foo_bar" / "foo_bar_plugin.cpp").is_file()
