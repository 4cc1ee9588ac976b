"""fastText proxy: training on raw texts, probabilities in class-id order."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("fasttext")

from svp.errors import UsageError  # noqa: E402
from svp.models import MODELS  # noqa: E402
from svp.learners.fasttext import FASTTEXT_ARCH, FastTextProxy, iter_texts, normalize  # noqa: E402

WORDS = {0: "good great lovely", 1: "bad awful terrible", 2: "meh average okay"}


def _corpus(counts: dict[int, int], seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Separable reviews; ``counts`` per class so fastText's label order differs from class ids."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, c) for c, n in counts.items()])
    rng.shuffle(labels)
    filler = ["the", "item", "was", "Really", "this", "product"]
    texts = [f"{' '.join(rng.choice(filler, 3))} {WORDS[int(c)].split()[i % 3]}, "
             f"{WORDS[int(c)].split()[(i + 1) % 3]}!" for i, c in enumerate(labels)]
    return texts, labels


def _proxy() -> FastTextProxy:
    return FastTextProxy(dim=8, ngrams=2, bucket=10_000, threads=1, epochs=25, learning_rate=0.5, seed=1)


def _texts(texts: list[str]) -> SimpleNamespace:
    """A text dataset of ``texts`` (its training split), as the learner reads one."""
    return SimpleNamespace(name="toy", texts=lambda split, idx: [texts[i] for i in idx])


def _probs(proxy: FastTextProxy, texts: list[str]) -> np.ndarray:
    return proxy.predict_proba_data(_texts(texts), "train", np.arange(len(texts)))


def test_fits_and_predicts_in_class_order():
    # Class 2 most frequent, class 0 least: fastText lists labels as 2, 1, 0.
    texts, labels = _corpus({0: 20, 1: 40, 2: 60})
    proxy = _proxy().fit(texts, labels)
    assert proxy.model.labels[0] == "__label__2"
    probs = _probs(proxy, ["Good and GREAT.", "awful, bad", "okay... average", "lovely"])
    assert probs.dtype == np.float32 and probs.shape == (4, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert probs.argmax(axis=1).tolist() == [0, 1, 2, 0]
    assert (probs.max(axis=1) > 0.6).all()


def test_absent_class_gets_zero_column():
    texts, labels = _corpus({0: 30, 2: 30})
    probs = _probs(_proxy().fit(texts, labels, num_classes=3), ["bad great", "meh"])
    assert probs.shape == (2, 3)
    assert (probs[:, 1] == 0).all()
    assert probs[1].argmax() == 2


def test_generator_input_and_empty_texts():
    texts, labels = _corpus({0: 20, 1: 20})
    proxy = _proxy().fit(iter(texts), labels)
    probs = _probs(proxy, ["", "great"])
    assert probs.shape == (2, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert _probs(proxy, []).shape == (0, 2)


def test_data_helpers_and_save(tmp_path):
    texts, labels = _corpus({0: 25, 1: 25})
    data = SimpleNamespace(
        name="toy", num_classes=2, targets=lambda split: labels,
        texts=lambda split, idx: [texts[i] for i in idx])
    assert list(iter_texts(data, "train", [3, 1], chunk_size=1)) == [texts[3], texts[1]]
    proxy = FastTextProxy.from_options(
        {"dim": 8, "bucket": 10_000, "threads": 1, "epochs": 25, "learning_rate": 0.5}, seed=2**40 + 1)
    proxy.fit_data(data, "train", np.arange(40), seed=0, tmp_dir=tmp_path)
    assert not list(tmp_path.iterdir())  # the training file is removed
    out = proxy.predict_proba_data(data, "train", np.arange(40, 50))
    assert out.argmax(axis=1).tolist() == labels[40:50].tolist()
    proxy.save(tmp_path / "model.bin")
    loaded = FastTextProxy.load(tmp_path / "model.bin", num_classes=2)
    np.testing.assert_allclose(_probs(loaded, texts[40:50]), out, rtol=1e-5)


def test_normalize_matches_original_rules():
    assert normalize('He said "Great!"<br />It\'s fine; ok: (yes), no?\nBye.') == \
        "he said great ! it ' s fine ok ( yes ) , no ? bye ."


def test_options_and_registry():
    options = FastTextProxy.from_options({"dim": "5", "learning_rate": "0.1"}).options
    assert (options.dim, options.learning_rate, options.bucket) == (5, 0.1, 10_000_000)
    assert FastTextProxy.from_options({}, seed=2**40 + 5).seed == 2**40 + 5
    with pytest.raises(UsageError, match="unknown fastText option"):  # the seed is the run's, not an option
        FastTextProxy.from_options({"seed": 3})
    with pytest.raises(UsageError, match="dim='x' is not int"):
        FastTextProxy.from_options({"dim": "x"})
    with pytest.raises(UsageError, match="unknown fastText option"):
        FastTextProxy.from_options({"dimension": 5})
    assert FASTTEXT_ARCH == "fasttext" and FASTTEXT_ARCH not in MODELS
    with pytest.raises(ValueError, match="cifar10 has none"):
        next(iter_texts(SimpleNamespace(name="cifar10", texts=None), "train", [0]))


def test_small_models_train_without_nan():
    # fastText 0.9.3 leaves most of a small input matrix uninitialised (NaN or garbage);
    # FastTextProxy zero-fills allocations while training. Without that this fails every time.
    texts, labels = _corpus({0: 30, 1: 30})
    for seed in range(4):
        proxy = FastTextProxy(dim=16, ngrams=1, threads=1, epochs=5, learning_rate=0.1, seed=seed)
        probs = _probs(proxy.fit(texts, labels), texts[:4])
        assert np.isfinite(probs).all()


def test_divergence_is_a_usage_error():
    texts, labels = _corpus({0: 30, 1: 30})
    with pytest.raises(UsageError, match="lower the fastText learning rate"):
        FastTextProxy(dim=16, ngrams=1, threads=1, epochs=50, learning_rate=1e6).fit(texts, labels)


def test_a_torch_schedule_is_not_silently_ignored():
    from svp.config import ModelConfig
    from svp.learners.fasttext import FastTextLearner, fasttext_config

    FastTextLearner.check(fasttext_config({"epochs": 3}), "--proxy-arch", "entropy")  # its own schedule: fine
    with pytest.raises(UsageError, match=r"trains 5 epochs at 0.05 \(its options\), not the schedule"):
        FastTextLearner.check(ModelConfig(arch=FASTTEXT_ARCH), "--proxy-arch", "entropy")


def test_configure_takes_the_schedule_from_the_options():
    from svp.config import ModelConfig
    from svp.learners.fasttext import FastTextLearner

    inherited = ModelConfig(arch=FASTTEXT_ARCH, epochs=(3, 3), learning_rates=(0.1, 0.01), options={"epochs": 7})
    made = FastTextLearner.configure(inherited)
    assert (made.epochs, made.learning_rates) == ((7,), (0.05,))
    assert made.options == {"dim": 10, "ngrams": 2, "min_count": 1, "bucket": 10_000_000, "threads": 4,
                            "epochs": 7, "learning_rate": 0.05}
    assert made.schedule == "epochs"  # the epochs given are the schedule asked for, whatever the data
    FastTextLearner.check(made, "--proxy-arch", "entropy")  # consistent: accepted
    assert FastTextLearner.configure(made) == made


def test_options_of_another_kind_or_type_are_refused_by_name():
    from svp.config import ModelConfig
    from svp.learners.fasttext import FastTextLearner, fasttext_config
    from svp.learners.torch import TorchLearner

    with pytest.raises(UsageError, match=r"unknown option\(s\) dimension for --proxy-arch fasttext; choose from: "
                                         r"dim, ngrams, min_count"):
        FastTextLearner.check(replace(fasttext_config({}), options={"dimension": 3}), "--proxy-arch", None)
    with pytest.raises(UsageError, match=r"option dim='3' of --proxy-arch fasttext is not int"):
        FastTextLearner.check_options({"dim": "3"}, "--proxy-arch", "fasttext")
    with pytest.raises(UsageError, match=r"--arch resnet20 takes no options, got dim"):
        TorchLearner.check(ModelConfig(arch="resnet20", options={"dim": 3}), "--arch", None)


def test_fasttext_serves_only_methods_of_probabilities():
    from svp.learners.fasttext import FastTextLearner, fasttext_config

    with pytest.raises(UsageError, match=r"--proxy-arch fasttext gives class probabilities only, so it cannot select "
                                         r"by kcenters \(it needs features\); choose --selection-method "
                                         r"least_confidence, entropy, margin or random"):
        FastTextLearner.check(fasttext_config({}), "--proxy-arch", "kcenters")
