"""The package's shape, read from its source with ``ast``: arrows point down only.

* the engines (deeprnn/numpy_engine, deeprnn/torch_engine) import nothing above them: not the
  language-model toolkit (deeprnn.lm), the corpora (deeprnn.data), the course adapters
  (deeprnn.compat) or the command line (deeprnn.cli);
* beyond that, each engine imports only what it is built on (NumPy, numba, threadpoolctl; torch and the
  NumPy engine it mirrors) and the two shared files deeprnn/checks.py and deeprnn/layout.py;
* the import graph of the whole package, counting imports inside functions too, has no cycle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "deeprnn"
ENGINES = ("deeprnn.numpy_engine", "deeprnn.torch_engine")
ABOVE = ("deeprnn.lm", "deeprnn.data", "deeprnn.compat", "deeprnn.cli")
SHARED = ("deeprnn.checks", "deeprnn.layout")
ALLOWED = {  # engine -> the deeprnn modules and the third-party packages it may import
    "deeprnn.numpy_engine": (("deeprnn.numpy_engine", *SHARED), {"numpy", "numba", "threadpoolctl"}),
    "deeprnn.torch_engine": (("deeprnn.torch_engine", "deeprnn.numpy_engine", *SHARED), {"torch", "numpy"}),
}


def module_name(path: Path, root: Path = ROOT) -> str:
    """deeprnn/lm/engines/base.py -> 'deeprnn.lm.engines.base'; a package's __init__.py -> the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def find_modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, package.parent): p for p in sorted(package.rglob("*.py"))}


def imports(path: Path, name: str, known: set[str]) -> list[tuple[int, str]]:
    """(line, imported name) for every import in the file, at module level or inside functions.
    Relative imports are resolved; ``from pkg import sub`` names the submodule when ``pkg.sub`` is one."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.append((node.lineno, sub if sub in known else base))
    return out


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """deeprnn module -> the deeprnn modules it imports (the nearest known module of each import)."""
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        edges = set()
        for _, target in imports(path, name, known):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle [a, b, ..., a] of the directed graph, or None (iterative depth-first search)."""
    state = dict.fromkeys(graph, 0)  # 0 unvisited, 1 on the current path, 2 done
    for start in sorted(graph):
        if state[start]:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt, 2) == 1:
                return path[path.index(nxt):] + [nxt]
            elif state.get(nxt, 2) == 0:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def engine_violations(modules: dict[str, Path]) -> list[str]:
    """Every import of a module under an engine folder that reaches above the engines."""
    known = set(modules)
    bad = []
    for name, path in modules.items():
        if _within(name, ENGINES):
            bad += [f"{path.relative_to(ROOT)}:{line} imports {target}"
                    for line, target in imports(path, name, known) if _within(target, ABOVE)]
    return bad


def test_the_engines_import_nothing_above_them():
    modules = find_modules()
    assert {"deeprnn.numpy_engine.stack", "deeprnn.torch_engine.stack"} <= set(modules)
    bad = engine_violations(modules)
    assert not bad, "an engine imports from above it:\n" + "\n".join(bad)


def test_the_engines_import_only_what_they_are_built_on():
    modules = find_modules()
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    bad = []
    for name, path in modules.items():
        engine = next((e for e in ENGINES if _within(name, (e,))), None)
        if engine is None:
            continue
        inside, third_party = ALLOWED[engine]
        for line, target in imports(path, name, set(modules)):
            top = target.partition(".")[0]
            ok = _within(target, inside) if top == "deeprnn" else (top in stdlib or top in third_party)
            if not ok:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not bad, "an engine imports beyond what it is built on:\n" + "\n".join(bad)


def test_the_import_graph_has_no_cycle():
    graph = import_graph(find_modules())
    assert len(graph) > 40 and graph["deeprnn.lm.train"], "the graph should span the whole package"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# -- the checks themselves, on small made-up packages ------------------------------------------------------


def _write(root: Path, files: dict[str, str], package: str = "pkg") -> dict[str, Path]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return find_modules(root / package)


def test_relative_and_function_level_imports_are_resolved(tmp_path):
    modules = _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a/__init__.py": "from . import b\n",
        "pkg/a/b.py": "def f():\n    from ..c import d\n",
        "pkg/c/__init__.py": "",
        "pkg/c/d.py": "import pkg.a.b\nfrom pkg.c import missing\n",
    })
    graph = import_graph(modules)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.a.b"}, "pkg.a.b": {"pkg.c.d"}, "pkg.c": set(),
                     "pkg.c.d": {"pkg.a.b", "pkg.c"}}
    assert find_cycle(graph) == ["pkg.a.b", "pkg.c.d", "pkg.a.b"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None
    assert find_cycle({"x": {"x2"}, "x2": {"y"}, "y": {"x2"}}) == ["x2", "y", "x2"]


@pytest.mark.parametrize("line", ["from ..lm.engine import LMEngine", "from ..lm import engine",
                                  "import deeprnn.data.text", "from deeprnn.compat import check",
                                  "from .. import cli", "def f():\n    from ...lm import train"])
def test_any_import_from_above_an_engine_is_found(tmp_path, line, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)  # paths in messages relative to tmp_path
    nested = line.startswith("def")  # ...lm from a subpackage: three dots
    modules = _write(tmp_path, {
        "deeprnn/__init__.py": "", "deeprnn/cli.py": "", "deeprnn/layout.py": "", "deeprnn/lm/__init__.py": "",
        "deeprnn/lm/engine.py": "", "deeprnn/lm/train.py": "", "deeprnn/data/__init__.py": "",
        "deeprnn/data/text.py": "", "deeprnn/compat/__init__.py": "", "deeprnn/compat/check.py": "",
        "deeprnn/numpy_engine/__init__.py": "", "deeprnn/numpy_engine/ok.py": "from ..layout import GATE_MULT\n",
        "deeprnn/torch_engine/__init__.py": "", "deeprnn/torch_engine/sub/__init__.py": "",
        "deeprnn/torch_engine/sub/lm.py" if nested else "deeprnn/torch_engine/lm.py": line + "\n",
    }, "deeprnn")
    bad = engine_violations(modules)
    assert len(bad) == 1 and "torch_engine" in bad[0] and "lm.py:" in bad[0], bad
