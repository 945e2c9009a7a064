"""The project's habits as tests: lint, types and the API reference stay clean.

Each test runs a tool over the whole tree in a fresh process and fails with the tool's own
report, so a regression shows up in the suite (and in CI) rather than in review.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _require(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed; install the '{extra}' extra to run this check")


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _report(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit code {result.returncode}\n{result.stdout}\n{result.stderr}"


def test_ruff() -> None:
    # ``ruff format --check`` is not run: the tree is not formatted as a whole yet.
    _require("ruff", "dev")
    result = _run("ruff", "check", "--no-cache", "src", "tests", "benchmarks", "examples")
    assert result.returncode == 0, _report(result)


def test_no_module_imports_another_modules_private_names() -> None:
    # ruff's SLF001 covers attribute access (``obj._name``); this covers the other way in,
    # ``from torchlinear.x import _name``. A name another module needs is public there.
    found = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                private = [
                    a.name for a in node.names if a.name.startswith("_") and a.name[1] != "_"
                ]
                if private:
                    where = path.relative_to(ROOT)
                    found.append(f"{where}:{node.lineno} from {node.module} import {private}")
    assert not found, "\n".join(found)


def test_types() -> None:
    # configuration (strict modules, exclusions) lives in pyproject.toml's [tool.mypy];
    # .mypy_cache makes repeated runs take about a second
    _require("mypy", "dev")
    result = _run("mypy", "--cache-dir", str(ROOT / ".mypy_cache"))
    assert result.returncode == 0, _report(result)


def test_api_docs(tmp_path: Path) -> None:
    # the reference in docs/api is generated from the numpydoc docstrings; any warning
    # (a broken cross-reference, a malformed section) fails the build
    _require("sphinx", "docs")
    result = _run(
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-j",
        "1",
        "-b",
        "html",
        "-d",
        str(tmp_path / "doctrees"),
        str(ROOT / "docs" / "api"),
        str(tmp_path / "html"),
    )
    assert result.returncode == 0, _report(result)
    assert (tmp_path / "html" / "index.html").is_file()
