"""CIFAR10/100 experiments with the original implementation's defaults.

``python -m svp.cifar {train,active,coreset} ...`` and
``python -m svp.cifar.active ...`` parse the original commands verbatim.
"""
from svp.cli import IMAGE_DEFAULTS, Domain

DOMAIN = Domain(
    prog="python -m svp.cifar",
    defaults={**IMAGE_DEFAULTS, "dataset": "cifar10", "datasets_dir": "./data"},
    datasets=("cifar10", "cifar100"),
)
