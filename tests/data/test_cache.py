"""The image cache of a folder: first runs at once, a full disk, damaged files, replaced images, 16-bit pixels and
symbolic link loops."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

from svp.config import DataConfig
from svp.data import open_dataset
from svp.errors import UsageError
from run_helpers import refused, subprocess_env

CLASSES = ("cat", "dog")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SVP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def write_folder(root: Path, per_class: int, size: int = 8, test: int = 0, seed: int = 0) -> dict[str, tuple]:
    """RGB PNGs of random pixels in ``root/train/<class>/`` (and ``test/``); each split's pixels (N, 3, H, W) and
    labels, in the order svp lists them."""
    rng = np.random.default_rng(seed)
    expected = {}
    for split, count in (("train", per_class), ("test", test)):
        images, labels = [], []
        for label, name in enumerate(CLASSES):
            for i in range(count):
                pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
                path = root / split / name / f"{i:04}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(path)
                images.append(pixels.transpose(2, 0, 1))
                labels.append(label)
        if count:
            expected[split] = (np.stack(images), np.asarray(labels))
    return expected


def assert_data(data, expected: dict[str, tuple]) -> None:
    for split, (images, labels) in expected.items():
        assert np.array_equal(data.inputs[split].numpy(), images), split
        assert data.targets(split).tolist() == labels.tolist(), split


def svp_command(root: Path, runs: Path, *extra: str) -> list[str]:
    return ["train", "--dataset", str(root), "--run-dir", str(runs), "--arch", "mlp", "--epochs", "1",
            "--learning-rate", "0.01", "--no-cuda", "--quiet", *extra]


# ---------------------------------------------------------------- first runs at once, and killed ones

OPEN_WHEN_TOLD = """
import hashlib, logging, sys, time
import numpy as np
from pathlib import Path
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
from svp.config import DataConfig
from svp.data.folders import open_folder
print("ready", flush=True)
while not Path(sys.argv[2]).exists():  # all three start opening at the same moment
    time.sleep(0.002)
data = open_folder(DataConfig(dataset=sys.argv[1], image_size=32))
print(hashlib.sha256(data.inputs["train"].numpy().tobytes() + np.asarray(data.targets("train")).tobytes()).hexdigest())
"""


def test_three_first_runs_at_once_make_one_cache(cache, tmp_path):
    root = tmp_path / "pets"
    expected = write_folder(root, per_class=150, size=32)
    go = tmp_path / "go"
    children = [subprocess.Popen([sys.executable, "-c", OPEN_WHEN_TOLD, str(root), str(go)], env=subprocess_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        assert [child.stdout.readline().strip() for child in children] == ["ready"] * 3
        with _held_lock(root, image_size=32):  # as a fourth process decoding the folder: all three meet it
            go.touch()
            time.sleep(1)
        results = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            if child.poll() is None:  # one that never got ready (or hangs) does not outlive the test
                child.kill()
                child.wait()
    assert [child.returncode for child in children] == [0, 0, 0], [err for _, err in results]
    assert len({out.strip() for out, _ in results}) == 1  # the same arrays in all three
    logs = [err for _, err in results]
    assert "".join(logs).count("INFO decoding 300 images") == 1  # one decoded; the others waited, then read it
    assert all(log.count("waiting for it") <= 1 for log in logs) and "waiting for it" in "".join(logs)
    (folder,) = cache.iterdir()  # no build folder, no lock file left
    assert_data(open_dataset(DataConfig(dataset=str(root), image_size=32, augmentation=False)), expected)
    assert list(cache.iterdir()) == [folder]


@contextlib.contextmanager
def _held_lock(root: Path, image_size: int) -> Iterator[None]:
    """Hold the lock of ``root``'s cache (a private name, spelled here to make the waiting certain)."""
    from svp.data import folders

    lock = Path(f"{folders.cache_dir(root, folders._fingerprint(root, folders._listing(root)[0], image_size))}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


DIE_DECODING = """
import os, signal, sys
import svp.data.image_cache as image_cache
from svp.config import DataConfig
image_cache.decode = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
from svp.data.folders import open_folder
open_folder(DataConfig(dataset=sys.argv[1]))
"""


def test_what_a_killed_first_run_leaves_is_removed_by_the_next(cache, tmp_path):
    root = tmp_path / "pets"
    expected = write_folder(root, per_class=3)
    child = subprocess.run([sys.executable, "-c", DIE_DECODING, str(root)], env=subprocess_env(), timeout=120)
    assert child.returncode == -signal.SIGKILL
    left = sorted(path.name.rpartition(".")[2].split("-")[0] for path in cache.iterdir())
    assert left == ["building", "lock"]  # its private build folder, and the lock file no process holds now
    assert_data(open_dataset(DataConfig(dataset=str(root), augmentation=False)), expected)
    (folder,) = cache.iterdir()
    assert (folder / "done.json").is_file()


# ---------------------------------------------------------------- a full disk

@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 1 MiB tmpfs (root may mount one; elsewhere the tests that need it are skipped)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True,
                                 text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"cannot mount a tmpfs here ({error})")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()})")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_cache_the_disk_cannot_hold_is_refused_before_anything_is_written(small_disk, tmp_path, capsys,
                                                                            monkeypatch):
    root, runs = tmp_path / "pets", tmp_path / "runs"
    write_folder(root, per_class=150, size=32)  # 300 x 3 x 64 x 64 bytes at --image-size 64: 3.7 MB
    monkeypatch.setenv("SVP_CACHE", str(small_disk))
    err = refused(capsys, svp_command(root, runs, "--image-size", "64"), watched=(root, small_disk, runs))
    assert f"the image cache of {root} needs 4.7 MB but {small_disk} ($SVP_CACHE) has 1.0 MB free ; free some " \
           "space, or point $SVP_CACHE at a larger disk" in err
    assert list(small_disk.iterdir()) == [] and not runs.exists()


