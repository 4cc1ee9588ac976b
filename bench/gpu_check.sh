#!/usr/bin/env bash
# GPU path check, for the few minutes a CUDA machine is lent: run from the repository root.
#
#   bash bench/gpu_check.sh [FASHION_MNIST_DIR]
#
# 1. the GPU and torch build;
# 2. the CUDA-marked tests (mixed precision, channels_last, GPU-resident data, GPU scoring);
# 3. the CIFAR10 proxy round of the original command (preact20 proxy, 50-epoch schedule,
#    1,000 labels, 4,000 picked from 49,000) on a synthetic CIFAR10 in the real pickle
#    format, in fp32 and with --proxy-fp16;
# 4. the demo (make demo's command) on the GPU, for accuracy, when Fashion-MNIST is there
#    (FASHION_MNIST_DIR, default Debian's folder);
# 5. the benchmarks (python -m bench; they time the CPU paths), cut at SVP_GPU_BENCH_S seconds.
# Logs go to $OUT when set (the device tool's folder), else to ./gpu-check. The exit status is
# non-zero when a step failed; later steps run anyway.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
LOGS="${OUT:-$PWD/gpu-check}"
FASHION="${1:-/usr/share/datasets/fashion-mnist}"
WORK="$(mktemp -d)"
mkdir -p "$LOGS"
status=0
step() { echo; echo "=== $1 ($(date +%T))"; }

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi: not found"
python3 -c "import torch; ok = torch.cuda.is_available(); print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'|', torch.cuda.get_device_name() if ok else 'NO CUDA DEVICE', '| bf16', ok and torch.cuda.is_bf16_supported())"
python3 -c "import sys, torch; sys.exit(not torch.cuda.is_available())" \
    || { echo "gpu_check: torch sees no CUDA device, so the cuda tests only skip"; status=1; }

step "CUDA tests"
timeout 240 python3 -m pytest -q -rs -m cuda tests 2>&1 | tee "$LOGS/cuda_tests.log" || status=1

step "CIFAR10 proxy round (synthetic 50,000 + 10,000 images, real pickle format)"
python3 -c "import sys; sys.path.insert(0, 'tests'); from conftest import write_fake_cifar10; write_fake_cifar10(sys.argv[1], 50000, 10000)" \
    "$WORK/data" || status=1
for precision in fp32 amp; do
    extra=(); [ "$precision" = amp ] && extra=(--proxy-fp16)
    timeout 200 python3 -m svp.cifar active --dataset cifar10 --datasets-dir "$WORK/data" --run-dir "$WORK/runs-$precision" \
        --proxy-arch preact20 --arch preact164 --no-train-target --selection-method least_confidence \
        --proxy-epochs 1 --proxy-learning-rate 0.01 --proxy-epochs 29 --proxy-learning-rate 0.1 \
        --proxy-epochs 10 --proxy-learning-rate 0.01 --proxy-epochs 10 --proxy-learning-rate 0.001 \
        --initial-subset 1000 --round 4000 --seed 0 --quiet "${extra[@]}" 2>&1 | tee "$LOGS/cifar_round_$precision.log" || status=1
done

step "demo on the GPU (Fashion-MNIST, accuracy)"
if [ -d "$FASHION" ]; then
    timeout 150 python3 -m svp active --dataset fashion-mnist --datasets-dir "$FASHION" --no-augmentation \
        --eval-batch-size 1024 --arch preact20 --epochs 1 --learning-rate 0.01 --epochs 7 --learning-rate 0.1 \
        --epochs 2 --learning-rate 0.01 --proxy-arch small-cnn-16 --proxy-epochs 6 --proxy-learning-rate 0.05 \
        --proxy-epochs 2 --proxy-learning-rate 0.005 --initial-subset 1000 --round 1000 --round 1000 --round 1000 \
        --round 1000 --eval-target-at 5000 --selection-method least_confidence --seed 0 --quiet \
        --run-dir "$WORK/demo" 2>&1 | tee "$LOGS/demo.log" || status=1
else
    echo "no Fashion-MNIST at $FASHION: skipped"
fi

step "benchmarks (CPU paths), at most ${SVP_GPU_BENCH_S:-600} s"
SVP_DATA="$FASHION" timeout "${SVP_GPU_BENCH_S:-600}" python3 -m bench 2>&1 | tee "$LOGS/bench.log" || status=1
rm -rf "$WORK"
exit $status
