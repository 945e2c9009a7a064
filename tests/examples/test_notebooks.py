"""Examples executed as real notebooks: jupytext conversion, then a Jupyter kernel runs them.

``test_examples.py`` runs every example as a script; here a few of them go the way a learner
opens them in Jupyter: ``jupytext`` turns the percent-format file into a notebook and
nbclient executes it cell by cell in a ``python3`` kernel of this interpreter, in fast mode
(``_execute_notebooks.py``, in its own process, all notebooks side by side). A cell that
raises, including a failed ``assert``, fails the test with that cell's traceback. In a
kernel the examples draw inline, so the executed notebook must also carry its figures as
``image/png`` (or, where ``d2l.use_svg_display`` asks for it, ``image/svg+xml``) outputs.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
EXECUTE = Path(__file__).with_name("_execute_notebooks.py")
MISSING = [m for m in ("jupytext", "nbclient", "ipykernel") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"executing notebooks needs {', '.join(MISSING)}: install the dev or notebook extra",
)

# Cheap ones, one English and one Chinese, both drawing figures.
NOTEBOOKS = [
    EXAMPLES_DIR / "05_autograd_chain_rule.py",
    EXAMPLES_DIR / "zh" / "34_softmax_regression.py",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Execute every notebook once; return the folder with the executed ``.ipynb`` files."""
    root = tmp_path_factory.mktemp("notebooks")
    (root / "data").mkdir()
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel's own inline backend, as in Jupyter
    env.update(
        TORCHLINEAR_EXAMPLES_FAST="1",
        TORCHLINEAR_EXAMPLES_OUT=str(root / "out"),
        TORCHLINEAR_DATA=str(root / "data"),
        # Jupyter's and IPython's own files stay in the temporary folder.
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
        JUPYTER_DATA_DIR=str(root / "jupyter-data"),
        IPYTHONDIR=str(root / "ipython"),
        OMP_NUM_THREADS="1",
    )
    result = subprocess.run(
        [sys.executable, str(EXECUTE), str(root), *map(str, NOTEBOOKS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"executing the notebooks failed:\n{result.stderr[-4000:]}"
    return root


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_example_executes_as_a_notebook(path: Path, executed: Path) -> None:
    error = executed / f"{path.stem}.error.txt"
    if error.exists():
        pytest.fail(f"{path} failed as a notebook:\n{error.read_text()}", pytrace=False)
    notebook = json.loads((executed / f"{path.stem}.ipynb").read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code and all(cell["execution_count"] for cell in code), "every code cell ran"
    outputs = [output for cell in code for output in cell["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    shown = [o["data"] for o in outputs if o["output_type"] in ("display_data", "execute_result")]
    png = [base64.b64decode(d["image/png"]) for d in shown if "image/png" in d]
    svg = ["".join(d["image/svg+xml"]) for d in shown if "image/svg+xml" in d]
    assert png or svg, f"{path.name}: no figure was shown inline in the notebook"
    assert all(image.startswith(b"\x89PNG\r\n\x1a\n") for image in png)
    assert all("<svg" in image for image in svg)
    workdir = executed / path.stem
    assert not (workdir / "runs").exists(), f"{path.name} ignored TORCHLINEAR_EXAMPLES_OUT"
