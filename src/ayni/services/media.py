"""Photos uploaded with listings: checked, then stored under the media directory with a random name."""

from __future__ import annotations

import io
import os
import secrets
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ayni.errors import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from ayni.settings import UploadSettings

ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}
ACCEPTED_TYPES = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "application/octet-stream"}


def _register_heif() -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()


def check_image(data: bytes, *, content_type: str | None, limits: UploadSettings) -> str:
    """The file extension for an acceptable photo; a clear 4xx error for anything else."""
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(f"The photo is {len(data) / 1e6:.1f} MB; the limit is {limits.max_bytes / 1e6:.0f} MB.")
    if not data:
        raise InvalidInput("The uploaded file is empty.", details={"field": "file"})
    if content_type and content_type.split(";")[0].strip().lower() not in ACCEPTED_TYPES:
        raise UnsupportedMediaType(
            f"Files of type '{content_type}' are not accepted; send a JPEG, PNG, WebP or HEIC photo."
        )
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format or ""
                if fmt not in ACCEPTED_FORMATS:
                    raise UnsupportedMediaType(
                        f"'{fmt or 'unknown'}' images are not accepted; send a JPEG, PNG, WebP or HEIC photo."
                    )
                if img.width * img.height > limits.max_pixels:
                    raise InvalidInput(
                        f"The photo has {img.width}×{img.height} pixels, more than the "
                        f"{limits.max_pixels / 1e6:.0f} megapixels allowed.",
                        details={"field": "file"},
                    )
                img.load()
    except UnidentifiedImageError as exc:
        raise UnsupportedMediaType(
            "The file is not an image we can read; send a JPEG, PNG, WebP or HEIC photo."
        ) from exc
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise InvalidInput("The image is too large to decode safely.", details={"field": "file"}) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput("The photo is damaged or incomplete and cannot be read.", details={"field": "file"}) from exc
    return ACCEPTED_FORMATS[fmt]


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
