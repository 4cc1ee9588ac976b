"""The fastText proxy (Joulin et al., 2017) through the ``fasttext`` package, as a learner.

The original ran the fastText v0.1.0 binary on text normalised by a shell
pipeline; here the same normalisation (:func:`normalize`) is done in
Python, training goes through ``fasttext.train_supervised`` on a temporary
file in fastText's ``__label__k text`` format, and class probabilities come
from ``predict(k=-1)``, reordered into columns by class id.

:class:`FastTextProxy` is the model (not an ``nn.Module``, not in
``MODELS``); :class:`FastTextLearner` is the learner of the proxy arch
:data:`FASTTEXT_ARCH`, with texts from ``data.texts(split, indices)``. It
gives class probabilities but no features and calls no training hooks, so
it selects only by methods that need nothing more, and only as a proxy.

Under an automatic schedule (``ModelConfig.schedule == "auto"``, data of
one's own) with no epochs or learning rate given, each training sizes
them to its labeled set (see :mod:`svp.learners.fasttext_schedule`); the
paper's schedule ("epochs") is the options' epochs and rate, as the
original trained.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Collection, Iterable, Iterator, Mapping, Optional, Sequence

import numpy as np

from svp.checks import option_name
from svp.config import ModelConfig
from svp.data import Data
from svp.engine import distributed
from svp.errors import UsageError
from svp.learners.base import BatchHook, Learner, TrainResult, damaged
from svp.learners.fasttext_native import quiet_stderr, zeroed_allocations
from svp.learners.fasttext_schedule import chance_accuracy, plan_schedule
from svp.progress import bar
from svp.rundir import FASTTEXT_MODEL, FASTTEXT_SCHEDULE, PROXY, TEMP_SUFFIX, atomic_save, save_json
from svp.selection import Outputs

log = logging.getLogger(__name__)

FASTTEXT_ARCH = "fasttext"
LABEL_PREFIX = "__label__"
CHUNK_SIZE = 65536

# The original's sed rules: quote apostrophes and punctuation with spaces,
# drop double quotes and turn ';' and ':' into spaces.
_PUNCTUATION = str.maketrans({
    "'": " ' ", '"': None, ".": " . ", ",": " , ", "(": " ( ", ")": " ) ",
    "!": " ! ", "?": " ? ", ";": " ", ":": " ",
})


def normalize(text: str) -> str:
    """Normalise a document as the original fastText pipeline did.

    Lowercase, ``<br />`` and line breaks become spaces, punctuation
    ``' . , ( ) ! ?`` is separated by spaces, ``"`` is dropped, ``; :``
    become spaces, and runs of whitespace collapse to one space.

    Parameters
    ----------
    text : str
        A raw document.

    Returns
    -------
    str
        One line of space-separated tokens.
    """
    text = text.lower().replace("<br />", " ").translate(_PUNCTUATION)
    return " ".join(text.split())


def _import_fasttext() -> Any:
    try:
        import fasttext
    except ImportError:
        raise UsageError("--proxy-arch fasttext needs the fasttext package: "
                         "pip install 'svp[text]' (or pip install fasttext)") from None
    return fasttext


#: autotune's default time limit per training: none, the rule serves (see svp.learners.fasttext_schedule)
AUTOTUNE_SECONDS = 0
#: options that fix fastText's schedule: given, the schedule is "epochs" (see :func:`fasttext_config`)
GIVEN_SCHEDULE = ("epochs", "learning_rate")


@dataclass(frozen=True)
class FastTextOptions:
    """fastText's training options (the fastText learner kind's ``options``); defaults are the original's.

    Each training takes its seed from the run (fastText is only
    deterministic with ``threads=1``). ``autotune_seconds`` serves an
    automatic schedule only: autotune's trials run against the clock, so
    what it finds can differ between runs even with ``threads=1`` (which
    makes each trial reproducible); 0 (or given epochs or rate) makes
    the schedule reproducible.
    """

    dim: int = field(default=10, metadata={"help": "fastText: size of word vectors"})
    ngrams: int = field(default=2, metadata={"help": "fastText: max length of word n-grams (-wordNgrams)"})
    min_count: int = field(default=1, metadata={"help": "fastText: minimal number of word occurrences"})
    bucket: int = field(default=10_000_000, metadata={"help": "fastText: number of hash buckets for word n-grams"})
    threads: int = field(default=4, metadata={"help": "fastText: training threads (1 for reproducible runs)"})
    epochs: int = field(default=5, metadata={"help": "fastText: epochs of training"})
    learning_rate: float = field(default=0.05, metadata={"help": "fastText: learning rate"})
    autotune_seconds: int = field(default=AUTOTUNE_SECONDS, metadata={
        "help": "fastText: seconds its autotune may search epochs and learning rate on a dev split, under an "
                "automatic schedule when neither is given, instead of sizing them by a rule (0: the rule)"})

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], flags: Mapping[str, str] = {}) -> "FastTextOptions":
        """Options from a dict (``ModelConfig.options``): unknown keys, wrong types and values <= 0 (< 0 for
        ``autotune_seconds``) refused.

        ``flags`` names the command-line option behind each key, for messages.
        """
        defaults = {f.name: f.default for f in fields(cls)}
        unknown = sorted(set(values) - set(defaults))
        if unknown:
            raise UsageError(f"unknown fastText option(s) {', '.join(unknown)}; "
                             f"choose from: {', '.join(sorted(defaults))}")
        converted = {}
        for name, value in values.items():
            kind = type(defaults[name])
            try:
                converted[name] = kind(value)
            except (TypeError, ValueError):
                raise UsageError(f"fastText option {name}={value!r} is not {kind.__name__}") from None
            if converted[name] < 0 or (converted[name] == 0 and name != "autotune_seconds"):
                bound = "0 or more" if name == "autotune_seconds" else "positive"
                raise UsageError(f"{flags.get(name, name)} must be {bound} for fastText, got {converted[name]}")
        return cls(**converted)


def fasttext_config(values: Mapping[str, Any], flags: Mapping[str, str] = {}) -> ModelConfig:
    """The ModelConfig of a fastText proxy: ``values`` over :class:`FastTextOptions`' defaults.

    Its one-segment schedule repeats fastText's epochs and learning rate,
    so config.json shows what the paper's schedule trains. Given epochs or
    a learning rate make its ``schedule`` "epochs" (the user's); else it
    is left for the run to resolve (an automatic one sizes them to each
    labeled set). ``autotune_seconds`` is kept only when given, so the
    original's options read as they did. ``flags`` names the command-line
    option behind each key, for messages.
    """
    options = asdict(FastTextOptions.from_dict(values, flags))  # each training takes the run's seed for its phase
    if "autotune_seconds" not in values:
        del options["autotune_seconds"]
    schedule = "epochs" if any(name in values for name in GIVEN_SCHEDULE) else None
    return ModelConfig(arch=FASTTEXT_ARCH, epochs=(options["epochs"],), learning_rates=(options["learning_rate"],),
                       schedule=schedule, options=options)


class FastTextProxy:
    """A fastText classifier with the proxy interface: fit, predict_proba, save.

    Parameters
    ----------
    dim, ngrams, min_count, bucket, threads, epochs, learning_rate
        See :class:`FastTextOptions`.
    seed : int
        fastText's random seed.
    """

    def __init__(self, dim: int = 10, ngrams: int = 2, min_count: int = 1, bucket: int = 10_000_000,
                 threads: int = 4, epochs: int = 5, learning_rate: float = 0.05, seed: int = 0) -> None:
        self.options = FastTextOptions(dim, ngrams, min_count, bucket, threads, epochs, learning_rate)
        self.seed = seed
        self.num_classes: Optional[int] = None
        self.model: Any = None

    @classmethod
    def from_options(cls, values: Mapping[str, Any], seed: int = 0) -> "FastTextProxy":
        """A proxy from a dict of options (``ModelConfig.options``) and a seed; unknown keys are a UsageError."""
        proxy = cls(seed=seed)
        proxy.options = FastTextOptions.from_dict(values)
        return proxy

    def fit(self, texts: Iterable[str], labels: Sequence[int] | np.ndarray,
            num_classes: Optional[int] = None, tmp_dir: Optional[str | os.PathLike] = None) -> "FastTextProxy":
        """Train on raw texts, read once in the order given.

        Parameters
        ----------
        texts : iterable of str
            Raw documents (normalised here); may be a generator.
        labels : array-like of int
            Class ids ``0..num_classes - 1``, one per text.
        num_classes : int, optional
            Number of columns of :meth:`predict_proba`; defaults to
            ``max(labels) + 1``.
        tmp_dir : path-like, optional
            Where to write the temporary training file (about the size of
            the texts); defaults to the system's temporary directory.

        Returns
        -------
        FastTextProxy
            ``self``.
        """
        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) == 0:
            raise UsageError("fastText needs at least one labeled example to train")
        self.num_classes = int(num_classes if num_classes is not None else labels.max() + 1)
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f"labels must lie in 0..{self.num_classes - 1}")
        with _training_file(texts, labels, tmp_dir) as path:
            self.model = self._train(path)
        return self

    def _train(self, path: str) -> Any:
        o = self.options
        log.info("training fastText (dim=%d, wordNgrams=%d, epoch=%d, lr=%g)", o.dim, o.ngrams, o.epochs,
                 o.learning_rate)
        fasttext = _import_fasttext()
        try:
            with zeroed_allocations():
                return fasttext.train_supervised(
                    input=path, dim=o.dim, lr=o.learning_rate, wordNgrams=o.ngrams, minCount=o.min_count,
                    bucket=o.bucket, epoch=o.epochs, thread=o.threads, seed=self.seed % 2**31,
                    verbose=2 if log.isEnabledFor(logging.DEBUG) else 0)
        except RuntimeError as error:
            if "NaN" not in str(error):
                raise
            raise UsageError(f"fastText training diverged (NaN) at learning rate {o.learning_rate}; "
                             "lower the fastText learning rate") from None

    def autotune_data(self, data: Any, split: str, train: np.ndarray, dev: np.ndarray, seconds: int,
                      tmp_dir: Optional[str | os.PathLike] = None) -> Optional[tuple[int, float]]:
        """Epochs and learning rate found by fastText's autotune in ``seconds``: trained on examples ``train``
        of ``data`` (shuffled by the seed), scored on ``dev``; the other options stay this proxy's.

        None when no trial finished in time (or the best one diverged when trained again). Trials run against
        the clock, so what is found can differ between runs, even with ``threads=1``.
        """
        train = np.random.default_rng(self.seed).permutation(np.asarray(train, dtype=np.int64))
        dev = np.asarray(dev, dtype=np.int64)
        targets = data.targets(split)
        with _training_file(iter_texts(data, split, train), targets[train], tmp_dir) as train_path, \
                _training_file(iter_texts(data, split, dev), targets[dev], tmp_dir) as dev_path:
            o = self.options
            try:  # every argument given is kept by autotune: only epoch and lr are searched
                with zeroed_allocations(), quiet_stderr():
                    model = _import_fasttext().train_supervised(
                        input=train_path, dim=o.dim, wordNgrams=o.ngrams, minCount=o.min_count, bucket=o.bucket,
                        minn=0, maxn=0, thread=o.threads, seed=self.seed % 2**31, verbose=0,
                        autotuneValidationFile=dev_path, autotuneDuration=seconds)
            except RuntimeError as error:  # "Didn't have enough time to train once", "Encountered NaN"
                log.warning("fastText's autotune found nothing in %d s (%s)", seconds, error)
                return None
        return int(model.epoch), float(model.lr)

    def _predict_chunk(self, texts: list[str], out: np.ndarray) -> None:
        """Probabilities of ``texts`` into ``out`` (float32, (len(texts), num_classes))."""
        if self.model is None:
            raise RuntimeError("FastTextProxy.predict_proba_data called before fit")
        names, values = self.model.predict([normalize(t) for t in texts], k=-1)
        out[:] = 0  # classes absent from the training data get no probability (out may be reused)
        for row, (labels, probs) in enumerate(zip(names, values)):
            out[row, [int(label[len(LABEL_PREFIX):]) for label in labels]] = probs
        # fastText adds 1e-5 to every probability before its log; undo the drift.
        totals = out.sum(axis=1, keepdims=True)
        out /= np.where(totals > 0, totals, 1.0)

    def _classes(self) -> int:
        assert self.num_classes is not None
        return self.num_classes

    def fit_data(self, data: Any, split: str, indices: Sequence[int] | np.ndarray,
                 seed: Optional[int] = None, tmp_dir: Optional[str | os.PathLike] = None) -> "FastTextProxy":
        """Train on examples ``indices`` of ``data`` (which needs ``texts``), in a shuffled order.

        fastText reads its file in order, so (as the original did) the
        examples are shuffled first, by ``seed``. See :meth:`fit` for ``tmp_dir``.
        """
        order = np.random.default_rng(seed).permutation(np.asarray(indices, dtype=np.int64))
        labels = data.targets(split)[order]
        return self.fit(iter_texts(data, split, order), labels, num_classes=data.num_classes, tmp_dir=tmp_dir)

    def predict_proba_data(self, data: Any, split: str, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Class probabilities of examples ``indices`` of ``data``, its texts read in chunks.

        Returns
        -------
        np.ndarray
            float32 (n, num_classes), column ``c`` the probability of class
            ``c`` (0 for classes absent from the training data); rows sum to 1.
        """
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), self._classes()), dtype=np.float32)
        for start in bar(range(0, len(indices), CHUNK_SIZE), desc="fastText inference"):
            chunk = indices[start:start + CHUNK_SIZE]
            self._predict_chunk(data.texts(split, chunk), out[start:start + len(chunk)])
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write the trained model (fastText's ``.bin`` format) to ``path``, atomically."""
        if self.model is None:
            raise RuntimeError("FastTextProxy.save called before fit")
        atomic_save(path, lambda tmp: self.model.save_model(str(tmp)))

    @classmethod
    def load(cls, path: str | os.PathLike, num_classes: int) -> "FastTextProxy":
        """Load a model written by :meth:`save` (training options are not restored)."""
        proxy = cls()
        proxy.model = _import_fasttext().load_model(str(path))
        proxy.num_classes = num_classes
        return proxy


@contextmanager
def _training_file(texts: Iterable[str], labels: np.ndarray, tmp_dir: Optional[str | os.PathLike]) -> Iterator[str]:
    """The path of a temporary file of ``__label__k normalised text`` lines, removed afterwards."""
    # named as rundir's temporaries, so that a training killed mid-way leaves nothing a resume keeps
    handle, path = tempfile.mkstemp(prefix=".fasttext-train.", suffix=TEMP_SUFFIX, dir=tmp_dir)
    try:
        count = 0
        with os.fdopen(handle, "w", encoding="utf-8", errors="replace") as file:
            for count, (text, label) in enumerate(zip(texts, labels), start=1):
                file.write(f"{LABEL_PREFIX}{label} {normalize(text)}\n")
        if count != len(labels):
            raise ValueError(f"got {count} texts for {len(labels)} labels")
        yield path
    finally:
        os.unlink(path)


def iter_texts(data: Any, split: str, indices: Sequence[int] | np.ndarray,
               chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """Raw texts of ``indices`` in order, fetched ``chunk_size`` at a time.

    Parameters
    ----------
    data : Data
        A dataset with a ``texts(split, indices)`` method (text datasets).
    split : str
        ``"train"`` or ``"test"``.
    indices : array-like of int
        Positions in the split.
    chunk_size : int
        Texts held in memory at once.

    Yields
    ------
    str
    """
    if getattr(data, "texts", None) is None:
        raise ValueError(f"fastText reads raw texts; {data.name} has none")
    indices = np.asarray(indices, dtype=np.int64)
    for start in range(0, len(indices), chunk_size):
        yield from data.texts(split, indices[start:start + chunk_size])


class FastTextLearner(Learner):
    """Trains a :class:`FastTextProxy` with ``config.options``; keeps the last one."""

    roles = (PROXY,)
    provides = frozenset({"probs"})
    options = FastTextOptions
    model: Optional[FastTextProxy] = None

    @classmethod
    def archs(cls) -> Collection[str]:
        return (FASTTEXT_ARCH,)

    @classmethod
    def modality(cls, arch: str) -> str:
        return "text"

    @classmethod
    def configure(cls, config: ModelConfig) -> ModelConfig:
        """``config`` with the schedule its options (as given) say, whatever schedule it inherited: fastText
        trains its ``epochs`` at its ``learning_rate`` (defaults for those not given); either given makes
        ``schedule`` "epochs" (see :func:`fasttext_config`), and is refused with ``schedule`` "auto"."""
        made = fasttext_config(config.options)
        given = [name for name in GIVEN_SCHEDULE if name in config.options]
        if config.schedule == "auto" and given:
            raise UsageError(f"{option_name(config, 'schedule')} auto sizes fastText's epochs and learning rate to "
                             f"the data, and its {' and '.join(given)} option is given ; drop one of them")
        return replace(config, epochs=made.epochs, learning_rates=made.learning_rates, options=made.options,
                       schedule=config.schedule or made.schedule)

    @classmethod
    def check(cls, config: ModelConfig, flag: str, method: Optional[str], data: Optional[Data] = None) -> None:
        """Refuse methods that need more than probabilities, bad options, and weights to start from."""
        super().check(config, flag, method, data)
        options = FastTextOptions.from_dict(config.options)
        if (config.epochs, config.learning_rates) != ((options.epochs,), (options.learning_rate,)):
            # a torch schedule (the target's, inherited) would be recorded but not followed
            raise UsageError(f"{flag} {FASTTEXT_ARCH} trains {options.epochs} epochs at {options.learning_rate} "
                             f"(its options), not the schedule {config.epochs} at {config.learning_rates} ; use "
                             "python -m svp.amazon (it takes tables of your own too), whose --proxy-epochs, "
                             "--proxy-learning-rate, --dim, ... set fastText's, or "
                             "svp.learners.fasttext.fasttext_config in Python")
        if config.weights is not None:
            raise UsageError(f"{flag} {FASTTEXT_ARCH} trains from scratch ; drop --proxy-weights")

    def train(self, labeled: np.ndarray, out_dir: Path, seed: int,
              hooks: Sequence[BatchHook] = ()) -> TrainResult:
        """Train on ``labeled`` (shuffled by ``seed``), save the model in ``out_dir``, measure accuracies."""
        assert not hooks, "fastText calls no training hooks (check() refuses methods that need them)"
        out_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        proxy = FastTextProxy.from_options(asdict(self._options(labeled, out_dir, seed)), seed=seed)
        proxy.fit_data(self.env.data, "train", labeled, seed=seed, tmp_dir=out_dir)
        train_time = time.perf_counter() - start
        if distributed.is_main():
            proxy.save(out_dir / FASTTEXT_MODEL)
        self.model = proxy
        train_acc, _ = self._accuracy("train", labeled)
        dev_acc, dev_time = self._accuracy("train", self.env.dev) if len(self.env.dev) else (-1.0, 0.0)
        test_acc, test_time = -1.0, 0.0
        if self.env.track_test and self.env.data.size("test"):
            test_acc, test_time = self._accuracy("test", np.arange(self.env.data.size("test")))
        chance = None  # what the accuracy reported must beat: its split's largest class, always predicted
        if test_acc >= 0:
            chance = chance_accuracy(self.env.data.targets("test"))
        elif dev_acc >= 0:
            chance = chance_accuracy(self.env.data.targets("train")[self.env.dev])
        return TrainResult(len(labeled), train_acc, dev_acc, test_acc, train_time, dev_time, test_time,
                           chance_accuracy=chance)

    def _options(self, labeled: np.ndarray, out_dir: Path, seed: int) -> FastTextOptions:
        """This training's options: the config's, with epochs and rate sized to ``labeled`` under an automatic
        schedule (see :mod:`svp.learners.fasttext_schedule`), said in the log and saved in ``out_dir``."""
        options = FastTextOptions.from_dict(self.config.options)
        if self.config.schedule != "auto":
            return options
        data, labeled = self.env.data, np.asarray(labeled, dtype=np.int64)
        tuner = FastTextProxy.from_options(asdict(options), seed=seed)

        def tune(train: np.ndarray, dev: Optional[np.ndarray]) -> Optional[tuple[int, float]]:
            dev_indices = self.env.dev if dev is None else labeled[dev]
            return tuner.autotune_data(data, "train", labeled[train], dev_indices, options.autotune_seconds, out_dir)

        chosen = plan_schedule(data.targets("train")[labeled], data.targets("train")[self.env.dev], seed,
                               options.autotune_seconds, self.config.steps, tune)
        log.info("fastText's schedule for %d examples (%s): %d epochs at learning rate %g", len(labeled),
                 chosen["how"], chosen["epochs"], chosen["learning_rate"])
        if distributed.is_main():
            save_json(out_dir / FASTTEXT_SCHEDULE, chosen)
        return replace(options, epochs=chosen["epochs"], learning_rate=chosen["learning_rate"])

    def _accuracy(self, split: str, indices: np.ndarray) -> tuple[float, float]:
        """Accuracy of the current model on ``indices`` of ``split``, and the seconds it took."""
        start = time.perf_counter()
        probs = self.model.predict_proba_data(self.env.data, split, indices)
        correct = probs.argmax(axis=1) == self.env.data.targets(split)[np.asarray(indices, dtype=np.int64)]
        return float(correct.mean()) if len(correct) else -1.0, time.perf_counter() - start

    def load(self, out_dir: Path) -> None:
        path = out_dir / FASTTEXT_MODEL
        try:
            self.model = FastTextProxy.load(path, self.env.data.num_classes)
        except ValueError as error:  # fastText's word for a missing or damaged file
            raise damaged(path, error) from None

    def discard(self, out_dir: Path) -> None:
        """Remove the saved model (400 MB with the default buckets) unless --checkpoint all/last keeps it."""
        if self.env.checkpoint == "best":
            (out_dir / FASTTEXT_MODEL).unlink(missing_ok=True)

    def score(self, indices: np.ndarray, needs: frozenset) -> Outputs:
        """Class probabilities of ``indices`` of the training split."""
        assert needs <= self.provides, f"fastText gives class probabilities only, not {sorted(needs)}"
        indices = np.asarray(indices, dtype=np.int64)
        return Outputs(indices, self.model.predict_proba_data(self.env.data, "train", indices))
