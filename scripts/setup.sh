#!/usr/bin/env bash
# Create .venv with the CPU build of PyTorch and torchlinear (editable, with dev extras).
# Safe to re-run: it does nothing when pyproject.toml has not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
# TORCH_INDEX_URL: the wheel index PyTorch comes from, e.g. https://download.pytorch.org/whl/cpu
# for the CPU-only build on a machine whose default index serves CUDA builds. Unset: pip's default.
TORCH_INDEX_URL=${TORCH_INDEX_URL:-}

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.torchlinear-setup
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1) torch==$TORCH_VERSION $TORCH_INDEX_URL"
# The package's bytecode, written now: an interpreter that may not write it itself
# (PYTHONDONTWRITEBYTECODE, a read-only checkout) would otherwise compile every module of
# torchlinear again in each process, about 0.35 s of every command's start-up.
compile_sources() {
    .venv/bin/python -m compileall -q -j 0 src >/dev/null
}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c "import torchlinear" 2>/dev/null; then
    compile_sources
    exit 0
fi
# torch first: a bare torch requirement with no torch installed would pull the CUDA build.
if [ -n "$TORCH_INDEX_URL" ]; then
    .venv/bin/python -m pip install --quiet --index-url "$TORCH_INDEX_URL" "torch==$TORCH_VERSION"
else
    .venv/bin/python -m pip install --quiet "torch==$TORCH_VERSION"
fi
.venv/bin/python -m pip install --quiet -e ".[dev]"
compile_sources
echo "$want" > "$stamp"
