"""Common checks over every entry of every registry (METHODS, NEEDS, MODELS, DATASETS, LEARNERS), as
scikit-learn's check_estimator runs over estimators: whatever is registered is tested for free. Then what
registering at run time must give: a method, a need, a learner kind, a model, a dataset found everywhere."""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pytest
import torch
from torch import nn

from svp import data as svp_data
from svp import models as svp_models
from svp.config import DataConfig, ModelConfig
from svp.data.amazon import NUM_CODES
from svp.errors import UsageError
from svp.learners import (LEARNERS, Environment, Learner, LearnerOption, TrainResult, archs_for, learner_kind,
                          learner_options, register_learner)
from svp.learners.fasttext import FastTextLearner
from svp.learners.torch import TorchLearner
from svp.models import small
from svp.rundir import PROXY, TARGET
from svp.selection import (FORGETTING_KEY, METHODS, NEEDS, BaldOptions, Method, Outputs, derive_needs,
                           method_names, method_options, method_scores, model_needs, register_method,
                           register_need, select)
from svp.selection.bald import mc_summary
from run_helpers import restored

MODALITY_NAMES = ("image", "text", "features")


@pytest.fixture
def registries():
    """Registrations made by a test are undone after it."""
    with restored(METHODS, NEEDS, LEARNERS, svp_models.MODELS, svp_models.MODALITIES, svp_data.DATASETS,
                  svp_data.MODALITIES):
        yield


# --- METHODS: every method on small hand-made outputs -------------------------------------------------------


def _outputs(n: int = 60, seed: int = 0, first: int = 1000) -> Outputs:
    """Outputs with everything a built-in method may need, for dataset indices first, first + 3, ..."""
    rng = np.random.default_rng(seed)
    mc_probs, mc_entropy = mc_summary(rng.dirichlet(np.ones(4), size=(3, n)))
    forgetting = rng.integers(0, 4, size=n).astype(np.float64)
    forgetting[::7] = np.inf
    return Outputs(np.arange(first, first + 3 * n, 3), rng.dirichlet(np.ones(4), size=n).astype(np.float32),
                   rng.normal(size=(n, 6)).astype(np.float32), {FORGETTING_KEY: forgetting},
                   labels=rng.integers(0, 4, size=n), mc_probs=mc_probs, mc_entropy=mc_entropy)


LABELED = _outputs(8, seed=1, first=0)  # dataset indices 0..21: none in the pool


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_picks_budget_distinct_pool_indices_repeatably(name):
    pool, budget = _outputs(), 17
    chosen = select(name, pool, budget, labeled=LABELED, seed=3)
    assert chosen.dtype == np.int64 and len(chosen) == budget and len(np.unique(chosen)) == budget
    assert np.isin(chosen, pool.indices).all()
    assert not np.isin(chosen, LABELED.indices).any()  # the labeled examples are never picked again
    np.testing.assert_array_equal(select(name, _outputs(), budget, labeled=LABELED, seed=3), chosen)
    assert len(select(name, pool, len(pool.indices), seed=0)) == len(pool.indices)  # the whole pool


@pytest.mark.parametrize("name", method_names(scored=True))
def test_every_scored_method_picks_its_highest_scores_first(name):
    pool = _outputs()
    scores = method_scores(name, _outputs())
    assert scores.shape == (len(pool.indices),) and not np.isnan(scores).any()
    if METHODS[name].nonnegative:
        assert (scores >= 0).all()
    order = np.argsort(-scores, kind="stable")
    np.testing.assert_array_equal(select(name, pool, 9, seed=0), pool.indices[order[:9]])
    np.testing.assert_array_equal(select(name, pool, 9, seed=0, keep="easiest"),
                                  pool.indices[np.argsort(scores, kind="stable")[:9]])


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_is_well_formed(name):
    method = METHODS[name]
    assert (method.score is None) != (method.pick is None)
    assert isinstance(method.needs, frozenset) and method.needs <= set(NEEDS)
    if method.options is not None:
        assert dataclasses.is_dataclass(method.options) and method.options.__dataclass_params__.frozen
        defaults = method.options()  # every field has a default
        assert all(f.metadata.get("help") for f in dataclasses.fields(defaults))
    assert method_options(name) == (None if method.options is None else method.options())


@pytest.mark.parametrize("name", list(NEEDS))
def test_every_need_is_described_and_derived_ones_require_basic_ones(name):
    need = NEEDS[name]
    assert need.description
    if need.derived:
        assert need.requires and all(not NEEDS[r].derived for r in need.requires)
    assert model_needs({name}) == (need.requires if need.derived else {name})


# --- MODELS: every model builds for its modality and gives logits -----------------------------------------

