"""The package layering, read from the source: ``core`` never names ``zoo`` or ``apps``; core's
module-level imports form no cycle; the registry is a leaf; importing core imports nothing of zoo
and stays light; exporting core layers loads no other package's converters."""
import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = os.path.join(ROOT, "core")


def _modules():
    out = {}
    for dirpath, _, files in os.walk(CORE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                name = rel[:-len(".__init__")] if rel.endswith(".__init__") else rel
                out[name] = path
    return out


def _resolve(module, is_package, level, target):
    if level == 0:
        return target
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _imports(name, path, module_level_only):
    """(imported module names, every string that names a module passed to import_module)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    is_package = path.endswith("__init__.py")
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    if module_level_only:  # module level includes if/try blocks at the top, not function bodies
        stack, nodes = list(tree.body), []
        while stack:
            node = stack.pop()
            nodes.append(node)
            if isinstance(node, (ast.If, ast.Try)):
                stack.extend(node.body + node.orelse + getattr(node, "finalbody", []) +
                             [h for handler in getattr(node, "handlers", []) for h in handler.body])
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node.level, node.module)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


def test_core_never_names_zoo_or_apps():
    offenders = []
    for name, path in _modules().items():
        text = open(path, encoding="utf-8").read()
        for mod in _imports(name, path, module_level_only=False):
            if mod.split(".")[0] in ("zoo", "apps"):
                offenders.append(f"{name} imports {mod}")
        for needle in ('"zoo.', "'zoo.", '"apps.', "'apps."):
            if needle in text:
                offenders.append(f"{name} names a zoo/apps module in a string ({needle}...)")
    assert not offenders, offenders


def test_no_import_cycle_among_core_modules_at_module_level():
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        deps = set()
        for mod in _imports(name, path, module_level_only=True):
            while mod and mod not in modules:
                mod = mod.rpartition(".")[0]
            if mod and mod != name and mod.startswith("core"):
                deps.add(mod)
        graph[name] = deps
    # a package's __init__ importing its own submodules is how packages are built, not a cycle;
    # a submodule needs its parent package imported first, so that edge is implied and not followed
    state, cycles = {}, []

    def visit(node, trail):
        state[node] = "open"
        for dep in sorted(graph[node]):
            if node.startswith(dep + "."):
                continue
            if state.get(dep) == "open":
                cycles.append(trail[trail.index(dep):] + [dep] if dep in trail else [node, dep])
            elif dep not in state:
                visit(dep, trail + [dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles[:5]


def test_registry_is_a_leaf():
    mods = _modules()
    deps = _imports("core.object_registration", mods["core.object_registration"], module_level_only=False)
    assert not [d for d in deps if d.startswith("core")], deps


def _fresh(code):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          check=True).stdout.strip()


def test_import_core_imports_no_zoo_and_little_else():
    out = _fresh("import sys, core; print(sorted(m for m in sys.modules if m.split('.')[0] in "
                 "('core', 'zoo', 'apps', 'numpy')))")
    assert out == "['core', 'core.object_registration']"


@pytest.mark.slow
def test_exporting_core_layers_loads_no_package_converters():
    code = ("import sys, zoo, apps, core as keras\n"
            "from core.export.onnx_graph import get_onnx_converter\n"
            "m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])\n"
            "assert all(get_onnx_converter(l) for l in m.layers)\n"
            "print(sorted(m for m in sys.modules if m.endswith('onnx_converters')))\n"
            "from zoo.models.resnet_cifar import ShortcutA\n"
            "assert get_onnx_converter(ShortcutA(4)) is not None\n"
            "print(sorted(m for m in sys.modules if m.endswith('onnx_converters')))")
    before, after = _fresh(code).splitlines()
    assert before == "[]"
    assert "zoo.onnx_converters" in after


@pytest.mark.slow
def test_zoo_model_file_needs_zoo_imported(tmp_path):
    import zoo

    path = tmp_path / "cls.h5"
    zoo.create_model("resnet20", num_classes=3).save(path)  # (saved here: only the loads need fresh processes)
    msg = _fresh("import core\n"
                 "try:\n"
                 f"    core.saving.load_model({str(path)!r})\n"
                 "except Exception as e:\n"
                 "    print(type(e).__name__, e)")
    assert "import the 'zoo' package" in msg, msg
    assert _fresh(f"import zoo, core\nprint(type(core.saving.load_model({str(path)!r})).__name__)")


def test_test_modules_import_helpers_not_each_other():
    """Shared test code lives in helper modules (``tests/*_helpers.py``, ``fixture_utils``, ``markers``,
    ``shared_data``, ``conftest``): a test module imported by another would load twice under two names
    and run its tests from both."""
    import re

    tests_dir = os.path.join(ROOT, "tests")
    statement = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w., ]+))", re.M)  # (a text scan: fast)
    offenders = []
    for f in sorted(os.listdir(tests_dir)):
        if f.startswith("test_") and f.endswith(".py"):
            for m in statement.finditer(open(os.path.join(tests_dir, f), encoding="utf-8").read()):
                names = [m.group(1)] if m.group(1) else [n.strip() for n in m.group(2).split(",")]
                offenders += [f"{f}: {n}" for n in names if n.split(" ")[0].split(".")[-1].startswith("test_")]
    assert not offenders, offenders
