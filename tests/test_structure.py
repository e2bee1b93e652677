"""The package's shape: small files, an acyclic import graph, command modules that nothing
imports, and light commands that load neither torch nor gymnasium."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "lunar_dqn"
COMMANDS = {f"lunar_dqn.{name}" for name in ("train", "evaluate", "plot", "inspect", "report")}
MAX_LINES = 250
# What `report`, `plot` and the run-directory reader need; none of them may load torch or gymnasium.
LIGHT = ("lunar_dqn.cli", "lunar_dqn.errors", "lunar_dqn.config", "lunar_dqn.report",
         "lunar_dqn.plot", "lunar_dqn.run.rundir", "lunar_dqn.sweep.table")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path) -> set[str]:
    """The lunar_dqn modules `path` imports when it runs (not under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
               and isinstance(stmt.test, ast.Name) and stmt.test.id == "TYPE_CHECKING"
               for node in ast.walk(stmt)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("lunar_dqn")}


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: runtime_imports(path) & MODULES.keys() - {name} for name, path in MODULES.items()}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_file_is_longer_than_the_limit(name):
    assert len(MODULES[name].read_text().splitlines()) <= MAX_LINES


def test_the_import_graph_has_no_cycle():
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            pytest.fail(f"import cycle: {' -> '.join((*path[path.index(name):], name))}")
        if name in done:
            return
        for imported in sorted(GRAPH[name]):
            visit(imported, (*path, name))
        done.add(name)

    for name in sorted(GRAPH):
        visit(name, ())


def test_no_module_imports_a_command_module():
    importers = {name: sorted(imported & COMMANDS) for name, imported in GRAPH.items()}
    assert {name: found for name, found in importers.items() if found} == {}


def test_the_graph_sees_the_imports():
    """The checks above would pass on an empty graph: the trainer's imports are there."""
    assert {"lunar_dqn.run.resume", "lunar_dqn.algo.nstep"} <= GRAPH["lunar_dqn.run.trainer"]
    assert "lunar_dqn.algo.agent" in GRAPH["lunar_dqn.algo.prioritized"]
    assert "lunar_dqn.run.trainer" in GRAPH["lunar_dqn.train"]


@pytest.mark.parametrize("module", LIGHT)
def test_light_modules_load_neither_torch_nor_gymnasium(module):
    code = (f"import sys, {module}; heavy = sorted(m for m in ('torch', 'gymnasium') "
            "if m in sys.modules); print(heavy); sys.exit(bool(heavy))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "[]"