# forwards skipped: the ImageNet-size torchvision ResNets past the smallest (imagenet-resnet18 stands for its
# family), and the 1,000+ layer CIFAR nets (their builds are checked in tests/models/test_registry.py)
SKIPPED_FORWARDS = {"imagenet-resnet34", "imagenet-resnet50", "imagenet-resnet101", "imagenet-resnet152",
                    "resnet1202", "preact1001", "stochastic1202"}
TEXT_LENGTH = 128  # characters; VDCNN's k-max pooling keeps 8 positions after three halvings


def _tiny_input(name: str, modality: str) -> tuple[torch.Tensor, int]:
    """A batch of one input of ``modality`` for ``name``, and the in_channels to build it with."""
    generator = torch.Generator().manual_seed(0)
    if modality == "text":
        return torch.randint(0, NUM_CODES, (1, TEXT_LENGTH), generator=generator), 1
    if modality == "features":
        return torch.randn(1, 12, generator=generator), 12
    channels, side = (1, 28) if name in small.MODELS else (3, 32)  # Fashion-MNIST's proxies, else CIFAR's size
    return torch.randn(1, channels, side, side, generator=generator), channels


@pytest.mark.parametrize("name", [n for n in svp_models.MODELS if n not in SKIPPED_FORWARDS])
def test_every_model_gives_logits_and_features_for_its_modality(name):
    modality = svp_models.MODALITIES[name]
    assert modality in MODALITY_NAMES
    assert learner_kind(name) is TorchLearner and TorchLearner.modality(name) == modality
    x, in_channels = _tiny_input(name, modality)
    torch.manual_seed(0)
    model = svp_models.create_model(name, num_classes=7, in_channels=in_channels).eval()
    classifier = svp_models.classifier_of(model)
    assert isinstance(classifier, nn.Linear) and classifier.out_features == 7
    captured = []
    classifier.register_forward_pre_hook(lambda _module, args: captured.append(args[0]))
    with torch.inference_mode():
        logits = model(x)
    assert logits.shape == (1, 7) and torch.isfinite(logits).all()
    assert captured[0].shape == (1, classifier.in_features)


# --- DATASETS: every name has a modality and a factory (nothing is read) ------------------------------------


@pytest.mark.parametrize("name", list(svp_data.DATASETS))
def test_every_dataset_has_a_modality_and_a_factory_of_a_config(name):
    assert svp_data.MODALITIES[name] in MODALITY_NAMES
    assert svp_data.dataset_modality(name) == svp_data.MODALITIES[name]
    factory = svp_data.DATASETS[name]
    assert callable(factory)
    inspect.signature(factory).bind(DataConfig(dataset=name))  # takes the config, nothing more


# --- LEARNERS: every kind declares what it builds, plays, gives and takes ---------------------------------


@pytest.mark.parametrize("kind_name", list(LEARNERS))
def test_every_learner_kind_is_well_formed(kind_name):
    kind = LEARNERS[kind_name]
    assert issubclass(kind, Learner) and not inspect.isabstract(kind)
    archs = list(kind.archs())
    assert archs and all(isinstance(arch, str) for arch in archs)
    assert kind.roles and set(kind.roles) <= {PROXY, TARGET}
    assert all(kind.modality(arch) in MODALITY_NAMES for arch in archs)
    assert all(learner_kind(arch) is kind for arch in archs)  # no arch is another kind's
    assert kind.provides and kind.provides <= {n for n, need in NEEDS.items() if not need.derived}
    if kind.options is not None:
        assert dataclasses.is_dataclass(kind.options)
        defaults = kind.options()  # every field has a default
        assert all(f.metadata.get("help") for f in dataclasses.fields(defaults))
        assert kind.check_options(dataclasses.asdict(defaults), "--proxy-arch", archs[0]) == defaults
    usable = method_names(provides=kind.provides)
    assert usable and all(model_needs(METHODS[m].needs) <= kind.provides for m in usable)


def test_learner_options_list_every_kinds_own():
    listed = {(o.kind, o.name): o for o in learner_options()}
    assert listed[("fasttext", "dim")] == LearnerOption("fasttext", "dim", int, 10, "fastText: size of word vectors",
                                                        (PROXY,))
    assert listed[("fasttext", "learning_rate")].type is float
    assert [name for kind, name in listed if kind == "fasttext"] == [
        "dim", "ngrams", "min_count", "bucket", "threads", "epochs", "learning_rate", "autotune_seconds"]
    assert not any(kind == "torch" for kind, _ in listed)  # torch models take the model options themselves


