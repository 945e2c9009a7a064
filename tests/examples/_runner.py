"""Run example scripts one after another in one interpreter, each as if it ran on its own.

Starting Python and importing torch and matplotlib costs two to four seconds of CPU, more
than most examples spend on their own work in fast mode, so the test suite pays it once per
worker instead of once per example. ``python _runner.py`` reads one case per line on stdin,
a JSON object ``{"path": ..., "workdir": ..., "env": {...}}``, runs the script with
:func:`runpy.run_path` as ``__main__`` from ``workdir`` with exactly ``env`` as its
environment, writes ``stdout.txt``, ``stderr.txt`` and ``result.json`` (``returncode``,
wall and CPU ``seconds``) into ``workdir``, and answers with one line on stdout.

Between two scripts everything a script could leave behind is put back: the environment,
the working folder, ``sys.argv`` and ``sys.path``, the warning filters, matplotlib's rc
settings and open figures, torch's global generator, default dtype and thread count, and
every module of ``torchlinear`` or of the examples folders is imported afresh (the library
keeps a little module state, such as ``d2l``'s figure folder). A traceback is written to
the script's own ``stderr.txt`` with the script's file and line, as a plain run prints it.
"""

from __future__ import annotations

import faulthandler
import importlib
import json
import os
import runpy
import sys
import time
import traceback
import warnings
from pathlib import Path


def _purge_modules(roots: tuple[str, ...]) -> None:
    """Forget ``torchlinear`` and any module loaded from the examples folders."""
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if name == "torchlinear" or name.startswith("torchlinear."):
            del sys.modules[name]
        elif file and any(file.startswith(root) for root in roots):
            del sys.modules[name]


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    # What most scripts import (a first optimizer step imports torch._dynamo): paid once
    # here, so that a script's own time is its own work.
    for name in ("numpy", "scipy.stats", "sklearn.linear_model", "torch._dynamo"):
        importlib.import_module(name)

    rc = matplotlib.rcParams.copy()
    generator_state = torch.random.get_rng_state()
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    environ, path, cwd = dict(os.environ), list(sys.path), os.getcwd()
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    sys.stdin.reconfigure(encoding="utf-8")

    for line in sys.stdin:
        case = json.loads(line)
        script, workdir = Path(case["path"]), Path(case["workdir"])
        workdir.mkdir(parents=True, exist_ok=True)
        os.environ.clear()
        os.environ.update(environ)
        os.environ.update(case["env"])
        os.chdir(workdir)
        sys.argv = [str(script)]
        sys.path[:] = [str(script.parent), *path[1:]]
        _purge_modules(tuple(str(folder) for folder in case.get("module_roots", ())))
        plt.close("all")
        matplotlib.rcParams.update(rc)
        torch.random.set_rng_state(generator_state)
        torch.set_default_dtype(dtype)
        torch.set_num_threads(threads)

        returncode = 0
        with (
            open(workdir / "stdout.txt", "w", encoding="utf-8", buffering=1) as out,
            open(workdir / "stderr.txt", "w", encoding="utf-8", buffering=1) as err,
        ):
            # File descriptors too, so that subprocesses and C code write to the same files.
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.stdout, sys.stderr = out, err
            faulthandler.enable(err)
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                with warnings.catch_warnings():
                    runpy.run_path(str(script), run_name="__main__")
            except SystemExit as exit_:
                code = exit_.code
                returncode = code if isinstance(code, int) else (0 if code is None else 1)
                if code not in (None, 0) and not isinstance(code, int):
                    print(code, file=err)
            except BaseException as error:  # reported as a plain run reports it
                tb = error.__traceback__
                while tb is not None and tb.tb_frame.f_code.co_filename != str(script):
                    tb = tb.tb_next  # start at the script's own frame, not at runpy's
                traceback.print_exception(type(error), error, tb or error.__traceback__, file=err)
                returncode = 1
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            sys.stdout.flush()
            sys.stderr.flush()
            faulthandler.disable()
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        result = {"returncode": returncode, "seconds": wall, "cpu_seconds": cpu}
        (workdir / "result.json").write_text(json.dumps(result), encoding="utf-8")
        os.chdir(cwd)
        protocol.write(json.dumps({"done": str(script), **result}) + "\n")


if __name__ == "__main__":
    main()