LYING_DISK = """
import shutil, sys
real = shutil.disk_usage
shutil.disk_usage = lambda path: real(path)._replace(free=10 ** 12)  # room enough, it says
from svp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_disk_that_fills_while_the_cache_is_written_is_an_error_not_a_crash(small_disk, tmp_path):
    root, runs = tmp_path / "pets", tmp_path / "runs"
    write_folder(root, per_class=150, size=32)
    child = subprocess.run([sys.executable, "-c", LYING_DISK, *svp_command(root, runs, "--image-size", "64")],
                           env=subprocess_env(SVP_CACHE=str(small_disk)), capture_output=True, text=True, timeout=120)
    assert child.returncode == 2, (child.returncode, child.stderr)  # not SIGBUS (-7) from a mapped write
    message = child.stderr.strip().splitlines()[-1]
    assert message.startswith(f"svp: error: the image cache {small_disk} ($SVP_CACHE) filled up while decoding "
                              f"{root} (No space left on device) ; free some space, or point $SVP_CACHE at")
    assert "Traceback" not in child.stderr and "--run-dir" not in child.stderr
    assert list(small_disk.iterdir()) == [] and not runs.exists()


def test_a_large_image_size_is_refused_before_anything_is_allocated(cache, tmp_path, capsys, monkeypatch):
    root, runs = tmp_path / "pets", tmp_path / "runs"
    write_folder(root, per_class=12)  # 24 x 3 x 4096 x 4096 bytes: 1.2 GB
    cache.mkdir()
    usage = shutil.disk_usage(tmp_path)._replace(free=10 ** 9)
    monkeypatch.setattr("shutil.disk_usage", lambda path: usage)
    err = refused(capsys, svp_command(root, runs, "--image-size", "4096"), watched=(root, runs, cache))
    assert f"needs 1.2 GB but {cache} ($SVP_CACHE) has 1.0 GB free ; free some space" in err
    assert not runs.exists() and not any(cache.iterdir())


def test_an_image_size_whose_images_do_not_fit_in_memory_is_refused(cache, tmp_path, monkeypatch):
    root = tmp_path / "pets"
    write_folder(root, per_class=1)
    monkeypatch.setattr("svp.data.image_cache._memory_available", lambda: 10 ** 8)
    with pytest.raises(UsageError, match=r"decoding one image of .*pets at 4096x4096 takes 134.2 MB of memory, and "
                                         r"100.0 MB is available ; give a smaller --image-size"):
        open_dataset(DataConfig(dataset=str(root), image_size=4096))
    assert not any(cache.iterdir())  # nothing allocated, the lock file gone


# ---------------------------------------------------------------- damaged caches

def _record(folder: Path, name: str) -> None:
    """Make done.json's record of ``name`` match the file as it is now (a damage only other checks can find)."""
    done = json.loads((folder / "done.json").read_text())
    content = (folder / name).read_bytes()
    done["files"][name].update(size=len(content), blake2b=hashlib.blake2b(content).hexdigest())
    if name.endswith("test.npy"):
        done["files"][name]["shape"] = list(np.load(folder / name, mmap_mode="r").shape)
    (folder / "done.json").write_text(json.dumps(done))


