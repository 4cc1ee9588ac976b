"""The decoded image cache of a folder of one's own: decoded once, whole or absent, checked at every open.

A folder's images (see :mod:`svp.data.folders`) are decoded once into a
cache folder under ``$SVP_CACHE`` (default ``~/.cache/svp``) named by a
fingerprint of the folder's files: per split a uint8 ``<split>.npy``
(N, C, H, W), memory-mapped when read, its labels and the digest of each
file's bytes (the examples' identity, see :mod:`svp.data.identity`), read
as :mod:`svp.data.images` reads them.

What a cache guarantees:

* **Whole or absent.** A process decodes into a private folder
  (``<cache>.building-*``) and publishes it with one rename. Processes that
  open a new folder at once take turns on ``<cache>.lock`` (``flock``, which
  the kernel drops when its process dies, even by SIGKILL): one decodes, the
  others wait and then read its cache. The private folders that killed
  processes left are removed by the next process that builds.
* **Room first.** The space a cache needs is checked before anything is
  written, and reserved (``posix_fallocate``) before the images are mapped:
  a full disk is an error naming ``$SVP_CACHE``, never a process killed by
  SIGBUS halfway.
* **Checked at every open.** ``done.json``, written last, records the size,
  checksum (BLAKE2b), shape, dtype and file-system times of every file. Each
  open checks sizes, headers and labels (the folder's own); a file whose
  times differ from the record (something wrote to it) is checksummed too.
  A cache that differs in any way is reported, removed and decoded again,
  never read.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import torch

from svp.data.identity import DIGEST_SIZE
from svp.data.images import common_shape, decode
from svp.data.sources import channel_stats
from svp.errors import UsageError

log = logging.getLogger(__name__)

DONE = "done.json"  # written last into a cache folder: its splits, the training images' statistics, its files
CACHE_ENV = "SVP_CACHE"  # where decoded folders are kept (default: ~/.cache/svp)
CACHE_FORMAT = 4  # part of every cache's name: a cache of another layout is never read
DIGESTS = f"S{2 * DIGEST_SIZE}"  # dtype of a split's file digests (hex)
SPACE_MARGIN = 1 << 20  # bytes a cache needs beyond its arrays: .npy headers, done.json, the filesystem's own
FULL = (errno.ENOSPC, errno.EDQUOT)
UNWRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST)
CHUNK = 1 << 20  # bytes read at a time to checksum a file
# a private build folder: the cache's name (``<root>-<fingerprint>``), ".building", mkdtemp's 8 random characters
# (none: svp before private build folders)
LEFTOVER = re.compile(r"(.+-[0-9a-f]{20})\.building(-[a-z0-9_]{8})?")

Listing = list[tuple[str, os.stat_result]]  # (path, its stat), sorted by path
Splits = dict[str, tuple[Listing, list[int]]]  # split -> its files and their labels (-1: not labeled yet)


def cache_base() -> Path:
    """The folder all caches live in: ``$SVP_CACHE``, else ``~/.cache/svp``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "svp")


def cache_dir(root: Path, fingerprint: str) -> Path:
    return cache_base() / f"{root.name}-{fingerprint}"


def _names(split: str) -> tuple[str, str, str]:
    """The files of one split in a cache: its images, labels and file digests."""
    return f"{split}.npy", f"{split}-labels.npy", f"{split}-digests.npy"


def _reserved_memmap(path: Path, shape: tuple[int, ...]) -> np.memmap:
    """A new uint8 ``.npy`` of ``shape``, its blocks reserved on the disk, memory-mapped for writing.

    A write into a mapped page the disk cannot back kills the process with SIGBUS (no message, nothing to
    catch); ``posix_fallocate`` makes the disk say no first, as an OSError.
    """
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "|u1", "fortran_order": False, "shape": shape})
        size = handle.tell() + math.prod(shape)
        handle.flush()
        if hasattr(os, "posix_fallocate"):  # not on macOS: the space check stands alone there
            try:
                os.posix_fallocate(handle.fileno(), 0, size)
            except OSError as error:
                if error.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):  # a filesystem that can't
                    raise
    return np.lib.format.open_memmap(path, mode="r+")


