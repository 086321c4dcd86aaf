"""Training-time augmentation on decoded PIL images (before ``image_to_array``).

Besides crops, flips, rotations and colour jitter, ``replace_background`` fights the background bias
seed 002 describes: every TrashNet photo sits on the same white posterboard, while organic photos
come from the web. With probability ``p_background`` the near-white, low-saturation pixels of a
white-background photo are replaced by a random colour, gradient or noise texture, so that "white
background" stops being a shortcut for "not organic".
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter


def _is_white_background(arr: np.ndarray) -> bool:
    border = np.concatenate([arr[:8].reshape(-1, 3), arr[-8:].reshape(-1, 3),
                             arr[:, :8].reshape(-1, 3), arr[:, -8:].reshape(-1, 3)])
    return bool(np.median(border.min(axis=1)) > 150)


def _random_background(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    kind = rng.integers(3)
    c1 = rng.integers(0, 256, 3).astype(np.float32)
    if kind == 0:
        return np.broadcast_to(c1, (h, w, 3)).copy()
    if kind == 1:
        c2 = rng.integers(0, 256, 3).astype(np.float32)
        t = np.linspace(0, 1, w if rng.random() < 0.5 else h, dtype=np.float32)
        ramp = c1 + (c2 - c1) * t[:, None]
        return np.broadcast_to(ramp[None] if len(t) == w else ramp[:, None], (h, w, 3)).copy()
    small = rng.integers(0, 256, (max(h // 16, 2), max(w // 16, 2), 3)).astype(np.uint8)
    tex = np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    return 0.5 * tex + 0.5 * c1


def replace_background(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Swap a white posterboard background for a random one (no-op on other photos)."""
    arr = np.asarray(img, dtype=np.float32)
    if not _is_white_background(arr):
        return img
    bright = arr.min(axis=2)
    spread = arr.max(axis=2) - bright
    mask = np.clip((bright - 150) / 50, 0, 1) * np.clip((40 - spread) / 20, 0, 1)
    mask_img = Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    m = np.asarray(mask_img, dtype=np.float32)[..., None] / 255.0
    shade = arr / 255.0  # keep the posterboard's shadows on the new background
    bg = _random_background(arr.shape[:2], rng) * (0.6 + 0.4 * shade.mean(axis=2, keepdims=True))
    out = arr * (1 - m) + bg * m
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def random_resized_crop(img: Image.Image, rng: np.random.Generator, *,
                        scale: tuple[float, float] = (0.55, 1.0)) -> Image.Image:
    w, h = img.size
    for _ in range(10):
        area = w * h * rng.uniform(*scale)
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw, ch = int(round(np.sqrt(area * ratio))), int(round(np.sqrt(area / ratio)))
        if 0 < cw <= w and 0 < ch <= h:
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            return img.crop((x, y, x + cw, y + ch))
    return img


def augment(img: Image.Image, rng: np.random.Generator, *, p_background: float = 0.5) -> Image.Image:
    """One random training view of ``img`` (RGB)."""
    if rng.random() < p_background:
        img = replace_background(img, rng)
    img = random_resized_crop(img, rng)
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if rng.random() < 0.25:
        img = img.transpose([Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180,
                             Image.Transpose.ROTATE_270][int(rng.integers(3))])
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.7, 1.3))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.7, 1.3))
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.6, 1.4))
    if rng.random() < 0.2:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    if rng.random() < 0.3:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(rng.integers(40, 90)))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img
