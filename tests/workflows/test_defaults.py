"""Defaults that depend on the data: the paper's datasets keep their published schedules and core-set rules,
data of one's own gets schedules sized to it and core-sets that never collapse."""
from __future__ import annotations

from svp import config as cfg
from svp.cli import GENERIC, build_parser
from svp.cli.parse import build_config
from svp.workflows.setup import resolve_defaults


def _config(*argv: str):
    return build_config(build_parser().parse_args(list(argv)), GENERIC)


def test_the_papers_datasets_keep_their_schedules_and_data_of_ones_own_gets_sized_ones():
    published = resolve_defaults(_config("active", "--dataset", "fashion-mnist"))
    assert (published.target.schedule, published.proxy.schedule) == ("epochs", "epochs")
    assert (published.selection.keep, published.selection.stratified) == ("hardest", False)
    own = resolve_defaults(_config("active", "--dataset", "mine.npz"))
    assert (own.target.schedule, own.proxy.schedule) == ("auto", "auto")
    assert (own.selection.keep, own.selection.stratified) == ("hardest", False)  # active learning ranks hardest
    coreset = resolve_defaults(_config("coreset", "--dataset", "mine.npz"))
    assert (coreset.selection.keep, coreset.selection.stratified) == ("auto", True)
    assert resolve_defaults(_config("coreset", "--dataset", "cifar10")).selection.keep == "hardest"


def test_epochs_given_are_the_schedule_and_steps_size_an_automatic_one():
    typed = resolve_defaults(_config("active", "--dataset", "mine.npz", "--epochs", "5", "--learning-rate", "0.1"))
    assert (typed.target.schedule, typed.target.epochs) == ("epochs", (5,))
    assert typed.proxy.schedule == "epochs"  # the proxy's twins default to the target's
    proxy_only = resolve_defaults(_config("active", "--dataset", "mine.npz", "--proxy-epochs", "3",
                                          "--proxy-learning-rate", "0.05"))
    assert (proxy_only.target.schedule, proxy_only.proxy.schedule) == ("auto", "epochs")
    steps = resolve_defaults(_config("train", "--dataset", "fashion-mnist", "--steps", "500"))
    assert (steps.model.schedule, steps.model.steps) == ("auto", 500)
    assert cfg.ModelConfig(epochs=(7,), learning_rates=(0.1,)).schedule == "epochs"  # from Python too
    assert cfg.ModelConfig().schedule is None  # resolved by the data, in open_run


def test_a_config_saved_before_these_options_resumes_as_it_ran():
    saved = cfg.from_dict(cfg.CoresetConfig, {"target": {"arch": "resnet20"}, "proxy": {"arch": "resnet8"},
                                              "keep": "easiest", "data": {"dataset": "mine.npz"}})
    assert saved.target.schedule == "epochs" and saved.proxy.schedule == "epochs"
    assert (saved.selection.keep, saved.selection.stratified) == ("easiest", False)
