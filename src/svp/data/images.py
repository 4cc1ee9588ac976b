"""Reading image files faithfully: the shape they share, and their pixels as 8-bit values.

Any file Pillow reads is an image. 16-bit greyscale values (Pillow's modes
``I;16*``, and ``I`` as it may open a 16-bit PNG) are scaled to 8 bits
(v / 257, rounded: 65535 is 255), as Pillow's own ``convert("L")`` would clip
them all to 255; values beyond 16 bits and floating-point images are refused:
no one mapping to 0..255 holds for all of them.
"""
from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Optional

import numpy as np

from svp.data.base import unreadable_image
from svp.data.identity import digest
from svp.errors import UsageError
from svp.progress import bar


def _unreadable() -> tuple[type[BaseException], ...]:
    """What Pillow raises on a damaged or foreign file: OSError (UnidentifiedImageError among them) and, from some
    of its format plugins, SyntaxError, ValueError, EOFError or struct.error; DecompressionBombError for a bomb."""
    from PIL import Image

    return OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError


def common_shape(files: list[str], image_size: Optional[int]) -> tuple[int, int, int]:
    """(channels, height, width) all images take: colour if any is, their common size (or --image-size)."""
    from PIL import Image

    sizes, colour = {}, False
    for path in files:
        try:
            with Image.open(path) as image:
                if image.mode == "F":  # no one mapping to 0..255 holds for all of them: the user knows theirs
                    raise UsageError(f"{path} holds floating-point pixels ; save it as an 8- or 16-bit image")
                sizes.setdefault(image.size, path)
                colour = colour or not (image.mode in ("1", "L", "I") or image.mode.startswith("I;16"))
        except _unreadable() as error:
            raise unreadable_image(path, error) from None
    channels = 3 if colour else 1
    if image_size is not None:
        return channels, image_size, image_size
    if len(sizes) > 1:
        (a, first), (b, second) = list(sizes.items())[:2]
        raise UsageError(f"the images differ in size ({first} is {a[0]}x{a[1]}, {second} is {b[0]}x{b[1]}) ; "
                         "give --image-size N to resize them all to N x N")
    (width, height), = sizes
    return channels, height, width


def _eight_bits(image, path: str):
    """``image`` with 8-bit values: 16-bit ones (modes ``I;16*``, and ``I`` as Pillow may open a 16-bit PNG)
    scaled by 1/257, rounded, as Pillow's own ``convert("L")`` clips them all to 255."""
    from PIL import Image

    if image.mode != "I" and not image.mode.startswith("I;16"):
        return image
    values = np.asarray(image)
    if values.size and (values.min() < 0 or values.max() > 65535):
        raise UsageError(f"{path} holds values from {values.min()} to {values.max()}, beyond 16 bits ; save it "
                         "as an 8- or 16-bit image")
    return Image.fromarray(((values.astype(np.uint32) + 128) // 257).astype(np.uint8))


def decode(files: list[str], shape: tuple[int, int, int], out: np.ndarray, desc: str) -> list[str]:
    """Decode ``files`` into ``out``; return the digest of each file's bytes (its identity, see
    :mod:`svp.data.identity`), read in the same pass."""
    from PIL import Image

    channels, height, width = shape
    digests = []
    for row, path in enumerate(bar(files, desc=desc, unit="image")):
        try:
            content = Path(path).read_bytes()
            with Image.open(io.BytesIO(content)) as image:
                image = _eight_bits(image, path).convert("RGB" if channels == 3 else "L")
                if image.size != (width, height):
                    image = image.resize((width, height), Image.Resampling.BILINEAR)
                pixels = np.asarray(image, dtype=np.uint8)
        except _unreadable() as error:
            raise unreadable_image(path, error) from None
        except MemoryError:
            raise UsageError(f"decoding {path} at {width}x{height} ran out of memory ; give a smaller "
                             "--image-size") from None
        out[row] = pixels.reshape(height, width, channels).transpose(2, 0, 1)
        digests.append(digest(content))
    return digests