def _edit_done(folder: Path, edit) -> None:
    done = json.loads((folder / "done.json").read_text())
    edit(done)
    (folder / "done.json").write_text(json.dumps(done))


def _cut(folder: Path) -> None:
    with open(folder / "train.npy", "r+b") as handle:
        handle.truncate(handle.seek(0, 2) // 2)


def _flip_last_byte(folder: Path) -> None:
    with open(folder / "train.npy", "r+b") as handle:
        handle.seek(-1, 2)
        last = handle.read(1)[0]
        handle.seek(-1, 2)
        handle.write(bytes([last ^ 0xFF]))


def _other_labels(folder: Path) -> None:
    np.save(folder / "train-labels.npy", np.load(folder / "train-labels.npy")[::-1].copy())
    _record(folder, "train-labels.npy")


def _fewer_test_images(folder: Path) -> None:
    np.save(folder / "test.npy", np.load(folder / "test.npy")[:-1])
    _record(folder, "test.npy")


DAMAGES = {
    "a cut .npy": (_cut, "train.npy has"),
    "random bytes": (lambda f: (f / "train.npy").write_bytes(os.urandom((f / "train.npy").stat().st_size)),
                     "train.npy is not a .npy file"),
    "the right size, other bytes": (_flip_last_byte, "train.npy differs from what was written"),
    "other labels, recorded": (_other_labels, "train-labels.npy holds other labels"),
    "fewer images, recorded": (_fewer_test_images, "test.npy holds an array of shape (3, 3, 8, 8)"),
    "a missing file": (lambda f: (f / "test-digests.npy").unlink(), "test-digests.npy is missing"),
    "a missing field": (lambda f: _edit_done(f, lambda d: d.pop("std")), "done.json has no 'std'"),
    "a missing file record": (lambda f: _edit_done(f, lambda d: d["files"]["train.npy"].pop("blake2b")),
                              "done.json has no complete record of train.npy"),
    "done.json not JSON": (lambda f: (f / "done.json").write_text('{"format": 3, "spl'), "done.json is not JSON"),
    "no done.json": (lambda f: (f / "done.json").unlink(), "done.json is missing"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_cache_is_told_and_rebuilt(cache, tmp_path, caplog, monkeypatch, damage):
    root = tmp_path / "pets"
    expected = write_folder(root, per_class=3, test=2)
    config = DataConfig(dataset=str(root), augmentation=False)
    open_dataset(config)
    (folder,) = cache.iterdir()
    make, words = DAMAGES[damage]
    make(folder)
    with caplog.at_level(logging.WARNING, logger="svp.data.image_cache"):
        assert_data(open_dataset(config), expected)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"the image cache {folder} is damaged: {words}" in warnings[0], warnings
    assert list(cache.iterdir()) == [folder]  # rebuilt in its place, nothing else left

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr("svp.data.image_cache.decode", no_decoding)
    caplog.clear()
    assert_data(open_dataset(config), expected)  # the rebuilt cache is whole
    assert not caplog.records


# ---------------------------------------------------------------- what the fingerprint sees

def _rewrite_in_place(path: Path, content: bytes) -> None:
    path.write_bytes(content)  # the same inode: only its change time tells


def _replace_by_rename(path: Path, content: bytes) -> None:
    other = path.with_name("incoming.tmp")  # how rsync writes: a new file (a new inode) moved over the old
    other.write_bytes(content)
    os.replace(other, path)


@pytest.mark.parametrize("replace", [_rewrite_in_place, _replace_by_rename])
def test_a_file_replaced_with_its_size_and_time_kept_is_decoded_again(cache, tmp_path, replace):
    root = tmp_path / "pets"
    for label, name in enumerate(CLASSES):
        (root / "train" / name).mkdir(parents=True)
        Image.new("RGB", (8, 8), (10 + label, 20, 30)).save(root / "train" / name / "a.bmp")
    config = DataConfig(dataset=str(root), augmentation=False)
    assert open_dataset(config).inputs["train"][0, 0].unique().tolist() == [10]
    path = root / "train" / "cat" / "a.bmp"
    before = path.stat()
    new = root / "new.bmp"
    Image.new("RGB", (8, 8), (200, 20, 30)).save(new)
    replace(path, new.read_bytes())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as cp -p, rsync -t or a restore leave it
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert open_dataset(config).inputs["train"][0, 0].unique().tolist() == [200]


# ---------------------------------------------------------------- pixels

def _save(path: Path, image: Image.Image) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def test_16_bit_greyscale_is_scaled_to_8_bits(cache, tmp_path):
    root = tmp_path / "scans"
    values = np.array([[0, 128, 129, 32896, 65535]], dtype=np.uint16)
    png = _save(root / "train" / "cat" / "a.png", Image.fromarray(values))  # a 16-bit PNG
    tiff = _save(root / "train" / "dog" / "a.tif", Image.fromarray(values.astype(np.int32)))  # 32-bit, 16 used
    _save(root / "train" / "dog" / "b.png", Image.fromarray(np.array([[3, 77, 200, 254, 255]], np.uint8)))
    assert [Image.open(path).mode for path in (png, tiff)] == ["I;16", "I"]
    data = open_dataset(DataConfig(dataset=str(root), augmentation=False))
    assert data.inputs["train"].shape == (3, 1, 1, 5)
    assert data.inputs["train"][:, 0, 0].tolist() == [[0, 0, 1, 128, 255], [0, 0, 1, 128, 255],
                                                      [3, 77, 200, 254, 255]]  # v / 257, rounded; 8 bits kept


@pytest.mark.parametrize("pixels, words", [
    (np.array([[0.0, 0.5, 1.0]], dtype=np.float32), "holds floating-point pixels ; save it as an 8- or 16-bit"),
    (np.array([[0, 70000, 5]], dtype=np.int32), "holds values from 0 to 70000, beyond 16 bits ; save it as an 8-"),
])
def test_images_beyond_16_bits_are_refused(cache, tmp_path, pixels, words):
    root = tmp_path / "scans"
    _save(root / "train" / "cat" / "a.tif", Image.fromarray(pixels))
    _save(root / "train" / "dog" / "a.tif", Image.fromarray(np.zeros((1, 3), np.uint8)))
    with pytest.raises(UsageError, match=f"cat/a.tif {words}"):
        open_dataset(DataConfig(dataset=str(root)))
    assert not cache.exists() or not any(cache.iterdir())  # no half-built cache, no lock left


# ---------------------------------------------------------------- symbolic links

def test_a_symbolic_link_loop_is_refused(cache, tmp_path, capsys):
    root, runs = tmp_path / "pets", tmp_path / "runs"
    write_folder(root, per_class=2)
    os.symlink("..", root / "train" / "cat" / "loop")
    err = refused(capsys, svp_command(root, runs), watched=(root, runs, cache))
    assert f"{root}/train/cat/loop leads back to a folder already listed ({root}/train/cat): a symbolic link " \
           "loop, or a second link to one folder ; remove the link" in err


def test_a_link_to_another_folder_of_images_is_followed(cache, tmp_path):
    root = tmp_path / "pets"
    expected = write_folder(root, per_class=2)
    more = write_folder(tmp_path / "more", per_class=1, seed=1)
    os.symlink(tmp_path / "more" / "train" / "dog", root / "train" / "dog" / "more")
    data = open_dataset(DataConfig(dataset=str(root), augmentation=False))
    images, labels = expected["train"]
    assert data.targets("train").tolist() == [0, 0, 1, 1, 1]
    assert np.array_equal(data.inputs["train"].numpy(), np.concatenate([images, more["train"][0][1:]]))



def test_the_cache_of_the_folder_as_it_was_is_removed_and_another_folders_kept(cache, tmp_path):
    root, other = tmp_path / "a" / "pets", tmp_path / "b" / "pets"  # two folders of one name
    write_folder(root, per_class=3)
    write_folder(other, per_class=2, seed=1)
    from svp.data.folders import open_folder

    open_folder(DataConfig(dataset=str(other)))
    open_folder(DataConfig(dataset=str(root)))
    before = set(cache.iterdir())
    from PIL import Image

    Image.new("RGB", (8, 8)).save(root / "train" / "cat" / "new.png")  # a file added: a new cache
    open_folder(DataConfig(dataset=str(root)))
    after = set(cache.iterdir())
    assert len(before) == len(after) == 2  # root's old cache gone, the other folder's kept
    assert len(before & after) == 1
