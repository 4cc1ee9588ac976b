#!/usr/bin/env bash
# Build the wheel, install it (not the checkout) into a fresh virtual environment, check that it
# holds every module of src/svp, and run a tiny `svp active` from it.
#
#   bash .ci/check_wheel.sh [PYTHON]
#
# The environment sees the interpreter's site-packages for torch and the other dependencies
# (installing torch again would take minutes), but svp itself comes from the wheel alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

"$PYTHON" -m pip wheel -q --no-deps -w "$WORK/dist" .
"$PYTHON" -m venv --system-site-packages "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --no-deps --force-reinstall "$WORK"/dist/svp-*.whl
expected="$(cd src && find svp -name '*.py' | sed 's/\.py$//; s#/#.#g; s/\.__init__$//' | sort)"
cd "$WORK"  # away from the checkout: `import svp` must find the installed wheel
found="$("$WORK/venv/bin/python" -c '
import pkgutil, svp
assert svp.__file__.startswith("'"$WORK"'/venv/"), f"svp imported from {svp.__file__}, not the wheel"
names = ["svp"] + [m.name for m in pkgutil.walk_packages(svp.__path__, "svp.")]
print("\n".join(sorted(names)))')"
if [ "$found" != "$expected" ]; then
    echo "check_wheel: the wheel's modules differ from src/svp:"; diff <(echo "$expected") <(echo "$found"); exit 1
fi
"$WORK/venv/bin/svp" active --dataset fashion-mnist --arch logistic --proxy-arch logistic --epochs 1 \
    --learning-rate 0.05 --initial-subset 100 --round 100 --no-augmentation --no-cuda --seed 0 --quiet \
    --run-dir "$WORK/runs" | tail -n 4
echo "check_wheel: the wheel holds all $(echo "$expected" | wc -l) modules and runs svp active"
