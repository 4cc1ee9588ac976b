"""Files of saved tensors (``torch.save``), read without running their code, and checked once against a hash.

Every torch file svp reads comes through :func:`load_tensors`: ``--weights``
(and ``--proxy-weights``), torchvision's published weights for
``--pretrained``, and a run's own checkpoints on ``--resume``. Each is read
with ``weights_only=True``: a file that holds other objects than tensors is
refused without running them, and every failure becomes one line saying why
in words (torch's own messages span lines and advise loading the file in full,
which must not happen to a file from outside).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import pickletools
import re
import struct
import warnings
from pathlib import Path
from typing import Any, Optional, Union

import torch

from svp.errors import UsageError

#: What torch.load raises, weights_only, on a file that is not a torch file or is damaged: a text file
#: gives KeyError or IndexError, an empty one EOFError, a foreign zip RuntimeError, a corrupt legacy file
#: AssertionError, ValueError or struct.error, a pickle of other objects UnpicklingError (without running it).
_LOAD_ERRORS = (OSError, EOFError, RuntimeError, pickle.UnpicklingError, LookupError, ValueError, struct.error,
                AssertionError)

#: The fix for a file that should hold a state dict.
STATE_DICT_FIX = "give a file saved by torch.save(model.state_dict(), path)"

#: Globals, besides torch's own, that a pickle of tensors names (a state dict's OrderedDict, the bytes codec of
#: pickle protocol 2): any other one is an object svp does not load.
_TENSOR_GLOBALS = frozenset({"collections.OrderedDict", "_codecs.encode"})


class UnreadableTensors(UsageError):
    """A file :func:`load_tensors` could not read as tensors.

    ``error`` is what failed: torch's exception, or a TypeError saying what the file holds instead of tensors
    named by strings; for callers that word the message their own way (a run's damaged checkpoint).
    """

    def __init__(self, message: str, error: Exception) -> None:
        super().__init__(message)
        self.error = error


def load_tensors(path: Union[str, Path], source: str, *, fix: str = STATE_DICT_FIX,
                 what: str = "cannot be read as saved weights", checkpoint: bool = False,
                 map_location: Union[str, torch.device] = "cpu") -> dict[str, torch.Tensor]:
    """The tensors saved in ``path``, by name, read with ``weights_only=True``: loading it runs no code.

    Parameters
    ----------
    path : str or Path
        The file.
    source : str
        The file as the user gave it, for messages: the option and its value (``--proxy-weights w.pt``).
    fix, what : str
        How to fix a file that cannot be read, and what is wrong with it, for the message
        ``<source> <what> (<why>) ; <fix>``.
    checkpoint : bool
        Also take an svp checkpoint (``{"model": state dict, "epoch": ...}``): its state dict is returned.
    map_location : str or torch.device
        Where the tensors go.

    Raises
    ------
    UnreadableTensors
        A UsageError: the file cannot be read, or holds other things than tensors named by strings.
    """
    try:
        with warnings.catch_warnings():  # torch warns of pickle protocols over lines of their own
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except _LOAD_ERRORS as error:
        why = _why_unreadable(Path(path), error)
        raise UnreadableTensors(f"{source} {what} ({why}) ; {fix}", error) from None
    if checkpoint and isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    why = _not_tensors(state)
    if why is not None:
        raise UnreadableTensors(f"{source} {what} ({why}) ; {fix}", TypeError(why))
    return state


def _not_tensors(state: Any) -> Optional[str]:
    """Why ``state`` is not a state dict (a mapping of names to tensors), or None when it is one."""
    if not isinstance(state, dict):
        return f"it holds a {type(state).__name__}, not a state dict"
    odd = [f"key {key!r} is not a string" if not isinstance(key, str) else f"{key} holds {type(value).__name__}"
           for key, value in state.items() if not isinstance(key, str) or not torch.is_tensor(value)]
    if odd:
        return f"it is not a state dict of tensors: {', '.join(odd[:3])}"
    return None


def _why_unreadable(path: Path, error: BaseException) -> str:
    """Why torch.load (``weights_only``) could not read ``path``, in words."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        head = None
    if head == b"":
        return "the file is empty"
    if isinstance(error, pickle.UnpicklingError):
        others = [name for name in _globals_named(path, error) if not _of_tensors(name)]
        if others:  # a pickle of other objects (code, even): not run
            return f"it holds other objects than tensors ({', '.join(others[:3])}), which svp does not load"
    if head is not None and b"\0" not in head and _is_text(head):
        return "it is a text file, not one torch.save wrote"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return f"not a file torch.save wrote, or a damaged one: {type(error).__name__}"


def _globals_named(path: Path, error: BaseException) -> list[str]:
    """The globals (``module.name``) that torch's message names, else those a plain pickle in ``path`` names.

    torch names the first global it refuses; a pickle written by ``pickle.dump`` it may refuse for an
    instruction before any global (protocol 4's frames), so the pickle's instructions are read, never run.
    """
    found = re.findall(r"unsupported (?:global: )?GLOBAL (\S+)", str(error), re.IGNORECASE)
    if not all(map(_of_tensors, found)):
        return found
    return found + _pickle_globals(path)


def _of_tensors(name: str) -> bool:
    """Whether the global ``name`` (``module.name``) is one a pickle of tensors names."""
    return name.split(".")[0] == "torch" or name in _TENSOR_GLOBALS


def _pickle_globals(path: Path) -> list[str]:
    """The globals a plain pickle in ``path`` names, read with :func:`pickletools.genops` (which runs nothing);
    none for a file that is no plain pickle (torch's zip files, damaged ones)."""
    names, strings, memo = [], [], {}
    try:
        with open(path, "rb") as handle:
            for opcode, arg, _ in pickletools.genops(handle):
                if opcode.name == "GLOBAL":  # protocols 0-3: "module name"
                    names.append(arg.replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:  # protocol 4: the last two strings
                    names.append(f"{strings[-2]}.{strings[-1]}")
                elif "UNICODE" in opcode.name or opcode.name.endswith("STRING"):
                    strings.append(str(arg))
                elif opcode.name == "MEMOIZE" and strings:
                    memo[len(memo)] = strings[-1]
                elif opcode.name.endswith("GET") and arg in memo:  # a string pickled before
                    strings.append(memo[arg])
    except (OSError, ValueError, EOFError, struct.error):  # not a plain pickle, or a damaged one
        pass
    return names


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # a character cut at the end of what was read
    return True


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file ``path``, in hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: The files whose hash matched, as (path, size, mtime_ns, ctime_ns, inode): one unchanged is not hashed again.
_MATCHED: set[tuple] = set()


def sha256_mismatch(path: Path, prefix: str) -> Optional[str]:
    """None when the SHA-256 of ``path`` starts with ``prefix``, else its first ``len(prefix)`` digits.

    A match is remembered for the file's state (size, times, inode), so a file read again in this process
    is hashed again only when it changed: hashing a large file costs seconds, each time a model is built.

    Raises
    ------
    OSError
        When the file cannot be read.
    """
    stat = os.stat(path)  # before hashing: a file changed while it is hashed then reads as changed
    state = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    if state in _MATCHED:
        return None
    digest = file_sha256(path)
    if not digest.startswith(prefix):
        return digest[:len(prefix)]
    _MATCHED.add(state)
    return None
