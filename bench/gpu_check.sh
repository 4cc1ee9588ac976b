#!/usr/bin/env bash
# GPU path check, for the few minutes a CUDA machine is lent: run from the repository root.
#
#   bash bench/gpu_check.sh
#
# Prints the GPU, runs the CUDA-marked tests (mixed precision, channels_last,
# GPU-resident data, GPU scoring) and then the benchmarks (python -m bench).
# The exit status is non-zero when either failed; the benchmarks run anyway.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi: not found"
if ! python -c "import torch, numpy, scipy, tqdm, pytest" 2>/dev/null; then
    pip install -q -e ".[dev]" || { echo "gpu_check: torch/pytest missing and pip install -e .[dev] failed"; exit 2; }
fi
python -c "import torch; ok = torch.cuda.is_available(); print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'|', torch.cuda.get_device_name() if ok else 'NO CUDA DEVICE', '| bf16', ok and torch.cuda.is_bf16_supported())"

status=0
python -c "import sys, torch; sys.exit(not torch.cuda.is_available())" \
    || { echo "gpu_check: torch sees no CUDA device, so the cuda tests only skip"; status=1; }
python -m pytest -q -rs -m cuda tests || status=1
python -m bench || status=1
exit $status
