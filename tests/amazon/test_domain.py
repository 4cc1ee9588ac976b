"""The Amazon domain: VDCNN and fastText proxies, the `fasttext` command, replay into VDCNN."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import svp.amazon
from svp.cli import build_config, build_parser, main
from svp.config import ActiveConfig, CoresetConfig, DataConfig
from svp.data import DATASETS
from svp.errors import UsageError
from svp.learners.fasttext import FastTextProxy
from run_helpers import only_run, rows
from svp.rundir import load_index

needs_fasttext = pytest.mark.skipif(importlib.util.find_spec("fasttext") is None,
                                    reason="needs the fasttext package (pip install 'svp[text]')")

DOMAIN = svp.amazon.DOMAIN
POSITIVE = ("great", "excellent", "love", "wonderful", "perfect")
NEGATIVE = ("awful", "terrible", "broken", "hate", "refund")
FILLER = ("the", "product", "arrived", "with", "box", "café", "naïve", "it", "was", "«really»")
VDCNN = ["--arch", "vdcnn9-maxpool-lite", "--epochs", "1", "--learning-rate", "0.01", "--batch-size", "8"]
FASTTEXT = ["--bucket", "1000", "--threads", "1"]


def _field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _review(rng: np.random.Generator, label: int, i: int) -> str:
    """One CSV row: quoted fields, commas, quotes, non-ASCII, a newline inside every third text."""
    words = POSITIVE if label == 2 else NEGATIVE
    text = f"{' '.join(rng.choice(FILLER, 5))}, {' '.join(rng.choice(words, 3))} \"{words[i % 5]}\""
    if i % 3 == 0:
        text += "\nsecond line, 10/10 — ok"
    return ",".join(_field(f) for f in (str(label), f"Title {i}, {words[(i + 2) % 5]}", text)) + "\n"


def write_reviews(root: Path, n_train: int = 60, n_test: int = 20) -> Path:
    """``root/amazon_review_polarity_csv/{train,test}.csv`` in the published layout."""
    rng = np.random.default_rng(0)
    base = root / "amazon_review_polarity_csv"
    base.mkdir(parents=True)
    for split, n in (("train", n_train), ("test", n_test)):
        rows = "".join(_review(rng, 1 + i % 2, i) for i in range(n))
        (base / f"{split}.csv").write_text(rows, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def reviews_dir(tmp_path_factory) -> Path:
    return write_reviews(tmp_path_factory.mktemp("reviews"))




def sizes(path: Path) -> list[int]:
    return [int(r["nexamples"]) for r in rows(path)]


def parse(*argv: str):
    return build_config(build_parser(DOMAIN).parse_args(list(argv)), DOMAIN)


def run(argv: list[str], reviews_dir: Path, run_root: Path) -> Path:
    code = main([*argv, "--datasets-dir", str(reviews_dir), "--run-dir", str(run_root), "--quiet"],
                domain=DOMAIN)
    assert code == 0
    return only_run(run_root)


def error_of(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv, domain=DOMAIN)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def load_reviews(reviews_dir: Path):
    return DATASETS["amazon_review_polarity"](DataConfig("amazon_review_polarity", str(reviews_dir)))


# --- configuration ---------------------------------------------------------------------------------------


def test_defaults_are_the_originals():
    active = parse("active")
    assert active.data.dataset == "amazon_review_polarity"
    target = active.target
    assert (target.arch, target.optimizer, target.momentum, target.weight_decay) == ("vdcnn9-maxpool", "sgd",
                                                                                       0.9, 1e-4)
    assert target.epochs == (3, 3, 3, 3, 3)
    assert target.learning_rates == (0.01, 0.005, 0.0025, 0.00125, 0.000625)
    assert (target.batch_size, target.eval_batch_size) == (128, 128)
    assert active.proxy == target and active.proxy.options == {}
    assert (active.initial_subset, active.rounds) == (72_000, (288_000, 360_000, 360_000, 360_000, 360_000))
    assert active.selection.method == "least_confidence"
    coreset = parse("coreset")
    assert (coreset.subset, coreset.selection.method) == (1_800_000, "least_confidence")


def test_fasttext_proxy_options():
    proxy = parse("active", "--proxy-arch", "fasttext", "--dim", "20", "--ngrams", "3", "--min-count", "2",
                  "--bucket", "5000", "--threads", "1", "--proxy-epochs", "7",
                  "--proxy-learning-rate", "0.5").proxy
    assert proxy.arch == "fasttext"
    assert proxy.options == {"dim": 20, "ngrams": 3, "min_count": 2, "bucket": 5000, "threads": 1,
                              "epochs": 7, "learning_rate": 0.5}
    assert (proxy.epochs, proxy.learning_rates) == ((7,), (0.5,))
    # the original's defaults; the target's VDCNN schedule is not fastText's
    default = parse("coreset", "--proxy-arch", "fasttext").proxy
    assert default.options == {"dim": 10, "ngrams": 2, "min_count": 1, "bucket": 10_000_000, "threads": 4,
                                "epochs": 5, "learning_rate": 0.05}


def test_fasttext_options_only_in_the_amazon_domain():
    from svp.cli import GENERIC

    assert "--dim" in _command_help(DOMAIN, "active")
    assert "--dim" not in _command_help(GENERIC, "active")
    assert "--bucket" in _command_help(DOMAIN, "coreset")


def _command_help(domain, command: str) -> str:
    parser = build_parser(domain)
    (subparsers,) = [a for a in parser._actions if a.dest == "command"]
    return subparsers.choices[command].format_help()


def test_fasttext_command_parses_to_active_learning():
    config = parse("fasttext", "/path/to/fastText/fasttext", "--run-dir", "fasttext", "--selection-method",
                   "least_confidence", "--size", "72000", "--size", "360000", "--size", "720000",
                   "--epochs", "3", "--learning-rate", "0.1", "--dim", "16", "--seed", "5")
    assert isinstance(config, ActiveConfig)
    assert (config.initial_subset, config.rounds) == (72_000, (288_000, 360_000))
    assert config.selection.method == "least_confidence" and not config.train_target
    assert config.proxy.arch == "fasttext"
    assert config.proxy.options["dim"] == 16
    assert (config.proxy.options["epochs"], config.proxy.options["learning_rate"]) == (3, 0.1)
    assert (config.runtime.run_dir, config.runtime.seed, config.runtime.cuda) == ("fasttext", 5, False)
    default = parse("fasttext")
    assert default.budgets == [72_000, 360_000, 720_000, 1_080_000, 1_440_000, 1_800_000]
    assert default.selection.method == "entropy"


def test_fasttext_command_parses_decreasing_sizes_to_coreset():
    config = parse("fasttext", "--size", "3600000", "--size", "2160000")
    assert isinstance(config, CoresetConfig)
    assert (config.subset, config.selection.method, config.train_target) == (2_160_000, "entropy", False)


@pytest.mark.parametrize("values, message", [
    (["10"], "give --size at least twice"),
    (["10", "20", "20"], "must all increase"),
    (["10", "30", "20"], "must all increase"),
    (["0", "10"], "must be positive"),
    (["30", "20", "10"], "core-set selection takes two --size values"),
])
def test_fasttext_command_refuses_bad_sizes(values, message):
    with pytest.raises(UsageError, match=message):
        parse("fasttext", *[arg for v in values for arg in ("--size", v)])


def test_fasttext_schedule_takes_one_segment(capsys):
    err = error_of(capsys, ["active", "--proxy-arch", "fasttext", "--proxy-epochs", "1", "--proxy-epochs", "2"])
    assert "give --proxy-epochs once, not 2 times" in err
    err = error_of(capsys, ["fasttext", "--learning-rate", "0", "--size", "1", "--size", "2"])
    assert "--learning-rate must be positive for fastText, got 0.0" in err


# --- refusals before anything runs ---------------------------------------------------------------------------


@pytest.mark.parametrize("command, method", [("active", "kcenters"), ("coreset", "kcenters"),
                                             ("coreset", "forgetting_events")])
def test_fasttext_refuses_methods_needing_features(capsys, tmp_path, command, method):
    # refused before the (missing) data is even looked for
    err = error_of(capsys, [command, "--proxy-arch", "fasttext", "--selection-method", method,
                            "--datasets-dir", str(tmp_path / "missing"), "--run-dir", str(tmp_path / "runs")])
    assert "--proxy-arch fasttext gives class probabilities only" in err
    assert f"cannot select by {method}" in err and "least_confidence, entropy, margin or random" in err
    assert not (tmp_path / "runs").exists()


def test_fasttext_command_refuses_kcenters(capsys):
    err = error_of(capsys, ["fasttext", "--selection-method", "kcenters"])
    assert "invalid choice: 'kcenters'" in err


def test_fasttext_needs_a_text_dataset(capsys, tmp_path, cifar_dir):
    with pytest.raises(SystemExit) as exit_info:
        main(["active", "--proxy-arch", "fasttext", "--datasets-dir", str(cifar_dir), "--dataset", "cifar10",
              "--run-dir", str(tmp_path), "--initial-subset", "10", "--round", "10"])
    assert exit_info.value.code == 2
    assert "--proxy-arch fasttext takes texts but cifar10 holds images" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_malformed_row_names_its_line(capsys, tmp_path):
    root = write_reviews(tmp_path / "data", n_train=6, n_test=2)
    train = root / "amazon_review_polarity_csv" / "train.csv"
    lines = train.read_text(encoding="utf-8").split("\n")
    # row 0 spans lines 1-2 (newline in its text), rows 1 and 2 lines 3 and 4: break row 3 (line 5)
    assert lines[4].startswith('"2","Title 3')
    lines[4] = '"2","a title but no text"'
    train.write_text("\n".join(lines), encoding="utf-8")
    for command in (["active", "--proxy-arch", "fasttext"], ["fasttext", "--size", "2", "--size", "3"]):
        err = error_of(capsys, [*command, "--datasets-dir", str(root), "--run-dir", str(tmp_path / "runs")])
        assert f"{train}:5: expected 3 fields" in err
    assert not (tmp_path / "runs").exists()


# --- end to end -----------------------------------------------------------------------------------------------


def test_active_with_vdcnn_proxy(reviews_dir, tmp_path):
    run_dir = run(["active", *VDCNN, "--proxy-arch", "vdcnn9-maxpool-lite", "--initial-subset", "20",
                   "--round", "10", "--seed", "0"], reviews_dir, tmp_path)
    for name in ("config.json", "proxy.csv", "selection.csv", "initial_subset_20.index",
                 "proxy/20/labeled_20.index", "proxy/30/labeled_30.index", "proxy/30/checkpoint_best_model.t7"):
        assert (run_dir / name).is_file(), name
    assert sizes(run_dir / "proxy.csv") == [20, 30]
    assert sizes(run_dir / "target.csv") == [20, 30]  # proxy and target train alike: linked, trained once
    assert (run_dir / "target.csv").is_symlink()
    labeled = load_index(run_dir / "proxy/30/labeled_30.index")
    assert len(np.unique(labeled)) == 30 and labeled.max() < 60
    assert np.array_equal(labeled[:20], load_index(run_dir / "initial_subset_20.index"))
    assert json.loads((run_dir / "config.json").read_text())["proxy"]["arch"] == "vdcnn9-maxpool-lite"


@pytest.fixture(scope="module")
def fasttext_run(reviews_dir, tmp_path_factory) -> Path:
    """The README's command, as a subprocess: fastText selects 20 then 30 reviews."""
    out = tmp_path_factory.mktemp("fasttext")
    argv = ["/path/to/fastText/fasttext", "--run-dir", str(out), "--datasets-dir", str(reviews_dir),
            "--dataset", "amazon_review_polarity", "--selection-method", "entropy", "--size", "20",
            "--size", "30", "--seed", "4", "--epochs", "20", "--learning-rate", "0.3", "--checkpoint", "last",
            *FASTTEXT]
    result = subprocess.run([sys.executable, "-m", "svp.amazon", "fasttext", *argv], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "results:" in result.stdout
    return only_run(out)


@needs_fasttext
def test_fasttext_command_writes_an_active_run(fasttext_run, reviews_dir):
    for name in ("config.json", "proxy.csv", "selection.csv", "initial_subset_20.index",
                 "proxy/20/labeled_20.index", "proxy/30/labeled_30.index", "proxy/20/fasttext.bin"):
        assert (fasttext_run / name).is_file(), name
    assert not (fasttext_run / "target.csv").exists() and not (fasttext_run / "target").exists()
    assert sizes(fasttext_run / "proxy.csv") == [20, 30]
    proxy_rows = rows(fasttext_run / "proxy.csv")
    assert all(0 <= float(r["test_accuracy"]) <= 1 for r in proxy_rows)
    (selection,) = rows(fasttext_run / "selection.csv")
    assert (selection["current_nexamples"], selection["new_nexamples"]) == ("20", "10")
    config = json.loads((fasttext_run / "config.json").read_text())
    assert config["proxy"]["options"] == {"dim": 10, "ngrams": 2, "min_count": 1, "bucket": 1000,
                                           "threads": 1, "epochs": 20, "learning_rate": 0.3}
    assert (config["workflow"], config["train_target"], config["selection"]["method"]) == ("active", False,
                                                                                         "entropy")


@needs_fasttext
def test_fasttext_models_are_removed_once_no_resume_needs_them(reviews_dir, tmp_path):
    # 400 MB each with the default buckets: by default a model stays only until its selection is recorded
    run_dir = run(["active", *VDCNN, "--proxy-arch", "fasttext", *FASTTEXT, "--selection-method", "entropy",
                   "--initial-subset", "20", "--round", "10", "--round", "10", "--no-train-target", "--seed", "3"],
                  reviews_dir, tmp_path)
    assert sizes(run_dir / "proxy.csv") == [20, 30, 40]
    assert sorted(p.name for p in run_dir.rglob("*") if p.is_file() and "proxy/" in str(p)) == \
        ["labeled_20.index", "labeled_30.index", "labeled_40.index", "predictions.npz", "predictions.npz"]


@needs_fasttext
def test_fasttext_picks_the_highest_entropy(fasttext_run, reviews_dir):
    """The 10 added reviews are the unlabeled ones of highest entropy under the 20-review model."""
    first = load_index(fasttext_run / "proxy/20/labeled_20.index")
    second = load_index(fasttext_run / "proxy/30/labeled_30.index")
    assert np.array_equal(second[:20], first)
    unlabeled = np.setdiff1d(np.arange(60), first)
    model = FastTextProxy.load(fasttext_run / "proxy/20/fasttext.bin", num_classes=2)
    probs = model.predict_proba_data(load_reviews(reviews_dir), "train", unlabeled).astype(np.float64)
    entropy = -(probs * np.log(np.where(probs > 0, probs, 1.0))).sum(axis=1)
    expected = unlabeled[np.argsort(-entropy, kind="stable")[:10]]
    assert sorted(second[20:].tolist()) == sorted(expected.tolist())


@needs_fasttext
def test_replay_fasttext_selection_into_vdcnn(fasttext_run, reviews_dir, tmp_path):
    run_dir = run(["active", *VDCNN, "--selection-method", "least_confidence", "--precomputed-selection",
                   str(fasttext_run), "--seed", "1", "--eval-target-at", "20", "--eval-target-at", "30"],
                  reviews_dir, tmp_path)
    assert sizes(run_dir / "target.csv") == [20, 30]  # the initial set too, since --eval-target-at names it
    for n in (20, 30):
        replayed = load_index(run_dir / f"target/{n}/labeled_{n}.index")
        assert np.array_equal(replayed, load_index(fasttext_run / f"proxy/{n}/labeled_{n}.index"))
    assert sizes(run_dir / "proxy.csv") == [20, 30]  # the fastText results, linked


@needs_fasttext
def test_coreset_with_fasttext_proxy(reviews_dir, tmp_path):
    run_dir = run(["coreset", *VDCNN, "--proxy-arch", "fasttext", *FASTTEXT, "--selection-method",
                   "least_confidence", "--subset", "30", "--seed", "2", "--checkpoint", "last"], reviews_dir, tmp_path)
    assert sizes(run_dir / "proxy.csv") == [60]
    assert sizes(run_dir / "target.csv") == [30]
    selected = load_index(run_dir / "selected.index")
    model = FastTextProxy.load(run_dir / "proxy/60/fasttext.bin", num_classes=2)
    probs = model.predict_proba_data(load_reviews(reviews_dir), "train", np.arange(60))
    expected = np.argsort(probs.max(axis=1).astype(np.float64), kind="stable")[:30]
    assert selected.tolist() == sorted(expected.tolist())
    assert sorted(load_index(run_dir / "target/30/labeled_30.index").tolist()) == selected.tolist()


@needs_fasttext
def test_fasttext_command_coreset(reviews_dir, tmp_path):
    run_dir = run(["fasttext", "--size", "60", "--size", "25", "--selection-method", "margin", "--seed", "3",
                   *FASTTEXT], reviews_dir, tmp_path)
    assert sizes(run_dir / "proxy.csv") == [60]
    assert sizes(run_dir / "selection.csv") == [25]
    selected = load_index(run_dir / "selected.index")
    assert len(np.unique(selected)) == 25 and selected.max() < 60
    assert not (run_dir / "target.csv").exists()
