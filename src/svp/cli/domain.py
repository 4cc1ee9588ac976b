"""A domain: one family of experiments (the original's per-dataset scripts), declared as data.

``svp`` itself is the generic domain; ``svp.cifar``, ``svp.imagenet`` and
``svp.amazon`` each declare their defaults (overriding those of
:mod:`svp.config`), dataset choices, architecture aliases and any commands
or proxy options of their own. Importing a domain changes no other module.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from svp import config as cfg

_CONFIG_CLASSES = (cfg.DataConfig, cfg.ModelConfig, cfg.RuntimeConfig, cfg.SelectionOptions, cfg.ActiveConfig,
                   cfg.CoresetConfig, cfg.QueryConfig)


@dataclass(frozen=True)
class Command:
    """A domain's own command: how its parser is added, how its arguments become a workflow config."""

    add_parser: Callable[[Any, "Domain"], None]
    build_config: Callable[[argparse.Namespace, "Domain"], Any]


@dataclass(frozen=True)
class OptionGroup:
    """Options of a domain's own (``options`` of :class:`svp.cli.options.Option`), defaulting to
    the fields of the dataclass ``defaults``."""

    title: str
    options: tuple
    defaults: type


@dataclass(frozen=True)
class Domain:
    """Defaults and choices of one family of experiments.

    Parameters
    ----------
    prog : str
        The program name shown in help and errors.
    defaults : mapping
        Config field name -> this domain's default, overriding :mod:`svp.config`'s
        (e.g. ``{"dataset": "cifar10"}``).
    datasets : tuple of str, optional
        The datasets offered; None offers every registered one.
    commands : tuple of str, optional
        The commands offered, in order; None: every registered workflow's (plugins' too), then
        report, list and models.
    arch_aliases : mapping
        Original architecture names -> registry names.
    extra_commands : mapping
        Commands of this domain alone (e.g. Amazon's ``fasttext``).
    proxy_options : OptionGroup, optional
        Options added to ``active`` and ``coreset`` for proxies that are not torch models;
        they land in the proxy's ``ModelConfig.options`` (see ``proxy_builders``).
    proxy_builders : mapping
        ``--proxy-arch`` value -> ``builder(args) -> ModelConfig`` for proxies whose config is
        built from ``proxy_options`` rather than the ``--proxy-*`` twins.
    """

    prog: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    datasets: Optional[tuple[str, ...]] = None
    commands: Optional[tuple[str, ...]] = None
    arch_aliases: Mapping[str, str] = field(default_factory=dict)
    extra_commands: Mapping[str, Command] = field(default_factory=dict)
    proxy_options: Optional[OptionGroup] = None
    proxy_builders: Mapping[str, Callable[[argparse.Namespace], cfg.ModelConfig]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = {f.name for cls in _CONFIG_CLASSES for f in dataclasses.fields(cls)}
        unknown = sorted(set(self.defaults) - known)
        if unknown:
            raise ValueError(f"{self.prog}: defaults for unknown config fields {', '.join(unknown)}")

    def default(self, cls: type, name: str) -> Any:
        """The default of field ``name`` of ``cls`` in this domain (which overrides config classes only)."""
        if cls in _CONFIG_CLASSES and name in self.defaults:
            return self.defaults[name]
        return next(f.default for f in dataclasses.fields(cls) if f.name == name)

    def selection_default(self, config: type, name: str) -> Any:
        """The default of the selection option ``name`` in the workflow config class ``config``: this domain's,
        else that of the workflow's own default section (core-sets select by another method than active
        learning)."""
        if name in self.defaults:
            return self.defaults[name]
        return getattr(self.default(config, "selection"), name)


GENERIC = Domain("svp")
