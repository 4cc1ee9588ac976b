"""Workflows: one function each, config in, run directory out.

``WORKFLOWS`` maps a config's ``workflow`` name to the function that runs it.
"""
from svp.workflows.active import run_active
from svp.workflows.coreset import run_coreset
from svp.workflows.query import run_query
from svp.workflows.train import run_train

WORKFLOWS = {"train": run_train, "active": run_active, "coreset": run_coreset, "query": run_query}

__all__ = ["WORKFLOWS", "run_active", "run_coreset", "run_query", "run_train"]
