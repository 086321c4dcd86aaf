"""Photos uploaded with listings: checked, then stored under the media directory with a random name."""

from __future__ import annotations

import errno
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from ayni.errors import InsufficientStorage, NotFound, ServiceUnavailable, UnsupportedMediaType
from ayni.settings import UploadSettings
from ayni.vision.preprocess import PreprocessParams, decode_image, sniff_format

log = logging.getLogger(__name__)
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
    """Write the bytes under a new random name (atomically) and return the path relative to ``media_dir``.

    A full disk (or any other write error) leaves nothing behind: the partial file is removed and
    ``InsufficientStorage`` (507) or ``ServiceUnavailable`` (503) is raised."""
    rel = Path("photos") / secrets.token_hex(2) / f"{secrets.token_hex(16)}.{ext}"
    target = media_dir / rel
    tmp = target.with_suffix(target.suffix + ".part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        log.error("cannot store a photo under %s: %s", media_dir, exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage(
                "The server has no room left to store photos; nothing was saved. Publish the listing without "
                "a photo, or try again later.") from exc
        raise ServiceUnavailable("Photos cannot be stored right now; nothing was saved. Try again later.") from exc
    return rel.as_posix()


def discard_on_rollback(session: Session, rel: str, *, media_dir: Path) -> None:
    """Remove the stored file ``rel`` if ``session``'s transaction is rolled back (no orphan files when the
    database refuses the change after the photo was written)."""

    def discard(_session: Session, previous: Any) -> None:
        if previous.parent is None:  # the request's transaction, not a savepoint inside it
            remove_photo(rel, media_dir=media_dir)

    event.listen(session, "after_soft_rollback", discard)


def remove_photo(rel: str, *, media_dir: Path) -> None:
    (media_dir / rel).unlink(missing_ok=True)


def photo_file(rel: str, *, media_dir: Path) -> Path:
    path = (media_dir / rel).resolve()
    if media_dir.resolve() not in path.parents or not path.is_file():
        raise NotFound("This listing's photo is not available.")
    return path