def _fill(root: Path, building: Path, splits: dict, shape: tuple[int, int, int], labeled: int) -> dict:
    """Decode every split into the folder ``building``; return what its ``done.json`` (written last) says.

    The normalisation statistics are those of the ``labeled`` first training images (of all of them when
    none is labeled yet).
    """
    for split, (files, labels) in splits.items():
        images_name, labels_name, digests_name = _names(split)
        images = _reserved_memmap(building / images_name, (len(files), *shape))
        digests = decode([path for path, _ in files], shape, images, desc=f"decoding {split}")
        if split == "train":
            stats = channel_stats(torch.from_numpy(np.asarray(images[:labeled or len(files)])))
        images.flush()
        del images
        np.save(building / labels_name, np.asarray(labels, dtype=np.int64))
        np.save(building / digests_name, np.asarray(digests, dtype=DIGESTS))
    files = {name: _describe(building / name) for split in splits for name in _names(split)}
    saved = {"format": CACHE_FORMAT, "root": str(root.resolve()), "splits": list(splits), "mean": stats[0],
             "std": stats[1], "files": files}
    (building / DONE).write_text(json.dumps(saved, indent=1))
    return saved


# ------------------------------------------------ checking a cache


class _Damaged(Exception):
    """A cache folder that cannot be used as it is: ``<file> <what is wrong>``."""


def _header(path: Path) -> tuple[list[int], str, int]:
    """The shape and dtype a ``.npy`` file's header announces, and the file size they make; ValueError if it has
    no such header."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(handle)
        if fortran or dtype.hasobject:
            raise ValueError("not a C-ordered array of plain values")
        return list(shape), dtype.str, handle.tell() + math.prod(shape) * dtype.itemsize


def _checksum(path: Path) -> str:
    """BLAKE2b of a file's bytes, read a chunk at a time (a cache may be far larger than memory)."""
    hasher, buffer = hashlib.blake2b(), bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            hasher.update(view[:count])
    return hasher.hexdigest()


