"""The ONE image preprocessing used by training, evaluation and serving.

``preprocess(data, params=...)`` turns the bytes of an upload (or of a file on disk: training reads
the file's bytes and calls the same function) into a float32 array (3, size, size). Decoding is safe:

* only JPEG, PNG, WebP and HEIC/HEIF are accepted, recognised by their content (magic bytes), never
  by a file name; anything else is ``UnsupportedMediaType``;
* more bytes than ``max_bytes`` is ``PayloadTooLarge``;
* more pixels than ``max_pixels`` (read from the header, before anything is decoded: decompression
  bombs) is ``InvalidInput``; so is a corrupt or truncated file;
* the EXIF orientation is applied, palette/alpha images are composited on white;
* nothing but an ``AyniError`` ever leaves this module.

Large JPEGs are decoded at a reduced DCT scale (``draft``) to keep phone photos fast; since the same
function runs in training, this is not a train/serve skew.
"""

from __future__ import annotations

import io
import logging
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from ayni.errors import AyniError, InvalidInput, PayloadTooLarge, UnsupportedMediaType

log = logging.getLogger(__name__)

ACCEPTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "HEIF")
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


@dataclass(frozen=True, slots=True)
class PreprocessParams:
    """Everything that defines the model's input; saved in the model's metadata JSON."""

    size: int = 224
    mean: tuple[float, float, float] = (0.498, 0.498, 0.498)
    std: tuple[float, float, float] = (0.502, 0.502, 0.502)
    resample: str = "bilinear"
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    background: tuple[int, int, int] = field(default=(255, 255, 255))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessParams:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("mean", "std", "background"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


@cache
def _register_heif() -> None:
    """Teach Pillow to open HEIC/HEIF (done once, on first use, not at import)."""
    import pillow_heif

    pillow_heif.register_heif_opener()


def sniff_format(data: bytes) -> str | None:
    """The accepted format these bytes claim to be, from their magic numbers, else ``None``."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


def decode_image(data: bytes, *, params: PreprocessParams = PreprocessParams()) -> Image.Image:
    """Safely decode ``data`` to an upright RGB image (see the module doc for the errors)."""
    try:
        return _decode(data, params)
    except AyniError:
        raise
    except Image.DecompressionBombError as exc:
        raise InvalidInput("The image has too many pixels.", details={"field": "file"}) from exc
    except Exception as exc:  # any decoder failure is a bad upload, never a server error
        raise InvalidInput("The file is not a readable image (corrupt or truncated).",
                           details={"field": "file"}) from exc


def _decode(data: bytes, params: PreprocessParams) -> Image.Image:
    if len(data) > params.max_bytes:
        raise PayloadTooLarge(f"The upload is larger than {params.max_bytes // (1024 * 1024)} MB.",
                              details={"max_bytes": params.max_bytes, "bytes": len(data)})
    if not data:
        raise InvalidInput("The file is empty.", details={"field": "file"})
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedMediaType("Send a JPEG, PNG, WebP or HEIC photo.",
                                   details={"accepted": list(ACCEPTED_FORMATS)})
    if fmt == "HEIF":
        _register_heif()
    img = Image.open(io.BytesIO(data), formats=[fmt])
    width, height = img.size
    if width <= 0 or height <= 0 or width * height > params.max_pixels:
        raise InvalidInput(f"The image has too many pixels ({width}×{height}).",
                           details={"field": "file", "max_pixels": params.max_pixels})
    if fmt == "JPEG":
        img.draft("RGB", (params.size * 2, params.size * 2))
    img.load()
    upright: Image.Image = ImageOps.exif_transpose(img)
    return _to_rgb(upright, params.background)


def _to_rgb(img: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, background)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")


def image_to_array(img: Image.Image, *, params: PreprocessParams = PreprocessParams()) -> np.ndarray:
    """Resize an RGB image to ``size``×``size`` and normalise it: float32 (3, size, size)."""
    resized = img.resize((params.size, params.size), _RESAMPLE[params.resample])
    pixels = np.asarray(resized)  # uint8 (size, size, 3), no copy
    mean = np.asarray(params.mean, dtype=np.float64)
    std = np.asarray(params.std, dtype=np.float64)
    scale, shift = (1.0 / (255.0 * std)).astype(np.float32), (-mean / std).astype(np.float32)
    out = np.empty((3, params.size, params.size), dtype=np.float32)
    for c in range(3):  # (x / 255 − mean) / std as one multiply-add per channel, written in place
        np.multiply(pixels[:, :, c], scale[c], out=out[c], dtype=np.float32)
        out[c] += shift[c]
    return out


def preprocess(data: bytes, *, params: PreprocessParams = PreprocessParams()) -> np.ndarray:
    """Bytes of a photo → the model's input (3, size, size) float32. Used by training AND serving."""
    return image_to_array(decode_image(data, params=params), params=params)
