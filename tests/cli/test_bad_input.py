"""Bad input and damaged files, as a careless or hostile user would hand them to svp.

Every case must end with exit 2, ``<prog>: error: <what> ; <how to fix>``
naming the problem, no traceback, and nothing written: no run directory for
a new run, no new or changed file in a run being resumed, no report files.
"""
from __future__ import annotations

import errno
import gzip
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import svp.cifar
import svp.imagenet
from svp import rundir
from svp.cli import GENERIC, Domain, main
from run_helpers import only_run, subprocess_env

LOGISTIC = ["--arch", "logistic", "--epochs", "1", "--learning-rate", "0.01", "--no-cuda", "--quiet"]
SMALL = ["--initial-subset", "50", "--round", "30", "--seed", "1"]


@dataclass
class Setting:
    """What a case may use: fresh folders, and copies of the fixtures it may damage."""

    tmp: Path
    cifar_dir: Path
    fashion_dir: Path
    finished: Path

    @property
    def runs(self) -> Path:
        return self.tmp / "runs"

    def copy(self, source: Path, name: str) -> Path:
        return Path(shutil.copytree(source, self.tmp / name, symlinks=True))

    def cifar(self, *more: str) -> list[str]:
        return ["active", "--datasets-dir", str(self.cifar_dir), "--run-dir", str(self.runs), *LOGISTIC,
                *SMALL, *more]

    def resume(self, damage: Callable[[Path], None]) -> list[str]:
        """Resume a copy of the finished run after ``damage`` (the copy is what must stay unchanged)."""
        run = self.copy(self.finished, "resumed")
        damage(run)
        return ["active", "--resume", str(run), "--quiet", "--no-cuda"]

    def fashion(self, damage: Callable[[Path], None]) -> list[str]:
        data = self.copy(self.fashion_dir, "fashion")
        damage(data)
        return ["active", "--dataset", "fashion-mnist", "--datasets-dir", str(data), "--run-dir", str(self.runs),
                *LOGISTIC, *SMALL]

    def cifar_damaged(self, damage: Callable[[Path], None]) -> list[str]:
        data = self.copy(self.cifar_dir, "cifar")
        damage(data / "cifar-10-batches-py")
        return ["active", "--datasets-dir", str(data), "--run-dir", str(self.runs), *LOGISTIC, *SMALL]


@dataclass
class Case:
    name: str
    argv: Callable[[Setting], list[str]]
    message: str
    domain: Domain = svp.cifar.DOMAIN


def _noise(n: int) -> bytes:
    """Random bytes, the same in every run (a test of damaged files must not depend on the draw)."""
    return np.random.default_rng(n).bytes(n)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def _cifar_batch(path: Path, images: int, labels: list[int]) -> None:
    with open(path, "wb") as handle:
        pickle.dump({"data": np.zeros((images, 3072), np.uint8), "labels": labels}, handle)


def _cut(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _set_config(run: Path, **changes) -> None:
    values = json.loads((run / rundir.CONFIG).read_text())
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        values[section][key] = value
    (run / rundir.CONFIG).write_text(json.dumps(values))


def _report_of_random_bytes(s: Setting) -> list[str]:
    run = s.copy(s.finished, "report_run")
    (run / rundir.PROXY_CSV).write_bytes(_noise(300) + b"\xff\xfe")
    return ["report", str(run), "--out", str(s.runs)]


def _report_cut_mid_row(s: Setting) -> list[str]:
    run = s.copy(s.finished, "report_run")
    path = run / rundir.PROXY_CSV
    path.write_text(path.read_text().rstrip("\n").rsplit(",", 4)[0] + "\n")
    return ["report", str(run), "--out", str(s.runs)]


def _image_model_on_embeddings(s: Setting) -> list[str]:
    path = s.tmp / "embeddings.npz"
    np.savez(path, x=np.zeros((20, 8), dtype=np.float32), y=np.arange(20) % 2)
    return ["active", "--dataset", str(path), "--run-dir", str(s.runs), "--arch", "logistic", *SMALL]


def _jpeg_that_is_not(s: Setting) -> list[str]:
    from PIL import Image

    root = s.tmp / "images"
    for split, count in (("train", 3), ("val", 1)):
        for name, shade in (("cat", 40), ("dog", 200)):
            folder = root / "imagenet" / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (24, 24), (shade, shade, shade)).save(folder / f"{i}.JPEG")
    (root / "imagenet" / "train" / "dog" / "2.JPEG").write_bytes(b"this is not a JPEG")
    return ["train", "--datasets-dir", str(root), "--run-dir", str(s.runs), "--arch", "mlp", "--epochs", "1",
            "--learning-rate", "0.01", "--batch-size", "2", "--no-cuda", "--quiet"]


