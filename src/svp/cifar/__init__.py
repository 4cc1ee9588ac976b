"""CIFAR10/100 experiments with the original implementation's defaults.

``python -m svp.cifar {train,active,coreset} ...`` and
``python -m svp.cifar.active ...`` parse the original commands verbatim.
"""
from svp.cli import Domain

DOMAIN = Domain(
    prog="python -m svp.cifar",
    defaults={"dataset": "cifar10"},
    datasets=("cifar10", "cifar100"),
)
