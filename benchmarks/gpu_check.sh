#!/usr/bin/env bash
# One command for a lent GPU: install what is missing (JAX with CUDA, the bench extra: torch,
# x-transformers), check GPU logits against the CPU's, then print the MMT sampler table
# (batch 1, 8, 64, 256; float32 and bfloat16; 1,024 events) and the train-step table
# (tokens/s, MFU), each beside the PyTorch reference on the same card. About 10 minutes.
#
#   bash benchmarks/gpu_check.sh              # on the GPU machine, from anywhere
#   bash benchmarks/gpu_check.sh --dry-run    # on CPU with tiny sizes: checks the script itself
#
# PY (default .venv/bin/python, else python3) and OUT (default /tmp/mmt_gpu_check) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
OUT=${OUT:-/tmp/mmt_gpu_check}
DRY=()
[ "${1:-}" = "--dry-run" ] && DRY=(--dry-run)

if [ ${#DRY[@]} -eq 0 ]; then
  if ! "$PY" -c "import jax, sys; sys.exit(jax.default_backend() != 'gpu')" 2>/dev/null; then
    echo "installing JAX for CUDA (the cuda extra)"
    "$PY" -m pip install -q -e ".[cuda]"
  fi
  if ! "$PY" -c "import torch, x_transformers, sys; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
    echo "installing the bench extra (torch==2.13.0, x-transformers==0.25.9)"
    "$PY" -m pip install -q -e ".[bench]"
  fi
fi
exec "$PY" benchmarks/gpu_check.py "${DRY[@]}" --out "$OUT"
