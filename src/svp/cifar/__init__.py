"""CIFAR10/100 experiments with the original implementation's defaults.

``python -m svp.cifar {train,active,coreset} ...`` and
``python -m svp.cifar.active ...`` parse the original commands verbatim.
"""
from svp.cli import Domain

DOMAIN = Domain(
    prog="python -m svp.cifar",
    # the original's coreset picked 10,000 by least confidence (svp's own default: 25,000 by forgetting events)
    defaults={"dataset": "cifar10", "subset": 10_000, "method": "least_confidence"},
    datasets=("cifar10", "cifar100"),
)