def test_bald_declares_the_mc_options_learners_default_to():
    assert METHODS["bald"].options is BaldOptions
    assert (BaldOptions().mc_samples, BaldOptions().mc_dropout) == (Environment.mc_samples, Environment.mc_dropout)
    assert method_options("bald", {"mc_samples": 5}) == BaldOptions(5, 0.5)
    assert method_options("bald", {"mc_dropout": 1}) == BaldOptions(20, 1.0)  # an int is a float
    with pytest.raises(ValueError, match=r"option mc_samples='5' of selection method 'bald' is not int"):
        method_options("bald", {"mc_samples": "5"})
    with pytest.raises(ValueError, match=r"unknown option\(s\) samples for selection method 'bald'; choose from: "
                                         r"mc_samples, mc_dropout"):
        select("bald", _outputs(), 3, options={"samples": 5})
    with pytest.raises(ValueError, match="selection method 'entropy' takes no options, got beta"):
        select("entropy", _outputs(), 3, options={"beta": 2.0})


# --- registered at run time ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EveryOther:
    start: int = field(default=0, metadata={"help": "position of the first pick"})


def _every_other(pool: Outputs, budget: int, labeled: Optional[Outputs], rng, *, options: EveryOther):
    return pool.indices[options.start::2][:budget]


def test_a_method_registered_at_run_time_is_offered_and_gets_its_options(registries):
    assert "every_other" not in method_names()
    register_method("every_other", Method(_every_other, options=EveryOther))
    assert method_names()[-1] == "every_other" and "every_other" in method_names(active=True)
    assert "every_other" in method_names(scored=False) and "every_other" not in method_names(scored=True)
    assert "every_other" in method_names(provides=FastTextLearner.provides)  # it needs nothing
    pool = _outputs(10)
    np.testing.assert_array_equal(select("every_other", pool, 3), pool.indices[[0, 2, 4]])
    np.testing.assert_array_equal(select("every_other", pool, 3, options={"start": 1}), pool.indices[[1, 3, 5]])
    with pytest.raises(ValueError, match="option start=0.5 of selection method 'every_other' is not int"):
        select("every_other", pool, 3, options={"start": 0.5})
    with pytest.raises(ValueError, match="a selection method named 'every_other' exists; pass replace=True"):
        register_method("every_other", Method(_every_other, options=EveryOther))
    register_method("every_other", Method(score=lambda out: -out.indices.astype(float)), replace=True)
    np.testing.assert_array_equal(select("every_other", pool, 2), pool.indices[:2])


@dataclass
class NotFrozen:
    start: int = 0


@pytest.mark.parametrize("method, match", [
    (Method(), "either a score or a pick"),
    (Method(_every_other, score=lambda out: out.probs[:, 0]), "either a score or a pick"),
    (Method(score=lambda out: out.probs[:, 0], needs=frozenset({"logits"})), "needs logits, which no need is"),
    (Method(_every_other, options=NotFrozen), "must be a frozen dataclass"),
    (Method(_every_other, options=dict), "must be a dataclass"),
    ("entropy", "must be a svp.selection.Method"),
])
def test_register_method_refuses_what_cannot_work(registries, method, match):
    with pytest.raises(ValueError, match=match):
        register_method("broken", method)
    assert "broken" not in METHODS


def _loss(out: Outputs) -> np.ndarray:
    """Cross-entropy of each example's known label."""
    return -np.log(np.asarray(out.probs, dtype=np.float64)[np.arange(len(out.indices)), out.labels])


def test_a_method_with_a_new_derived_need_works_end_to_end(registries):
    register_need("loss", "per-example losses", derive=_loss, requires={"probs", "labels"})
    register_method("highest_loss", Method(score=lambda out: out.extra["loss"], needs=frozenset({"loss"}),
                                           nonnegative=True))
    assert model_needs({"loss", "features"}) == {"probs", "labels", "features"}
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.99, 0.01]], dtype=np.float32)
    pool = Outputs(np.array([10, 11, 12, 13]), probs, labels=np.array([0, 0, 1, 1]))
    np.testing.assert_array_equal(select("highest_loss", pool, 2), [13, 11])  # -log 0.01, then -log 0.2
    np.testing.assert_allclose(pool.extra["loss"], -np.log([0.9, 0.2, 0.5, 0.01]), rtol=1e-6)
    with pytest.raises(ValueError, match="need 'loss' is computed from labels, probs, and these outputs lack labels"):
        derive_needs(Outputs(np.arange(4), probs), {"loss"})
    # learners are asked for what the need requires: torch gives it, fastText lacks the labels
    TorchLearner.check(ModelConfig(arch="resnet20"), "--proxy-arch", "highest_loss")
    with pytest.raises(UsageError, match=r"cannot select by highest_loss \(it needs the examples' labels\)"):
        FastTextLearner.check(FastTextLearner.configure(ModelConfig(arch="fasttext")), "--proxy-arch",
                              "highest_loss")


