# Fresh-machine entry points. `make demo` and `make test` each set up first.
#
# The interpreter: the active one (a virtual environment, conda, pyenv...), or a project
# virtual environment in .venv where the system Python refuses pip installs (PEP 668,
# "externally-managed-environment", as on current Debian and Ubuntu).
SYSTEM_PYTHON ?= python3
VENV ?= .venv
EXTERNALLY_MANAGED := $(shell [ -z "$$VIRTUAL_ENV" ] && $(SYSTEM_PYTHON) -c 'import os, sys, sysconfig; \
	sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))' 2>/dev/null && echo yes)
PYTHON ?= $(if $(EXTERNALLY_MANAGED),$(VENV)/bin/python,$(SYSTEM_PYTHON))
DEMO_RUN_DIR ?= runs/demo

.PHONY: setup demo test bench wheel-check

setup:
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; \
	fi
	@if [ "$(PYTHON)" = "$(VENV)/bin/python" ] && [ ! -x "$(VENV)/bin/python" ]; then \
		echo "the system Python is externally managed (PEP 668): installing into $(VENV)"; \
		$(SYSTEM_PYTHON) -m venv "$(VENV)" || { echo "make: python3 -m venv failed; on Debian/Ubuntu: apt-get install python3-venv"; exit 2; }; \
	fi
	$(PYTHON) -m pip install -q -e ".[dev,text,tracking]"

DEMO_OPTIONS = --dataset fashion-mnist --no-augmentation --eval-batch-size 1024 \
	--arch preact20 --epochs 1 --learning-rate 0.01 --epochs 7 --learning-rate 0.1 --epochs 2 --learning-rate 0.01 \
	--proxy-arch small-cnn-16 --proxy-epochs 6 --proxy-learning-rate 0.05 --proxy-epochs 2 --proxy-learning-rate 0.005 \
	--initial-subset 1000 --round 1000 --round 1000 --round 1000 --round 1000 --eval-target-at 5000 --seed 0

# SVP active learning on Fashion-MNIST: a small CNN proxy selects for a pre-activation ResNet20
# target; then the same target on a random selection of the same size; the report compares the two.
demo: setup
	$(PYTHON) -m svp active $(DEMO_OPTIONS) --selection-method least_confidence --run-dir $(DEMO_RUN_DIR)/svp
	$(PYTHON) -m svp active $(DEMO_OPTIONS) --selection-method random --run-dir $(DEMO_RUN_DIR)/random
	svp_run=$$(ls -d $(DEMO_RUN_DIR)/svp/*/ | tail -n 1); random_run=$$(ls -d $(DEMO_RUN_DIR)/random/*/ | tail -n 1); \
	$(PYTHON) -m svp report "$$svp_run" "$$random_run" --baseline "$$random_run" --out $(DEMO_RUN_DIR)/report

test: setup
	$(PYTHON) -m pytest -q

bench: setup
	$(PYTHON) -m pip install -q -e ".[bench]"
	$(PYTHON) -m bench

# The built wheel (not the checkout) installs every subpackage and runs: a tiny `svp active`.
wheel-check: setup
	bash .ci/check_wheel.sh $(PYTHON)
