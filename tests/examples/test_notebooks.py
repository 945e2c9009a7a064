"""Examples executed as real notebooks: jupytext conversion, then a Jupyter kernel runs them.

``test_examples.py`` runs every example as a script; here a few of them go the way a learner
opens them in Jupyter: ``jupytext`` turns the percent-format file into a notebook and
nbclient executes it cell by cell in a ``python3`` kernel of this interpreter, in fast mode.
A cell that raises, including a failed ``assert``, fails the test with that cell's
traceback. In a kernel the examples draw inline, so the executed notebook must also carry
its figures as ``image/png`` (or, where ``d2l.use_svg_display`` asks for it,
``image/svg+xml``) outputs. The notebooks run side by side, each in its own kernel, in a
module fixture; each parametrised test then checks its own.
"""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any, NamedTuple

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
SKIP = "executing notebooks needs nbclient and ipykernel: pip install -e '.[dev]' or '.[notebook]'"
jupytext = pytest.importorskip("jupytext", reason=SKIP)
nbclient = pytest.importorskip("nbclient", reason=SKIP)
pytest.importorskip("ipykernel", reason=SKIP)

# Cheap ones, one English and one Chinese, both drawing figures.
NOTEBOOKS = [
    EXAMPLES_DIR / "05_autograd_chain_rule.py",
    EXAMPLES_DIR / "zh" / "34_softmax_regression.py",
]


class Executed(NamedTuple):
    notebook: Any
    workdir: Path
    error: BaseException | None


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Executed]:
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

    async def execute(path: Path) -> Executed:
        workdir = root / path.stem
        workdir.mkdir()
        notebook = jupytext.read(path)
        client = nbclient.NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=120,
            resources={"metadata": {"path": str(workdir)}},  # the kernel's working folder
        )
        try:
            await client.async_execute(env=env)
        except Exception as error:  # CellExecutionError names the cell and its traceback
            return Executed(notebook, workdir, error)
        return Executed(notebook, workdir, None)

    async def execute_all() -> list[Executed]:
        return await asyncio.gather(*(execute(path) for path in NOTEBOOKS))

    return dict(zip(NOTEBOOKS, asyncio.run(execute_all()), strict=True))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_example_executes_as_a_notebook(path: Path, executed: dict[Path, Executed]) -> None:
    notebook, workdir, error = executed[path]
    if error is not None:
        pytest.fail(f"{path} failed as a notebook:\n{error}", pytrace=False)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code), "every code cell ran"
    outputs = [output for cell in code for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o.data for o in outputs if o.output_type in ("display_data", "execute_result")]
    png = [base64.b64decode(d["image/png"]) for d in shown if "image/png" in d]
    svg = [d["image/svg+xml"] for d in shown if "image/svg+xml" in d]
    assert png or svg, f"{path.name}: no figure was shown inline in the notebook"
    assert all(image.startswith(b"\x89PNG\r\n\x1a\n") for image in png)
    assert all("<svg" in image for image in svg)
    assert not (workdir / "runs").exists(), f"{path.name} ignored TORCHLINEAR_EXAMPLES_OUT"
