"""Parsed arguments -> the frozen config of a workflow.

Options left unset take the domain's default (see :mod:`svp.cli.options`);
``--proxy-*`` options left unset take the target's value.
"""
from __future__ import annotations

import argparse
from typing import Any, Callable, Optional, Sequence

from svp import config as cfg
from svp.cli.domain import Domain
from svp.cli.options import DATA, MODEL, PROXY_PREFIX, RUNTIME, WORKFLOW_COMMANDS, Option
from svp.engine.schedule import scale_learning_rates
from svp.errors import UsageError

FieldPath = tuple[str, ...]


def _values(args: argparse.Namespace, options: Sequence[Option], default: Callable[[str], Any],
            prefix: str = "") -> dict:
    """Field -> value of ``options`` (their dests prefixed): as given, else ``default(field)``; lists become tuples."""
    values = {}
    for option in options:
        value = getattr(args, prefix + option.field, None)
        if value is None:
            value = default(option.field)
        values[option.field] = tuple(value) if isinstance(value, list) else value
    return values


def _defaults(domain: Domain, cls: type) -> Callable[[str], Any]:
    return lambda name: domain.default(cls, name)


def data_config(args: argparse.Namespace, domain: Domain) -> cfg.DataConfig:
    return cfg.DataConfig(**_values(args, DATA, _defaults(domain, cfg.DataConfig)))


def runtime_config(args: argparse.Namespace, domain: Domain) -> cfg.RuntimeConfig:
    return cfg.RuntimeConfig(**_values(args, RUNTIME, _defaults(domain, cfg.RuntimeConfig)))


def model_config(args: argparse.Namespace, domain: Domain, prefix: str = "",
                 base: Optional[cfg.ModelConfig] = None) -> cfg.ModelConfig:
    """A ModelConfig from the options with ``prefix``; unset ones fall back to ``base`` (else the defaults)."""
    default = _defaults(domain, cfg.ModelConfig) if base is None else (lambda name: getattr(base, name))
    values = _values(args, MODEL, default, prefix)
    values["arch"] = domain.arch_aliases.get(values["arch"], values["arch"])
    values["learning_rates"] = _scaled_rates(args, prefix, values, base)
    try:
        return cfg.ModelConfig(**values)
    except UsageError as error:
        if not prefix:
            raise
        # a ModelConfig names the target's options; these are their --proxy-* twins
        raise UsageError(str(error).replace("--", "--" + prefix.replace("_", "-"))) from None


def _scaled_rates(args: argparse.Namespace, prefix: str, values: dict,
                  base: Optional[cfg.ModelConfig]) -> tuple[float, ...]:
    """Apply ``--scale-learning-rates``: rates given for batch 256 scale to this batch size.

    Rates inherited from the target are already scaled for the target's
    batch size, so they move by the ratio of the two batch sizes.
    """
    rates = values["learning_rates"]
    if not values["scale_learning_rates"]:
        return rates
    inherited = base is not None and getattr(args, prefix + "learning_rates", None) is None
    if inherited:
        return tuple(rate * values["batch_size"] / base.batch_size for rate in rates)
    return tuple(scale_learning_rates(rates, values["batch_size"]))


def build_config(args: argparse.Namespace, domain: Domain) -> Any:
    """The frozen config of the workflow ``args.command`` names."""
    if args.command in domain.extra_commands:
        return domain.extra_commands[args.command].build_config(args, domain)
    command = WORKFLOW_COMMANDS[args.command]
    common = dict(data=data_config(args, domain), runtime=runtime_config(args, domain))
    target = model_config(args, domain)
    if not command.proxy:
        return command.config(**common, model=target)
    builder = domain.proxy_builders.get(getattr(args, PROXY_PREFIX + "arch"))
    proxy = builder(args) if builder is not None else model_config(args, domain, PROXY_PREFIX, base=target)
    workflow = _values(args, command.options, _defaults(domain, command.config))
    return command.config(**common, target=target, proxy=proxy, **workflow)


def option_paths(domain: Domain, workflow: str) -> dict[str, FieldPath]:
    """Option dest -> where its value lands in the workflow's config (a path of field names)."""
    model = "model" if workflow == "train" else "target"
    where = {"data": ("data",), "runtime": ("runtime",), "model": (model,), "workflow": ()}
    options = (*RUNTIME, *DATA, *MODEL, *WORKFLOW_COMMANDS[workflow].options)
    paths = {o.field: (*where[o.section], o.field) for o in options}
    paths.update({PROXY_PREFIX + o.field: ("proxy", o.field) for o in MODEL})
    if domain.proxy_options is not None:
        paths.update({o.field: ("proxy", "options", o.field) for o in domain.proxy_options.options})
    return paths


def typed_fields(parser: argparse.ArgumentParser, domain: Domain, argv: Optional[Sequence[str]],
                 workflow: str) -> dict[FieldPath, str]:
    """Config field path -> flag, of the options typed in ``argv`` (those left at their defaults omitted).

    ``argv`` is parsed again with every default suppressed, so an option
    typed with its default value still counts as typed.
    """
    flags: dict[str, str] = {}
    for each in _all_parsers(parser):
        each._defaults.clear()  # those of set_defaults()
        for action in each._actions:
            action.default = argparse.SUPPRESS
            long_flags = [o for o in action.option_strings if o.startswith("--")]
            flags.setdefault(action.dest, long_flags[0] if long_flags else action.dest)
    paths = option_paths(domain, workflow)
    typed = vars(parser.parse_args(argv))
    return {paths[dest]: flags[dest] for dest in typed if dest in paths}


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [parser] + [p for action in subparsers for sub in action.choices.values() for p in _all_parsers(sub)]

