"""svp: Selection via Proxy (Coleman et al., ICLR 2020).

Active learning and core-set selection where a cheap proxy model chooses
the data a large target model is trained on.

``import svp`` is light: the names below are imported when first used
(the workflows pull in torch, torchvision and the data loaders).
"""
__version__ = "0.1.0"  # the one place it is written: pyproject.toml reads it

import importlib
from typing import Any

#: public name -> the module that defines it
_EXPORTS = {
    "ActiveConfig": "svp.config", "CoresetConfig": "svp.config", "DataConfig": "svp.config",
    "ModelConfig": "svp.config", "QueryConfig": "svp.config", "RuntimeConfig": "svp.config",
    "SelectionOptions": "svp.config", "TrainConfig": "svp.config",
    "METHODS": "svp.selection", "Method": "svp.selection", "register_method": "svp.selection",
    "register_need": "svp.selection", "method_names": "svp.selection", "select": "svp.selection",
    "register_model": "svp.models", "register_dataset": "svp.data", "register_learner": "svp.learners",
    "Sink": "svp.events", "Event": "svp.events", "add_sink": "svp.events", "remove_sink": "svp.events",
    "Workflow": "svp.workflows", "RunResult": "svp.workflows", "register_workflow": "svp.workflows",
    "run": "svp.workflows", "run_active": "svp.workflows", "run_coreset": "svp.workflows",
    "run_query": "svp.workflows", "run_train": "svp.workflows",
    "Query": "svp.workflows.labeling",
}
#: exported under another name than the module's own
_RENAMED = {"register_model": "register", "register_dataset": "register"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'svp' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), _RENAMED.get(name, name))
    globals()[name] = value  # once found, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
