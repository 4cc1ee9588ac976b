"""svp: Selection via Proxy (Coleman et al., ICLR 2020).

Active learning and core-set selection where a cheap proxy model chooses
the data a large target model is trained on.
"""
__version__ = "0.1.0"  # the one place it is written: pyproject.toml reads it

from svp.config import ActiveConfig, CoresetConfig, DataConfig, ModelConfig, RuntimeConfig, TrainConfig
from svp.selection import METHODS, select
from svp.workflows.active import run_active
from svp.workflows.coreset import run_coreset
from svp.workflows.train import run_train

__all__ = ["ActiveConfig", "CoresetConfig", "DataConfig", "ModelConfig", "RuntimeConfig", "TrainConfig",
           "METHODS", "select", "run_active", "run_coreset", "run_train"]
