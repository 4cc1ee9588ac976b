"""The layering of DESIGN.md holds, and the run directory's names have one home."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: import-linter brings tomli
    import tomli as tomllib

import pytest
import svp
from svp import rundir

SRC = Path(svp.__file__).resolve().parent
PYPROJECT = SRC.parents[1] / "pyproject.toml"
# names built from a size or an epoch: labeled_<n>.index, initial_subset_<n>.index, checkpoint_<epoch>.t7
TEMPLATE_PARTS = ("labeled_", "labelled_", "initial_subset_", "checkpoint_")


def test_import_layers_are_kept():
    # in a child process: import-linter reconfigures logging, which would silence svp's loggers here
    code = f"import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports({str(PYPROJECT)!r}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_layers_contract_covers_every_module():
    (contract,) = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    layered = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    modules = {f"svp.{path.stem if path.is_file() else path.name}" for path in SRC.iterdir()
               if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()}
    assert modules == layered


def _file_names() -> set[str]:
    """Every file name rundir declares (its upper-case string constants with a dot), templates aside."""
    return {value for name, value in vars(rundir).items()
            if name.isupper() and isinstance(value, str) and "." in value and value != rundir.TEMP_SUFFIX}


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module's code (docstrings, which document, aside)."""
    tree = ast.parse(path.read_text())
    documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree) if isinstance(node, documented)
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_rundir_declares_the_run_directory_names():
    assert {"config.json", "proxy.csv", "target.csv", "selection.csv", "selected.index",
            "checkpoint_best_model.t7"} <= _file_names()


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_but_rundir_spells_a_run_directory_name(path):
    if path == SRC / "rundir.py":
        return
    names = _file_names() | set(TEMPLATE_PARTS) | {rundir.TEMP_SUFFIX}
    found = [(line, text) for line, text in _string_literals(path) if any(name in text for name in names)]
    assert found == [], f"{path.name} spells run-directory names; import them from svp.rundir"