def _times(path: Path) -> list[int]:
    """When a file was last written and changed, and its inode: they change when anything writes to it."""
    stat = path.stat()
    return [stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def _describe(path: Path) -> dict:
    """What ``done.json`` records of a cache file, so that any other file in its place is found out."""
    shape, dtype, _ = _header(path)
    return {"size": path.stat().st_size, "blake2b": _checksum(path), "shape": shape, "dtype": dtype,
            "times": _times(path)}


def _check_done(saved: object, splits: dict) -> dict[str, dict]:
    """``done.json``'s record of each file, once it holds every field this version writes; raises _Damaged."""
    if not isinstance(saved, dict):
        raise _Damaged(f"{DONE} is not a JSON object")
    for key, kind in (("format", int), ("splits", list), ("mean", list), ("std", list), ("files", dict)):
        if not isinstance(saved.get(key), kind):
            raise _Damaged(f"{DONE} has no {key!r}" if key not in saved
                           else f"{DONE}: {key!r} is not a {kind.__name__}")
    if saved["format"] != CACHE_FORMAT or saved["splits"] != list(splits):
        raise _Damaged(f"{DONE} describes another cache (format {saved['format']}, splits {saved['splits']})")
    for name in (name for split in splits for name in _names(split)):
        entry = saved["files"].get(name)
        fields = (("size", int), ("blake2b", str), ("shape", list), ("dtype", str), ("times", list))
        if not isinstance(entry, dict) or not all(isinstance(entry.get(key), kind) for key, kind in fields):
            raise _Damaged(f"{DONE} has no complete record of {name} (size, blake2b, shape, dtype, times)")
    return saved["files"]


def _check_file(folder: Path, name: str, entry: dict, dtype: str) -> list[int]:
    """The shape of the cache file ``name`` once its size, header and checksum are those ``entry`` records, and
    its dtype is ``dtype``; raises _Damaged otherwise."""
    path = folder / name
    try:
        size = path.stat().st_size
        if size != entry["size"]:  # before anything is read: a cut file is told at once
            raise _Damaged(f"{name} has {size} bytes, {DONE} says {entry['size']}")
        shape, found, expected_size = _header(path)
        if [shape, found, expected_size] != [entry["shape"], dtype, size]:
            raise _Damaged(f"{name} holds {found} {tuple(shape)} in {size} bytes, {DONE} says {entry['dtype']} "
                           f"{tuple(entry['shape'])} (and {dtype} is expected)")
        # a file nothing wrote to since is the one checksummed then: reading every byte of a large cache at
        # every open would cost seconds a gigabyte
        if _times(path) != entry.get("times") and _checksum(path) != entry["blake2b"]:
            raise _Damaged(f"{name} differs from what was written (its checksum is not the one {DONE} records)")
    except FileNotFoundError:
        raise _Damaged(f"{name} is missing") from None
    except (OSError, ValueError, TypeError, SyntaxError) as error:  # a header that is not one
        raise _Damaged(f"{name} is not a .npy file ({error})") from None
    return shape


def _check_split(folder: Path, split: str, files: dict, labels: list[int]) -> list[int]:
    """The shape of one split's images, once its three files check out and its labels are the folder's."""
    images, labels_name, digests = _names(split)
    shape = _check_file(folder, images, files[images], np.dtype(np.uint8).str)
    if len(shape) != 4 or shape[0] != len(labels):
        raise _Damaged(f"{images} holds an array of shape {tuple(shape)}, not the folder's {len(labels)} images")
    for name, dtype in ((labels_name, np.dtype(np.int64).str), (digests, np.dtype(DIGESTS).str)):
        if _check_file(folder, name, files[name], dtype) != [len(labels)]:
            raise _Damaged(f"{name} does not hold one value per image ({len(labels)})")
    if not np.array_equal(np.load(folder / labels_name), np.asarray(labels, dtype=np.int64)):
        raise _Damaged(f"{labels_name} holds other labels than the folder's class folders give")
    return shape


def _read_cache(folder: Path, splits: dict, image_size: Optional[int]) -> Optional[dict]:
    """``done.json`` of the cache ``folder`` once every file of it checks out; None where there is no cache.

    Raises _Damaged naming the first thing amiss: a cache is decoded again, never trusted.
    """
    if not os.path.lexists(folder):
        return None
    try:
        saved = json.loads((folder / DONE).read_bytes())
    except FileNotFoundError:
        raise _Damaged(f"{DONE} is missing") from None
    except (OSError, ValueError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _Damaged(f"{DONE} is not JSON ({error})") from None
    files = _check_done(saved, splits)
    shapes = {tuple(_check_split(folder, split, files, labels)[1:]) for split, (_, labels) in splits.items()}
    (channels, height, width), *others = shapes
    if others or (image_size is not None and (height, width) != (image_size, image_size)):
        raise _Damaged(f"its splits hold images of shapes {sorted(shapes)}, not one shape of --image-size "
                       f"{image_size}")
    for key in ("mean", "std"):
        values = saved[key]
        if len(values) != channels or not all(isinstance(v, (int, float)) and math.isfinite(v) and
                                              (v > 0 or key == "mean") for v in values):
            raise _Damaged(f"{DONE}: {key!r} is not {channels} numbers{' above 0' if key == 'std' else ''}")
    return saved


# -------------------------------------------------- making a cache


def _lock(path: Path, block: bool, waiting_for: str = "") -> Optional[int]:
    """A descriptor holding ``path``'s flock; without ``block``, None while another process holds it.

    The holder removes the file as it lets it go (:func:`_unlock`), so a lock taken on a file that is gone by
    then is taken again on the new one.
    """
    told = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not block:
                    os.close(fd)
                    return None
                if not told:
                    log.info("another svp process is decoding into %s: waiting for it", waiting_for)
                    told = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        except BaseException:  # Ctrl-C while waiting among them
            os.close(fd)
            raise
        os.close(fd)


def _unlock(path: Path, fd: int) -> None:
    path.unlink(missing_ok=True)  # first, so that no one locks the file that is going away
    os.close(fd)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold ``<cache>.lock`` while making the cache ``folder``: the processes that open one new image folder at
    once take turns, and those that come second find the first one's cache instead of decoding again."""
    path = folder.with_name(folder.name + ".lock")
    fd = _lock(path, block=True, waiting_for=str(folder))
    try:
        yield
    finally:
        _unlock(path, fd)


def _remove_leftovers(base: Path, own: str) -> None:
    """Remove the private build folders of processes that died building (their cache's lock is free).

    ``own`` is the cache whose lock this process holds; the leftovers of another go only while its lock is
    held here, so that the folder of a live builder is never touched.
    """
    leftovers: dict[str, list[Path]] = {}
    for path in base.glob("*.building*"):
        match = LEFTOVER.fullmatch(path.name)
        if match:  # not a cache whose folder's name only has ".building" in it
            leftovers.setdefault(match[1], []).append(path)
    for name, paths in leftovers.items():
        lock = base / f"{name}.lock"
        fd = None if name == own else _lock(lock, block=False)
        if name != own and fd is None:
            continue  # being built now
        for path in paths:
            log.info("removing %s, left by a process that was stopped while decoding", path)
            shutil.rmtree(path, ignore_errors=True)
        if fd is not None:
            _unlock(lock, fd)


def _discard(folder: Path) -> None:
    """Remove the cache ``folder``: moved aside first (one rename), so no process sees it half removed."""
    if not folder.is_dir() or folder.is_symlink():
        folder.unlink()
        return
    aside = tempfile.mkdtemp(dir=folder.parent, prefix=folder.name + ".building-")
    os.replace(folder, aside)
    shutil.rmtree(aside, ignore_errors=True)


def _size(count: float) -> str:
    """A number of bytes as people read it (decimal units, as ``df -H``)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if count < 1000:
            break
        count /= 1000
    else:
        unit = "PB"
    return f"{count:.0f} bytes" if unit == "bytes" else f"{count:.1f} {unit}"


def _no_room(what: str) -> UsageError:
    return UsageError(f"{what} ; free some space, or point ${CACHE_ENV} at a larger disk")


def _memory_available() -> Optional[int]:
    """Bytes of memory the machine can still give (Linux's MemAvailable); None where unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _check_room(root: Path, base: Path, splits: dict, shape: tuple[int, int, int]) -> None:
    """Refuse to start a cache the disk cannot hold, or whose images one at a time do not fit in memory (an
    absurd --image-size), before anything is allocated: a full disk found halfway wastes the decoding, and a
    process out of memory is killed without a word."""
    channels, height, width = shape
    per_image = channels * height * width + 8 + 2 * DIGEST_SIZE  # pixels, label, digest
    needed = SPACE_MARGIN + per_image * sum(len(files) for files, _ in splits.values())
    free = shutil.disk_usage(base).free
    if needed > free:
        raise _no_room(f"the image cache of {root} needs {_size(needed)} but {base} (${CACHE_ENV}) has "
                       f"{_size(free)} free")
    memory, available = 8 * height * width, _memory_available()  # Pillow's image (4 bytes a pixel) and its copy
    if available is not None and memory > available:
        raise UsageError(f"decoding one image of {root} at {width}x{height} takes {_size(memory)} of memory, and "
                         f"{_size(available)} is available ; give a smaller --image-size")


@contextlib.contextmanager
def _cache_errors(root: Path, base: Path) -> Iterator[None]:
    """Make the OSErrors of a cache that cannot be written (a full disk, no permission) UsageErrors naming
    ``$SVP_CACHE``: the CLI's own message for them is about the run directory."""
    try:
        yield
    except OSError as error:
        if error.errno in FULL:
            raise _no_room(f"the image cache {base} (${CACHE_ENV}) filled up while decoding {root} "
                           f"({error.strerror})") from None
        if error.errno in UNWRITABLE:
            raise UsageError(f"cannot write the image cache {base} (${CACHE_ENV}): {error.strerror} "
                             f"({error.filename}) ; point ${CACHE_ENV} at a folder you can write to") from None
        raise


def _publish(building: Path, folder: Path, splits: dict, image_size: Optional[int]) -> Optional[dict]:
    """Move the finished ``building`` to ``folder`` (None), or, where another process got there first, remove it
    and return the other's ``done.json``."""
    try:
        os.rename(building, folder)  # the cache appears whole, or not at all
        return None
    except OSError as error:
        if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
    # a process that did not take the lock (another svp version, a filesystem without flock) won: same images
    shutil.rmtree(building, ignore_errors=True)
    try:
        return _read_cache(folder, splits, image_size)
    except _Damaged as damage:
        raise UsageError(f"the image cache {folder} changed while svp wrote it, and is damaged now ({damage}) ; "
                         f"is another program writing into ${CACHE_ENV}? Run svp again") from None


def _write_cache(root: Path, folder: Path, splits: dict, image_size: Optional[int], labeled: int) -> dict:
    """Decode every split into a private folder, publish it as ``folder``, and return its ``done.json``."""
    shape = common_shape([path for files, _ in splits.values() for path, _ in files], image_size)
    _check_room(root, folder.parent, splits, shape)
    log.info("decoding %d images of %s into %s (once)", sum(len(f) for f, _ in splits.values()), root, folder)
    building = Path(tempfile.mkdtemp(dir=folder.parent, prefix=folder.name + ".building-"))
    try:
        saved = _fill(root, building, splits, shape, labeled)
        return _publish(building, folder, splits, image_size) or saved
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _make_cache(root: Path, folder: Path, splits: dict, image_size: Optional[int], labeled: int) -> dict:
    """The ``done.json`` of the cache ``folder``, made now unless another process made it while this one waited.

    A damaged cache is reported and removed here, under the lock, where no other process is at it.
    """
    base = folder.parent
    with _cache_errors(root, base):
        base.mkdir(parents=True, exist_ok=True)
        with _locked(folder):
            try:
                saved = _read_cache(folder, splits, image_size)
                if saved is not None:
                    return saved  # the process this one waited for made it
            except _Damaged as damage:
                log.warning("the image cache %s is damaged: %s ; removing it and decoding %s again", folder,
                            damage, root)
                _discard(folder)
            _remove_leftovers(base, folder.name)
            saved = _write_cache(root, folder, splits, image_size, labeled)
        _remove_older(root, folder)
        return saved


def _remove_older(root: Path, folder: Path) -> None:
    """Remove the caches of ``root`` as it was before (a file added or moved makes a new one): each is a copy of
    the decoded folder that no listing names any more. One being made (its lock held) is left alone."""
    mine = str(root.resolve())
    for other in folder.parent.glob(f"{glob.escape(root.name)}-*"):
        if other == folder or not re.fullmatch(re.escape(root.name) + r"-[0-9a-f]{20}", other.name):
            continue
        try:
            if json.loads((other / DONE).read_bytes()).get("root") != mine:
                continue  # another folder of the same name
        except (OSError, ValueError, AttributeError):
            continue  # not a finished cache of ours to judge
        lock = other.with_name(other.name + ".lock")
        fd = _lock(lock, block=False)
        if fd is None:
            continue
        try:
            log.info("removing %s, the cache of %s as it was before", other, root)
            _discard(other)
        finally:
            _unlock(lock, fd)


def open_cache(root: Path, folder: Path, splits: Splits, image_size: Optional[int], labeled: int) -> dict:
    """The ``done.json`` of the cache ``folder`` of the image folder ``root``, checked (made now if it is missing
    or damaged). The statistics it holds are those of the ``labeled`` first training images."""
    try:
        saved = _read_cache(folder, splits, image_size)
    except _Damaged:
        saved = None  # told and mended under the lock, which one process holds at a time
    return saved if saved is not None else _make_cache(root, folder, splits, image_size, labeled)


def cached_split(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One split's images (memory-mapped copy-on-write: pages come from the page cache as batches touch them,
    no copy first) and labels."""
    images, labels, _ = _names(split)
    return torch.from_numpy(np.load(folder / images, mmap_mode="c")), torch.from_numpy(np.load(folder / labels))


def cached_digests(folder: Path) -> list[str]:
    """The digest of each training file's bytes, as decoded."""
    return np.load(folder / _names("train")[2]).astype(str).tolist()