CASES = [
    # 1. non-finite and out-of-range numbers
    Case("learning-rate nan", lambda s: s.cifar("--learning-rate", "nan"), "--learning-rate nan is not a finite number"),
    Case("learning-rate inf", lambda s: s.cifar("--learning-rate", "inf"), "--learning-rate inf is not a finite number"),
    Case("proxy learning-rate nan", lambda s: s.cifar("--proxy-learning-rate", "nan"),
         "--proxy-learning-rate nan is not a finite number"),
    Case("momentum nan", lambda s: s.cifar("--momentum", "nan"), "--momentum nan is not a finite number"),
    Case("momentum negative", lambda s: s.cifar("--momentum", "-0.5"), "--momentum -0.5 is out of range ; give a "
         "number in [0, 1]"),
    Case("weight-decay inf", lambda s: s.cifar("--weight-decay", "inf"), "--weight-decay inf is not a finite number"),
    Case("weight-decay negative", lambda s: s.cifar("--weight-decay", "-1"), "--weight-decay -1.0 is out of range"),
    Case("label-smoothing nan", lambda s: s.cifar("--label-smoothing", "nan"), "--label-smoothing nan is not a finite"),
    Case("label-smoothing 1.5", lambda s: s.cifar("--label-smoothing", "1.5"),
         "--label-smoothing 1.5 is out of range ; give a number in [0, 1)"),
    Case("no epoch at all", lambda s: ["train", "--datasets-dir", str(s.cifar_dir), "--run-dir", str(s.runs),
                                       "--epochs", "0", "--learning-rate", "0.1", "--no-cuda"], "trains for no epoch"),
    Case("seed negative", lambda s: s.cifar("--seed", "-1"), "--seed -1 is out of range ; give an integer >= 0"),
    Case("validation negative", lambda s: s.cifar("--validation", "-3"), "--validation -3 is out of range"),
    Case("initial subset 0", lambda s: s.cifar("--initial-subset", "0"), "--initial-subset 0 is out of range"),
    Case("round negative", lambda s: s.cifar("--round", "-5"), "--round -5 is out of range"),
    Case("subset 0", lambda s: ["coreset", "--datasets-dir", str(s.cifar_dir), "--run-dir", str(s.runs), *LOGISTIC,
                                "--subset", "0"], "--subset 0 is out of range"),
    # 2. batch sizes
    Case("batch-size 0", lambda s: s.cifar("--batch-size", "0"), "--batch-size 0 is out of range ; give an integer >= 1"),
    Case("batch-size -5", lambda s: s.cifar("--batch-size", "-5"), "--batch-size -5 is out of range"),
    Case("eval-batch-size 0", lambda s: s.cifar("--eval-batch-size", "0"), "--eval-batch-size 0 is out of range"),
    Case("proxy batch-size 0", lambda s: s.cifar("--proxy-batch-size", "0"), "--proxy-batch-size 0 is out of range"),
    Case("imagenet batch-size -8", lambda s: ["train", "--datasets-dir", str(s.tmp), "--run-dir", str(s.runs),
                                              "--batch-size", "-8"], "--batch-size -8 is out of range",
         svp.imagenet.DOMAIN),
    # 3. dataset files are untrusted (the malicious pickle has its own test below)
    Case("cifar batch of random bytes", lambda s: s.cifar_damaged(
        lambda d: (d / "data_batch_2").write_bytes(_noise(2000))), "data_batch_2 is not a CIFAR batch"),
    # 4. resume trusts no file
    Case("resume: labeled index cut short", lambda s: s.resume(
        lambda r: rundir.save_index(rundir.labeled_index(r, "proxy", 80), range(60))),
        "labeled_80.index holds 60 indices, not the 80 its name and results say"),
    Case("resume: index out of range", lambda s: s.resume(
        lambda r: rundir.save_index(r / "initial_subset_50.index", range(360, 410))),
        "index 400 is out of range ; the training set has 400 examples"),
    Case("resume: checkpoint cut short", lambda s: s.resume(
        lambda r: (os.remove(r / rundir.SELECTION_CSV), _cut(r / "proxy/50" / rundir.BEST_CHECKPOINT))),
        "checkpoint_best_model.t7 cannot be loaded"),
    Case("resume: config.json is []", lambda s: s.resume(lambda r: (r / rundir.CONFIG).write_text("[]")),
         "holds list, not a saved config"),
    Case("resume: config.json of wrong types", lambda s: s.resume(lambda r: _set_config(r, target__batch_size="64")),
         "config.json is damaged: --batch-size '64' is not an integer"),
    Case("resume: config.json not JSON", lambda s: s.resume(lambda r: _cut(r / rundir.CONFIG)), "is not valid JSON"),
    Case("resume: proxy.csv damaged", lambda s: s.resume(
        lambda r: (r / rundir.PROXY_CSV).write_text("nexamples,test_accuracy\nfifty,0.1\n")), "proxy.csv is damaged"),
    # 5. replay refuses what does not fit
    Case("replay: another dataset", lambda s: ["active", "--dataset", "fashion-mnist", "--datasets-dir",
                                               str(s.fashion_dir), "--run-dir", str(s.runs), *LOGISTIC,
                                               "--precomputed-selection", str(s.finished)],
         "selected from cifar10, not fashion-mnist ; replay it with --dataset cifar10", GENERIC),
    Case("replay: empty index file", lambda s: s.cifar("--precomputed-selection", str(_file(s.tmp / "e.index", ""))),
         "e.index holds no indices"),
    Case("replay: comments only", lambda s: s.cifar("--precomputed-selection", str(_file(s.tmp / "c.index", "# 1\n"))),
         "c.index holds no indices"),
    Case("replay: target size the source lacks", lambda s: s.cifar("--precomputed-selection", str(s.finished),
                                                                   "--eval-target-at", "70"),
         "--eval-target-at 70 is not a labeled-set size of"),
    # 6. images and labels checked against each other
    Case("idx: 300 images, 250 labels", lambda s: s.fashion(
        lambda d: _write_idx(d / "train-labels-idx1-ubyte.gz", np.arange(250) % 10)),
        "300 examples but 250 labels", GENERIC),
    Case("idx: label not a class", lambda s: s.fashion(
        lambda d: _write_idx(d / "train-labels-idx1-ubyte.gz", np.full(300, 12))), "label 12 is not a class (0..9)",
         GENERIC),
    Case("idx: only some files", lambda s: s.fashion(lambda d: os.remove(d / "t10k-labels-idx1-ubyte.gz")),
         "holds only some of Fashion-MNIST's files (missing t10k-labels-idx1-ubyte)", GENERIC),
    Case("idx: corrupt gzip", lambda s: s.fashion(
        lambda d: (d / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b" + _noise(500))),
        "t10k-images-idx3-ubyte.gz cannot be read", GENERIC),
    Case("idx: gzip cut short", lambda s: s.fashion(lambda d: _cut(d / "train-images-idx3-ubyte.gz")),
         "train-images-idx3-ubyte.gz cannot be read", GENERIC),
    Case("cifar: 40 images, 20 labels", lambda s: s.cifar_damaged(
        lambda d: _cifar_batch(d / "data_batch_1", 40, [0] * 20)), "data_batch_1: 40 examples but 20 labels"),
    Case("cifar: label not a class", lambda s: s.cifar_damaged(
        lambda d: _cifar_batch(d / "data_batch_3", 3, [0, 10, 2])), "data_batch_3: label 10 is not a class (0..9)"),
    # 8. no silent fallbacks
    Case("device 7", lambda s: s.cifar("--device", "7", "--cuda"), "--device 7: this machine has"),
    Case("device with --no-cuda", lambda s: s.cifar("--device", "0"), "asks for a GPU but --no-cuda for the CPU"),
    Case("num-workers -1", lambda s: s.cifar("--num-workers", "-1"), "--num-workers -1 is out of range"),
    Case("eval-num-workers -2", lambda s: s.cifar("--eval-num-workers", "-2"), "--eval-num-workers -2 is out of range"),
    # 9. user faults, no tracebacks
    Case("weights file missing", lambda s: s.cifar("--weights", str(s.tmp / "nope.pt")), "nope.pt: no such file"),
    Case("proxy weights file missing", lambda s: s.cifar("--proxy-weights", str(s.tmp / "gone.pt")),
         "--proxy-weights"),
    Case("text model on images", lambda s: s.cifar("--arch", "vdcnn9-maxpool"),
         "--arch vdcnn9-maxpool takes texts but cifar10 holds images"),
    Case("image model on feature vectors", _image_model_on_embeddings,
         "embeddings.npz holds feature vectors ; choose an architecture that "
         "takes feature vectors: linear-head, mlp-head", GENERIC),
    Case("run-dir is a file", lambda s: s.cifar("--run-dir", str(_file(s.tmp / "afile", "x"))),
         "is a file, not a folder"),
    Case("report: random bytes", _report_of_random_bytes, "proxy.csv is not a results CSV"),
    Case("report: --out under a file", lambda s: ["report", str(s.finished), "--out",
                                                  str(_file(s.tmp / "taken", "x") / "out")], "--out"),
    # 11. no silent drops or replacements
    # the original's 7 columns, and steps
    Case("report: row cut short", _report_cut_mid_row, "proxy.csv:3: 5 fields where the header has 9"),
]


def _file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(cifar_dir, tmp_path_factory) -> Path:
    """A finished active run on the tiny CIFAR10: 50 then 80 labels."""
    root = tmp_path_factory.mktemp("finished")
    assert main(["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(root), *LOGISTIC, "--proxy-arch",
                 "mlp", *SMALL], domain=svp.cifar.DOMAIN) == 0
    return only_run(root)


@pytest.fixture
def setting(tmp_path, cifar_dir, fashion_dir, finished, monkeypatch) -> Setting:
    monkeypatch.delenv("SVP_DATA", raising=False)
    monkeypatch.setattr("svp.data.vision.DEBIAN_FASHION_MNIST", str(tmp_path / "no-debian-copy"))
    monkeypatch.setattr("svp.data.vision._try_download", lambda download, what: None)  # offline
    return Setting(tmp_path, cifar_dir, fashion_dir, finished)


def refused(capsys, argv: list[str], domain: Domain) -> str:
    """``main(argv)``'s error output, asserting it exited 2 without a traceback."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv, domain=domain)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert "Traceback" not in err
    assert err.startswith(f"{domain.prog}: error: ") and " ; " in err, err
    return err


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_input_exits_2_and_writes_nothing(case, setting, capsys):
    argv = case.argv(setting)
    watched = {p: _snapshot(p) for p in setting.tmp.iterdir() if p.is_dir()}
    err = refused(capsys, argv, case.domain)
    assert case.message in err
    assert not setting.runs.exists() or not any(setting.runs.iterdir())  # no run directory
    for folder, files in watched.items():  # no new or changed file in a run being resumed or reported
        assert _snapshot(folder) == files, folder


def test_at_least_forty_cases():
    assert len(CASES) >= 40


def test_a_non_image_named_jpeg_names_its_path(setting, capsys):
    # found while training (reading every image first would cost minutes on ImageNet): the run
    # directory stays, to be resumed once the file is replaced
    err = refused(capsys, _jpeg_that_is_not(setting), svp.imagenet.DOMAIN)
    assert "dog/2.JPEG is not an image Pillow can read" in err


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "No space left on device"),
                                         (errno.EROFS, "Read-only file system")])
def test_a_run_directory_that_cannot_be_written(setting, capsys, monkeypatch, code, words):
    def fail(path, save):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr("svp.rundir.atomic_save", fail)
    err = refused(capsys, setting.cifar(), svp.cifar.DOMAIN)
    assert f"cannot write {setting.runs}" in err and words in err
    assert not setting.runs.exists() or not any(setting.runs.iterdir())


def test_a_malicious_cifar_pickle_does_not_run(setting, capsys):
    marker = setting.tmp / "pwned"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    data = setting.copy(setting.cifar_dir, "evil")
    with open(data / "cifar-10-batches-py" / "data_batch_4", "wb") as handle:
        pickle.dump({"data": Payload(), "labels": []}, handle)
    err = refused(capsys, ["active", "--datasets-dir", str(data), "--run-dir", str(setting.runs), *LOGISTIC],
                  svp.cifar.DOMAIN)
    assert "data_batch_4 is not a CIFAR batch" in err and "posix.system" in err
    assert not marker.exists()


def test_review_csv_bytes_that_are_not_utf8(setting, capsys):
    base = setting.tmp / "reviews" / "amazon_review_polarity_csv"
    base.mkdir(parents=True)
    (base / "train.csv").write_bytes(b'"1","ok","fine"\n"2","caf\xe9","good"\n')
    (base / "test.csv").write_bytes(b'"1","meh","so-so"\n')
    import svp.amazon

    err = refused(capsys, ["train", "--datasets-dir", str(base.parent), "--run-dir", str(setting.runs),
                           "--epochs", "1", "--learning-rate", "0.01", "--no-cuda"], svp.amazon.DOMAIN)
    assert "train.csv:2: bytes that are not UTF-8" in err


def test_datasets_dir_wins_over_svp_data(setting, monkeypatch):
    from svp.config import DataConfig
    from svp.data import open_dataset

    elsewhere = setting.copy(setting.fashion_dir, "elsewhere")
    _write_idx(elsewhere / "t10k-labels-idx1-ubyte.gz", np.full(100, 7))  # tells the two copies apart
    monkeypatch.setenv("SVP_DATA", str(setting.fashion_dir))
    data = open_dataset(DataConfig(datasets_dir=str(elsewhere)))
    assert set(data.targets("test").tolist()) == {7}


def test_two_processes_cannot_work_in_one_run(setting, finished):
    run = setting.copy(finished, "busy")
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from svp.rundir import RunLock; "
                               f"lock = RunLock({str(run)!r}).acquire(); print('locked', flush=True); "
                               "sys.stdin.read(); lock.release()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = _snapshot(run)
        second = subprocess.run([sys.executable, "-m", "svp.cifar", "active", "--resume", str(run), "--no-cuda"],
                                capture_output=True, text=True, timeout=120, env=subprocess_env())
        assert second.returncode == 2
        assert f"{run} is in use by process {holder.pid}" in second.stderr
        assert _snapshot(run) == before  # it wrote nothing, not even its temporaries' cleanup
    finally:
        holder.communicate("", timeout=30)
    assert not (run / rundir.LOCK).exists()  # released (and removed) by its holder
