"""Photos uploaded with listings: checked, then stored under the media directory with a random name."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ayni.errors import NotFound, UnsupportedMediaType
from ayni.settings import UploadSettings
from ayni.vision.preprocess import PreprocessParams, decode_image, sniff_format

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}
ACCEPTED_TYPES = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "application/octet-stream"}


def check_image(data: bytes, *, content_type: str | None, limits: UploadSettings) -> str:
    """The file extension for an acceptable photo; a clear 4xx error for anything else.

    The checks are the classifier's own safe decoder (magic bytes, size, pixel count, corruption), so a
    photo that is stored can always be classified."""
    if content_type and content_type.split(";")[0].strip().lower() not in ACCEPTED_TYPES:
        raise UnsupportedMediaType(
            f"Files of type '{content_type}' are not accepted; send a JPEG, PNG, WebP or HEIC photo.")
    decode_image(data, params=PreprocessParams(max_bytes=limits.max_bytes, max_pixels=limits.max_pixels))
    fmt = sniff_format(data)
    assert fmt is not None  # decode_image refused anything else
    return EXTENSIONS[fmt]


def store_photo(data: bytes, *, ext: str, media_dir: Path) -> str:
    """Write the bytes under a new random name (atomically) and return the path relative to ``media_dir``."""
    rel = Path("photos") / secrets.token_hex(2) / f"{secrets.token_hex(16)}.{ext}"
    target = media_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return rel.as_posix()


def remove_photo(rel: str, *, media_dir: Path) -> None:
    (media_dir / rel).unlink(missing_ok=True)


def photo_file(rel: str, *, media_dir: Path) -> Path:
    path = (media_dir / rel).resolve()
    if media_dir.resolve() not in path.parents or not path.is_file():
        raise NotFound("This listing's photo is not available.")
    return path
