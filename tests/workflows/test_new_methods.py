"""BALD, BADGE, sampling and --candidates in active learning; EL2N/GraNd in core-set selection; their errors."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import svp.cifar
from svp.cli import main
from run_helpers import only_run, rows
from svp.rundir import load_index
from svp.workflows.steps import sample_candidates

FAST = ["--epochs", "1", "--learning-rate", "0.01", "--no-cuda", "--quiet", "--batch-size", "32"]


def cifar(argv: list[str]) -> int:
    return main(argv, domain=svp.cifar.DOMAIN)


@pytest.mark.parametrize("extra", [["--selection-method", "bald", "--mc-samples", "3", "--candidates", "150"],
                                   ["--selection-method", "badge"], ["--selection-method", "typiclust"],
                                   ["--selection-method", "entropy", "--sampling", "power"]])
def test_active_rounds_pick_new_distinct_examples(cifar_dir, tmp_path, extra):
    assert cifar(["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--arch", "mlp",
                  "--proxy-arch", "mlp", "--initial-subset", "40", "--round", "30", "--round", "30", "--seed", "1",
                  "--no-train-target", *extra, *FAST]) == 0
    run = only_run(tmp_path)
    labeled = load_index(run / "proxy/100/labeled_100.index")
    assert len(np.unique(labeled)) == 100
    np.testing.assert_array_equal(labeled[:70], load_index(run / "proxy/70/labeled_70.index"))
    assert [int(r["new_nexamples"]) for r in rows(run / "selection.csv")] == [30, 30]


@pytest.mark.parametrize("method, dropout", [("bald", [0.25]), ("least_confidence", [])])
def test_a_bald_proxy_trains_with_the_dropout_it_samples(cifar_dir, tmp_path, monkeypatch, method, dropout):
    from svp.learners import torch as torch_learner

    added, add = [], torch_learner.add_classifier_dropout
    monkeypatch.setattr(torch_learner, "add_classifier_dropout", lambda model, p: added.append(p) or add(model, p))
    assert cifar(["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--arch", "mlp",
                  "--proxy-arch", "mlp", "--initial-subset", "40", "--round", "30", "--selection-method", method,
                  "--mc-dropout", "0.25", "--mc-samples", "2", "--no-train-target", *FAST]) == 0
    assert sorted(set(added)) == dropout


def test_candidates_are_a_seeded_sorted_sample_of_the_unlabeled():
    ctx = SimpleNamespace(config=SimpleNamespace(selection=SimpleNamespace(candidates=5)),
                          seed_for=lambda phase, n: 17 + n)
    unlabeled = np.arange(100, 200)
    first = sample_candidates(ctx, unlabeled, 40)
    assert len(first) == 5 and np.isin(first, unlabeled).all() and (np.diff(first) > 0).all()
    np.testing.assert_array_equal(first, sample_candidates(ctx, unlabeled, 40))
    assert not np.array_equal(first, sample_candidates(ctx, unlabeled, 41))  # another round, another sample
    ctx.config.selection.candidates = None
    np.testing.assert_array_equal(sample_candidates(ctx, unlabeled, 40), unlabeled)


def _coreset(cifar_dir, tmp_path, *extra) -> np.ndarray:
    assert cifar(["coreset", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--arch", "mlp",
                  "--proxy-arch", "mlp", "--subset", "200", "--seed", "4", "--no-train-target", *extra,
                  "--epochs", "2", "--learning-rate", "0.01", "--no-cuda", "--quiet", "--batch-size", "32"]) == 0
    return load_index(_run(tmp_path) / "selected.index")


def _run(root):
    (run,) = [path for path in root.iterdir() if path.is_dir()]
    return run


@pytest.mark.parametrize("method", ["el2n", "grand"])
def test_early_scores_keep_hardest_and_easiest_halves(cifar_dir, tmp_path, method):
    hardest = _coreset(cifar_dir, tmp_path / "h", "--selection-method", method, "--score-epoch", "1",
                       "--score-seeds", "2")
    run = _run(tmp_path / "h")
    assert (run / "proxy/400/score_seed_0").is_dir() and (run / "proxy/400/score_seed_1").is_dir()
    (proxy,) = rows(run / "proxy.csv")  # one row for both scoring proxies
    assert int(proxy["nexamples"]) == 400
    assert float(rows(run / "selection.csv")[0]["inference_time"]) > 0
    easiest = _coreset(cifar_dir, tmp_path / "e", "--selection-method", method, "--score-epoch", "1",
                       "--score-seeds", "2", "--keep", "easiest")
    # the same seeds give the same scores: the two halves split the 400 examples
    assert len(np.intersect1d(hardest, easiest)) == 0 and len(np.union1d(hardest, easiest)) == 400


def test_class_balance_keeps_each_class_share(cifar_dir, tmp_path):
    from svp.config import DataConfig
    from svp.data import open_dataset

    kept = _coreset(cifar_dir, tmp_path, "--selection-method", "least_confidence", "--class-balance")
    labels = open_dataset(DataConfig(dataset="cifar10", datasets_dir=str(cifar_dir))).targets("train")
    shares = np.bincount(labels, minlength=10) * 200 / 400
    counts = np.bincount(labels[kept], minlength=10)
    assert (np.abs(counts - shares) < 1).all() and counts.sum() == 200


@pytest.mark.parametrize("argv, message", [
    (["active", "--selection-method", "kcenters", "--sampling", "softmax"],
     "kcenters ranks by no score, so --sampling softmax cannot apply ; drop --sampling softmax"),
    (["active", "--selection-method", "margin", "--sampling", "power"],
     "--sampling power draws in proportion to scores >= 0, and margin gives negative ones ; use --sampling softmax"),
    (["coreset", "--selection-method", "random", "--class-balance"], "random ranks by no score"),
    (["active", "--candidates", "10", "--round", "30"], "--candidates 10 is smaller than the round of 30"),
    (["coreset", "--selection-method", "el2n", "--score-epoch", "3"], "--score-epoch 3 is past the proxy's 1 epochs"),
    (["active", "--mc-dropout", "1"], "--mc-dropout 1.0 is out of range ; give a number in (0, 1)"),
])
def test_bad_selection_options_are_refused(cifar_dir, tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cifar([*argv, "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--arch", "mlp", *FAST])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("method, needs", [("bald", "Monte-Carlo dropout samples"), ("el2n", "the examples' labels"),
                                           ("badge", "features")])
def test_fasttext_refuses_what_it_cannot_give(method, needs):
    from svp.config import ModelConfig
    from svp.errors import UsageError
    from svp.learners.fasttext import FASTTEXT_ARCH, FastTextLearner

    with pytest.raises(UsageError, match=f"cannot select by {method} \\(it needs .*{needs}"):
        FastTextLearner.check(ModelConfig(arch=FASTTEXT_ARCH), "--proxy-arch", method)


def test_early_schedule_cuts_the_segments_after_the_score_epoch():
    from svp.config import ModelConfig
    from svp.workflows.coreset import early_schedule

    model = ModelConfig(epochs=(1, 90, 45), learning_rates=(0.01, 0.1, 0.01))
    assert (early_schedule(model, 1).epochs, early_schedule(model, 1).learning_rates) == ((1,), (0.01,))
    cut = early_schedule(model, 20)
    assert (cut.epochs, cut.learning_rates) == ((1, 19), (0.01, 0.1))
    assert early_schedule(model, 136).epochs == (1, 90, 45)


def test_score_epoch_defaults_to_a_tenth_of_the_proxys_epochs():
    from svp.config import CoresetConfig, ModelConfig

    assert CoresetConfig().selection.score_epoch == 19  # ceil(181 / 10)
    assert CoresetConfig(proxy=ModelConfig(epochs=(3,), learning_rates=(0.1,))).selection.score_epoch == 1


def test_timed_select_scores_only_the_candidates():
    from svp.selection import Outputs
    from svp.workflows.steps import timed_select

    asked = []

    class Learner:
        def score(self, indices, needs):
            asked.append(np.array(indices))
            probs = np.linspace(0.5, 1.0, len(indices))
            return Outputs(np.asarray(indices), np.stack([probs, 1 - probs], axis=1))

    from svp.config import SelectionOptions

    ctx = SimpleNamespace(config=SimpleNamespace(selection=SelectionOptions(candidates=10, keep="hardest")),
                          seed_for=lambda phase, n: 5)
    unlabeled = np.arange(1000, 1100)
    picks, row, _ = timed_select(ctx, Learner(), "least_confidence", unlabeled, 4, np.arange(3))
    (scored,) = asked
    np.testing.assert_array_equal(scored, sample_candidates(ctx, unlabeled, 7))
    np.testing.assert_array_equal(picks, scored[:4])  # the least confident come first in this pool
    assert row["nexamples"] == 7 and row["new_nexamples"] == 4
