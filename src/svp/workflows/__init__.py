"""Workflows: one function each, config in, run directory out."""
