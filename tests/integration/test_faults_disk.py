"""A full disk while a photo is written (injected ``OSError(ENOSPC)`` after half the bytes, and a real
filesystem filled to the last byte), and a database that refuses the change after the photo was written:
a clear answer, no partial listing, no orphan file."""

from __future__ import annotations

import errno
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from ayni.errors import InsufficientStorage
from ayni.services import listings
from ayni.settings import Settings
from ayni.storage.engine import transaction
from ayni.storage.tables import Listing, User
from tests.integration.conftest import Factory

pytestmark = pytest.mark.integration


def _photo() -> bytes:
    rng = np.random.default_rng(3)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing a file stores half its bytes, then fails as a full disk does."""

    def write_bytes(self: Path, data: bytes) -> int:
        with open(self, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def _files(settings: Settings) -> list[Path]:
    return [p for p in settings.media_path.rglob("*") if p.is_file()] if settings.media_path.exists() else []


def test_a_full_disk_answers_507_and_leaves_neither_file_nor_change(
    make: Factory, app_settings: Settings, full_disk: None,
) -> None:
    producer = make.producer()
    listing = make.listing(producer)
    r = producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("p.jpg", _photo(), "image/jpeg")})
    assert r.status_code == 507, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "insufficient_storage" and "nothing was saved" in r.json()["detail"]
    assert producer.get(f"/v1/listings/{listing['id']}").json() == listing  # unchanged, still no photo
    assert _files(app_settings) == []  # the half-written .part file was removed


def test_a_listing_published_with_its_photo_on_a_full_disk_is_not_created_at_all(
    make: Factory, app_settings: Settings, full_disk: None,
) -> None:
    producer = make.producer()  # the web form creates the listing and attaches the photo in one transaction
    with pytest.raises(InsufficientStorage), transaction(make.session_factory) as s:
        user = s.get(User, producer.user_id)
        assert user is not None
        created = listings.create_listing(s, user, material="PET", estimated_kg="3")
        listings.attach_photo(s, user, created.id, data=_photo(), content_type="image/jpeg",
                              limits=app_settings.upload, media_dir=app_settings.media_path)
    with make.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Listing)) == 0
    assert _files(app_settings) == []


def test_a_photo_written_before_the_database_failed_is_removed(
    make: Factory, app_settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = make.producer()
    listing = make.listing(producer)

    def database_gone(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT INTO audit_events …", {}, Exception("server closed the connection"))

    monkeypatch.setattr(listings, "audit", database_gone)  # fails after the photo is on disk
    r = producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("p.jpg", _photo(), "image/jpeg")})
    assert r.status_code == 503 and r.json()["code"] == "service_unavailable"
    assert _files(app_settings) == []  # rolled back: no orphan file


@pytest.fixture
def tiny_full_filesystem(app_settings: Settings) -> Iterator[Path]:
    """A real 256 KiB tmpfs mounted on the media directory and filled to the last byte (root only)."""
    media = app_settings.media_path
    media.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(media)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root in a VM or privileged container): "
                    f"{mounted.stderr.strip()}")
    filler = media / "filler.bin"
    try:
        with open(filler, "wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    try:
        yield filler
    finally:
        subprocess.run(["umount", str(media)], check=True)


def test_a_really_full_filesystem_answers_507_and_keeps_the_listing(
    make: Factory, app_settings: Settings, tiny_full_filesystem: Path,
) -> None:
    producer = make.producer()
    listing = make.listing(producer)
    before = sorted(_files(app_settings))
    r = producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("p.jpg", _photo(), "image/jpeg")})
    assert r.status_code == 507, r.text
    assert r.json()["code"] == "insufficient_storage"
    assert producer.get(f"/v1/listings/{listing['id']}").json() == listing
    assert sorted(_files(app_settings)) == before == [tiny_full_filesystem]  # no partial file left
    tiny_full_filesystem.unlink()  # room again: the same upload now works, nothing was left half-done
    r = producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("p.jpg", _photo(), "image/jpeg")})
    assert r.status_code == 200, r.text
    assert r.json()["has_photo"] is True
