"""Execute percent-format examples as notebooks, each in its own ``python3`` kernel, side by side.

``python _execute_notebooks.py ROOT EXAMPLE...`` converts each example with jupytext, runs it
with nbclient from the working folder ``ROOT/<name>`` (the kernel inherits this process's
environment) and writes the executed notebook to ``ROOT/<name>.ipynb``, plus
``ROOT/<name>.error.txt`` with the failing cell and its traceback when a cell raises.

It runs in its own interpreter so that the test process never imports ipykernel: code that
asks "am I in a notebook?" by looking for ``ipykernel`` in ``sys.modules`` (as
``torchlinear.d2l`` does) must keep getting "no" in the rest of the test session.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path


async def _execute(path: Path, root: Path) -> None:
    import jupytext
    import nbclient
    import nbformat

    workdir = root / path.stem
    workdir.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(workdir)}},  # the kernel's working folder
    )
    try:
        await client.async_execute()
    except Exception as error:  # CellExecutionError names the cell and shows its traceback
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # without the terminal colours
        (root / f"{path.stem}.error.txt").write_text(plain, encoding="utf-8")
    nbformat.write(notebook, str(root / f"{path.stem}.ipynb"))


async def _execute_all(root: Path, paths: list[Path]) -> None:
    await asyncio.gather(*(_execute(path, root) for path in paths))


if __name__ == "__main__":
    asyncio.run(_execute_all(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
