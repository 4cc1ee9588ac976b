"""Parsed arguments -> the frozen config of a workflow.

Options left unset take the domain's default (see :mod:`svp.cli.options`);
``--proxy-*`` options left unset take the target's value, but for the
starting weights, which the proxy takes only where they fit it.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
from typing import Any, Callable, Optional, Sequence

from svp import config as cfg
from svp.cli.domain import Domain
from svp.cli.options import (DATA, MODEL, PROXY_PREFIX, RUNTIME, learner_dest, learner_flag, method_option_dest,
                             method_option_fields, method_option_flag)
from svp.engine.schedule import scale_learning_rates
from svp.errors import UsageError
from svp.learners import LEARNERS, learner_kind, learner_options
from svp.models import PRETRAINED
from svp.options import Option
from svp.workflows.registry import WORKFLOWS

FieldPath = tuple[str, ...]
log = logging.getLogger(__name__)


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
    if base is not None:
        values.update(_proxy_start(args, prefix, values["arch"], base))
    values["options"] = _learner_values(args, values["arch"], proxy=bool(prefix))
    values.update(_schedule(args, prefix, values["arch"]))
    kind = learner_kind(values["arch"])
    try:
        config = cfg.ModelConfig(**values)
        return config if kind is None else kind.configure(config)
    except UsageError as error:
        if not prefix:
            raise
        # a ModelConfig names the target's options; these are their --proxy-* twins
        raise UsageError(str(error).replace("--", "--" + prefix.replace("_", "-"))) from None


def _schedule(args: argparse.Namespace, prefix: str, arch: str) -> dict:
    """The schedule the options typed ask for: segments typed are one; --steps sizes an automatic one. A proxy
    whose kind has options of its own (fastText) takes its schedule only from its own --proxy-schedule or
    --proxy-steps, not from the target's."""
    typed = {name: getattr(args, prefix + name, None) is not None
             for name in ("epochs", "learning_rates", "schedule", "steps")}
    if typed["schedule"]:
        return {}
    if typed["steps"]:
        return {"schedule": "auto"}
    if typed["epochs"] or typed["learning_rates"]:
        return {"schedule": "epochs"}
    kind = learner_kind(arch)
    return {"schedule": None} if prefix and kind is not None and kind.options is not None else {}


def _method_values(args: argparse.Namespace, method: str) -> dict:
    """The options of the selection ``method`` given as ``--<method>-<option>``, by name; those of another
    method are refused."""
    given = {}
    for owner, option in method_option_fields():
        value = getattr(args, method_option_dest(owner, option.name), None)
        if value is None:
            continue
        if owner != method:
            raise UsageError(f"{method_option_flag(owner, option.name)} is an option of {owner}, not of "
                             f"--selection-method {method} ; drop it, or select by {owner}")
        given[option.name] = value
    return given


def _learner_values(args: argparse.Namespace, arch: str, proxy: bool) -> dict:
    """The options of ``arch``'s learner kind given as ``--<kind>-<option>`` (``--proxy-...``), by name; those
    of another kind are refused."""
    given, kind = {}, learner_kind(arch)
    for option in learner_options():
        value = getattr(args, learner_dest(option.kind, option.name, proxy), None)
        if value is None:
            continue
        if LEARNERS[option.kind] is not kind:
            flag = "--proxy-arch" if proxy else "--arch"
            raise UsageError(f"{learner_flag(option.kind, option.name, proxy)} is an option of the {option.kind} "
                             f"learner, which does not build {flag} {arch} ; drop it, or choose an architecture of "
                             f"that learner")
        given[option.name] = value
    return given


def _proxy_start(args: argparse.Namespace, prefix: str, arch: str, base: cfg.ModelConfig) -> dict:
    """The proxy's starting weights: its own (--proxy-weights, --proxy-pretrained: typed, the pair is its own),
    else the target's when they can start it (weights of its very architecture, published weights it has),
    said in the log either way; else random."""
    own = {name: getattr(args, prefix + name, None) for name in ("weights", "pretrained")}
    if any(value is not None for value in own.values()):
        return {"weights": own["weights"], "pretrained": bool(own["pretrained"])}
    if base.weights is None and not base.pretrained:
        return {"weights": None, "pretrained": False}
    given = f"--weights {base.weights}" if base.weights is not None else "--pretrained"
    own_inputs = getattr(args, "proxy_dataset", None) is not None  # --proxy-dataset: inputs the target never sees
    fits = not own_inputs and (arch == base.arch if base.weights is not None else arch in PRETRAINED)
    if fits:
        log.warning("the proxy %s starts from %s too, as the target does ; give --proxy-weights PATH (or "
                    "--no-proxy-pretrained) to start it otherwise", arch, given)
        return {"weights": base.weights, "pretrained": base.pretrained}
    log.info("the proxy %s starts from random weights: %s is for the target's %s%s ; give --proxy-weights PATH to "
             "start the proxy from weights of its own", arch, given, base.arch,
             " on other inputs (--proxy-dataset)" if own_inputs else "")
    return {"weights": None, "pretrained": False}


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
    record = WORKFLOWS[args.command]
    own = [option for option in record.options if option.section == "workflow"]
    selection = [option for option in record.options if option.section == "selection"]
    workflow = _values(args, own, _defaults(domain, record.config))
    if selection:
        values = _values(args, selection, lambda name: domain.selection_default(record.config, name))
        values["options"] = _method_values(args, values["method"])
        workflow["selection"] = dataclasses.replace(domain.default(record.config, "selection"), **values)
    common = dict(data=data_config(args, domain), runtime=runtime_config(args, domain), **workflow)
    target = model_config(args, domain)
    if not record.proxy:
        return record.config(**common, model=target)
    builder = domain.proxy_builders.get(getattr(args, PROXY_PREFIX + "arch"))
    proxy = builder(args) if builder is not None else model_config(args, domain, PROXY_PREFIX, base=target)
    return record.config(**common, target=target, proxy=proxy)


def flags_of(domain: Domain, workflow: str) -> dict[str, str]:
    """Config field -> the flag that sets it, for errors on the command line (see :func:`svp.config.named_by`)."""
    options = (*RUNTIME, *DATA, *MODEL, *(WORKFLOWS[workflow].options if workflow in WORKFLOWS else ()))
    flags = {option.field: next(f for f in option.flags if f.startswith("--")) for option in options}
    for option in MODEL:  # a model's fields by section: the target's (or train's) and the proxy's twins
        flag = flags[option.field]
        flags.update({f"model.{option.field}": flag, f"target.{option.field}": flag,
                      f"proxy.{option.field}": "--proxy-" + flag[2:]})
    return flags


def option_paths(domain: Domain, workflow: str) -> dict[str, FieldPath]:
    """Option dest -> where its value lands in the workflow's config (a path of field names)."""
    model = "model" if workflow == "train" else "target"
    where = {"data": ("data",), "runtime": ("runtime",), "model": (model,), "workflow": (),
             "selection": ("selection",)}
    options = (*RUNTIME, *DATA, *MODEL, *WORKFLOWS[workflow].options)
    paths = {o.field: (*where[o.section], o.field) for o in options}
    paths.update({learner_dest(o.kind, o.name, False): (model, "options", o.name) for o in learner_options()})
    if WORKFLOWS[workflow].methods is not None:
        paths.update({method_option_dest(m, o.name): ("selection", "options", o.name)
                      for m, o in method_option_fields()})
    if not WORKFLOWS[workflow].proxy:
        return paths
    paths.update({learner_dest(o.kind, o.name, True): ("proxy", "options", o.name) for o in learner_options()})
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