@pytest.mark.parametrize("kwargs, match", [
    (dict(description="x", derive=_loss), "gives both derive and requires"),
    (dict(description="x", requires={"probs"}), "gives both derive and requires"),
    (dict(description="x", derive=_loss, requires={"grads"}), "requires grads, which are not basic needs"),
])
def test_register_need_refuses_what_cannot_be_derived(registries, kwargs, match):
    with pytest.raises(ValueError, match=match):
        register_need("broken", **kwargs)
    with pytest.raises(ValueError, match="a need named 'probs' exists"):
        register_need("probs", "again")


class TableLearner(Learner):
    """A kind of learner of its own: one architecture over feature vectors, with an option."""

    @dataclass
    class Options:
        depth: int = field(default=3, metadata={"help": "depth of the trees"})

    roles = (PROXY,)
    provides = frozenset({"probs"})
    options = Options

    @classmethod
    def archs(cls):
        return ("trees",)

    @classmethod
    def modality(cls, arch):
        return "features"

    def train(self, labeled, out_dir, seed, hooks=()):
        return TrainResult(len(labeled), 1.0, -1.0, -1.0, 0.0, 0.0, 0.0)

    def load(self, out_dir):
        pass

    def score(self, indices, needs):
        return Outputs(np.asarray(indices))


def test_a_learner_kind_registered_at_run_time_is_found_with_its_options(registries):
    assert learner_kind("trees") is None
    register_learner("tables", TableLearner)
    assert learner_kind("trees") is TableLearner and "trees" in archs_for(PROXY) and "trees" not in archs_for(TARGET)
    assert LearnerOption("tables", "depth", int, 3, "depth of the trees", (PROXY,)) in learner_options()
    TableLearner.check(ModelConfig(arch="trees", options={"depth": 5}), "--proxy-arch", "entropy")
    with pytest.raises(UsageError, match=r"unknown option\(s\) width for --proxy-arch trees; choose from: depth"):
        TableLearner.check(ModelConfig(arch="trees", options={"width": 5}), "--proxy-arch", "entropy")
    with pytest.raises(ValueError, match="a learner kind named 'tables' exists"):
        register_learner("tables", TableLearner)


class Abstract(Learner):
    pass


@pytest.mark.parametrize("cls, match", [
    (Abstract, "concrete subclass"), (dict, "concrete subclass"),
    (type("Clash", (TableLearner,), {"archs": classmethod(lambda cls: ("resnet20",))}), "which kind 'torch' builds"),
    (type("Roles", (TableLearner,), {"roles": ("teacher",)}), "roles must be some of"),
    (type("Gives", (TableLearner,), {"provides": frozenset({"grads"})}), "names grads, which are no needs"),
    (type("NoDefault", (TableLearner,), {"options": dataclass(type("O", (), {"__annotations__": {"x": int}}))}),
     "need a default for x"),
])
def test_register_learner_refuses_what_cannot_work(registries, cls, match):
    with pytest.raises(ValueError, match=match):
        register_learner("broken", cls)
    assert "broken" not in LEARNERS


def test_a_model_registered_at_run_time_is_a_torch_arch_of_its_modality(registries):
    svp_models.register("tiny-head", lambda num_classes, in_channels: nn.Linear(in_channels, num_classes),
                        "features")
    assert learner_kind("tiny-head") is TorchLearner and TorchLearner.modality("tiny-head") == "features"
    assert "tiny-head" in archs_for(TARGET)
    with pytest.raises(ValueError, match="an architecture named 'tiny-head' exists; pass replace=True"):
        svp_models.register("tiny-head", lambda num_classes, in_channels: nn.Identity(), "features")
    with pytest.raises(ValueError, match="modality 'audio'"):
        svp_models.register("ear", lambda num_classes, in_channels: nn.Identity(), "audio")


def test_register_dataset_refuses_duplicates_and_factories_without_a_modality(registries):
    data = svp_data.from_arrays(np.zeros((4, 3), np.float32), np.arange(4) % 2)
    svp_data.register("mine", data)
    assert svp_data.dataset_modality("mine") == "features" and svp_data.open_dataset(
        DataConfig(dataset="mine")) is data
    with pytest.raises(ValueError, match="a dataset named 'mine' exists; pass replace=True"):
        svp_data.register("mine", data)
    with pytest.raises(ValueError, match="give modality="):
        svp_data.register("lazy", lambda config: data)
    svp_data.register("lazy", lambda config: data, "features")
    assert svp_data.open_dataset(DataConfig(dataset="lazy")) is data
