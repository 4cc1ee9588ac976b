"""Files of saved tensors: read as tensors only, and a published file hashed once per process per file state."""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
import torch

import svp.models.resnet as resnet
import svp.models.weights as weights
from svp.errors import UsageError


def counting_hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files hashed from now on, by :func:`svp.models.weights.file_sha256`."""
    hashed: list[Path] = []
    real = weights.file_sha256

    def counted(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(weights, "file_sha256", counted)
    return hashed


def published_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: dict) -> Path:
    """``state`` saved in a torch cache of its own under a published name carrying its hash's first digits."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(state, checkpoints / "weights.pth")
    digest = hashlib.sha256((checkpoints / "weights.pth").read_bytes()).hexdigest()
    named = (checkpoints / "weights.pth").rename(checkpoints / f"resnet18-{digest[:8]}.pth")
    monkeypatch.setattr(resnet, "published_url", lambda depth: f"https://download.pytorch.org/models/{named.name}")
    return named


def test_a_published_file_is_hashed_once_while_it_is_unchanged(tmp_path, monkeypatch):
    state = {"conv1.weight": torch.arange(6.0)}
    named = published_file(tmp_path, monkeypatch, state)
    hashed = counting_hashes(monkeypatch)
    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: loads.append(kwargs) or real_load(*args, **kwargs))
    for _ in range(3):  # once in check, then once per training
        assert torch.equal(resnet.published_weights(18)["conv1.weight"], state["conv1.weight"])
    assert hashed == [named]
    assert [kwargs["weights_only"] for kwargs in loads] == [True] * 3  # still read as tensors only, each time


def test_a_published_file_changed_in_place_is_hashed_again(tmp_path, monkeypatch):
    named = published_file(tmp_path, monkeypatch, {"conv1.weight": torch.zeros(6)})
    hashed = counting_hashes(monkeypatch)
    resnet.published_weights(18)
    stat = named.stat()
    time.sleep(0.05)  # file times tick with the kernel's clock (a few ms): the change gets another ctime
    with open(named, "r+b") as handle:  # same size, same inode, same modification time: only the bytes differ
        handle.seek(-1, os.SEEK_END)
        last = handle.read(1)
        handle.seek(-1, os.SEEK_END)
        handle.write(bytes([last[0] ^ 1]))
    os.utime(named, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(UsageError, match=r"^--proxy-pretrained: .* is not torchvision's published file \(its "
                                         r"SHA-256 starts [0-9a-f]{8}, not [0-9a-f]{8} as its name says\) ; delete"):
        resnet.published_weights(18, option="--proxy-pretrained")
    assert hashed == [named, named]
    with pytest.raises(UsageError, match="SHA-256 starts"):  # a file that failed is not remembered
        resnet.published_weights(18)
    assert len(hashed) == 3


def test_a_hash_that_matches_is_remembered_per_file_state(tmp_path, monkeypatch):
    path = tmp_path / "w.bin"
    path.write_bytes(b"first")
    digest = hashlib.sha256(b"first").hexdigest()
    hashed = counting_hashes(monkeypatch)
    assert weights.sha256_mismatch(path, digest[:8]) is None
    assert weights.sha256_mismatch(path, digest[:8]) is None
    assert len(hashed) == 1
    path.write_bytes(b"other")  # rewritten: another size, other times
    assert weights.sha256_mismatch(path, digest[:8]) == hashlib.sha256(b"other").hexdigest()[:8]
    assert len(hashed) == 2


def test_a_checkpoint_is_unwrapped_only_when_asked(tmp_path):
    path = tmp_path / "checkpoint.t7"
    torch.save({"epoch": 3, "model": {"w": torch.ones(2)}}, path)
    assert torch.equal(weights.load_tensors(path, "ckpt", checkpoint=True)["w"], torch.ones(2))
    with pytest.raises(weights.UnreadableTensors, match=r"^ckpt cannot be read as saved weights \(it is not a "
                                                        r"state dict of tensors: epoch holds int, model holds dict\)"):
        weights.load_tensors(path, "ckpt")
