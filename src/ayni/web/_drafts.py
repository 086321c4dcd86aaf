"""A photo between "classify" and "publish": kept in ``var/web-drafts/<user>/`` for a day.

The producer photographs first and chooses the material and the kilograms after seeing the result;
the bytes wait here, under a random name bound to the user, and go to ``listings.attach_photo`` when
the listing is published. What the classifier said is kept beside them, so the listing records the
prediction the server made, not one the browser sends back.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ayni.errors import NotFound

MAX_AGE_S = 24 * 3600
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class Draft:
    token: str
    photo: Path
    content_type: str | None
    prediction: dict[str, Any] | None


def _folder(var_dir: Path, user_id: int) -> Path:
    return var_dir / "web-drafts" / str(int(user_id))


def save(
    var_dir: Path, user_id: int, *, data: bytes, ext: str, content_type: str | None, prediction: dict[str, Any] | None
) -> str:
    folder = _folder(var_dir, user_id)
    folder.mkdir(parents=True, exist_ok=True)
    _sweep(folder)
    token = secrets.token_hex(16)
    (folder / f"{token}.{ext}").write_bytes(data)
    meta = {"ext": ext, "content_type": content_type, "prediction": prediction}
    (folder / f"{token}.json").write_text(json.dumps(meta), encoding="utf-8")
    return token


def load(var_dir: Path, user_id: int, token: str) -> Draft:
    folder = _folder(var_dir, user_id)
    meta_path = folder / f"{token}.json"
    if not _TOKEN.match(token) or not meta_path.is_file():
        raise NotFound("This photo is no longer available; please take it again.")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    photo = folder / f"{token}.{meta['ext']}"
    if not photo.is_file():
        raise NotFound("This photo is no longer available; please take it again.")
    return Draft(token=token, photo=photo, content_type=meta.get("content_type"), prediction=meta.get("prediction"))


def discard(draft: Draft) -> None:
    draft.photo.unlink(missing_ok=True)
    draft.photo.with_suffix(".json").unlink(missing_ok=True)


def _sweep(folder: Path) -> None:
    cutoff = time.time() - MAX_AGE_S
    for path in folder.iterdir():
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
