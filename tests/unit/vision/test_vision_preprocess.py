"""Safe decoding and the one preprocessing function: every bad-upload case, EXIF, formats."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from ayni.errors import AyniError, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from ayni.vision.preprocess import PreprocessParams, decode_image, preprocess, sniff_format


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _two_tone(size: tuple[int, int] = (80, 40)) -> Image.Image:
    """Left half red, right half blue: orientation is visible in the pixels."""
    img = Image.new("RGB", size, (255, 0, 0))
    img.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    return img


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_preprocess_accepts_jpeg_png_webp_and_returns_normalised_chw(fmt: str) -> None:
    x = preprocess(_encode(_two_tone(), fmt))
    assert x.shape == (3, 224, 224)
    assert x.dtype == np.float32
    assert np.isfinite(x).all()


def test_preprocess_accepts_heic() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    data = _encode(_two_tone(), "HEIF")
    assert sniff_format(data) == "HEIF"
    x = preprocess(data)
    assert x.shape == (3, 224, 224)
    # left half is red: red channel high, blue channel low
    assert x[0, :, :100].mean() > 0.5 > x[2, :, :100].mean()


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = _encode(_two_tone((80, 40)), "JPEG", exif=exif.tobytes(), quality=95)
    img = decode_image(data)
    assert img.size == (40, 80)  # width and height swapped
    arr = np.asarray(img, dtype=np.int32)
    # red (left) ends up on top after a clockwise rotation
    assert arr[:40, :, 0].mean() > 200 and arr[:40, :, 2].mean() < 60
    assert arr[40:, :, 2].mean() > 200


def test_palette_with_transparency_is_composited_on_white() -> None:
    img = Image.new("RGBA", (20, 20), (0, 0, 0, 0)).convert("P")
    img.info["transparency"] = 0
    out = decode_image(_encode(img, "PNG", transparency=0))
    assert out.mode == "RGB"
    assert np.asarray(out).min() == 255


def test_upload_over_byte_limit_is_payload_too_large() -> None:
    data = _encode(_two_tone(), "PNG")
    with pytest.raises(PayloadTooLarge):
        preprocess(data, params=PreprocessParams(max_bytes=len(data) - 1))


def test_too_many_pixels_is_invalid_input_before_decoding() -> None:
    bomb = _png_header_only(100_000, 100_000)  # 10^10 pixels claimed in ~100 bytes
    assert len(bomb) < 200
    with pytest.raises(InvalidInput, match="pixels"):
        preprocess(bomb)


def test_pixel_limit_is_configurable() -> None:
    data = _encode(_two_tone((80, 40)), "PNG")
    with pytest.raises(InvalidInput):
        preprocess(data, params=PreprocessParams(max_pixels=80 * 40 - 1))
    assert preprocess(data, params=PreprocessParams(max_pixels=80 * 40)).shape == (3, 224, 224)


@pytest.mark.parametrize("cut", [0.3, 0.7])
def test_truncated_jpeg_is_invalid_input(cut: float) -> None:
    data = _encode(Image.effect_noise((256, 256), 60).convert("RGB"), "JPEG")
    with pytest.raises(InvalidInput):
        preprocess(data[: int(len(data) * cut)])


def test_corrupt_png_body_is_invalid_input() -> None:
    data = bytearray(_encode(Image.effect_noise((64, 64), 60).convert("RGB"), "PNG"))
    data[60:120] = b"\x00" * 60
    with pytest.raises(InvalidInput):
        preprocess(bytes(data))


def test_empty_upload_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        preprocess(b"")


@pytest.mark.parametrize("payload", [
    b"%PDF-1.7 not an image",
    b"hello, this is text",
    b"GIF89a" + b"\x00" * 40,
    b"BM" + b"\x00" * 60,
    b"\x00" * 100,
])
def test_non_image_or_unaccepted_type_is_unsupported_media_type(payload: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        preprocess(payload)


def test_real_gif_and_bmp_are_unsupported_media_type() -> None:
    for fmt in ("GIF", "BMP", "TIFF"):
        with pytest.raises(UnsupportedMediaType):
            preprocess(_encode(_two_tone(), fmt))


def test_magic_bytes_with_garbage_never_escape_as_other_errors() -> None:
    rng = np.random.default_rng(0)
    heads = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x10\x00\x00\x00WEBP", b"\x00\x00\x00\x18ftypheic"]
    for head in heads:
        for _ in range(5):
            junk = head + rng.integers(0, 256, int(rng.integers(0, 400)), dtype=np.uint8).tobytes()
            with pytest.raises(AyniError) as info:
                preprocess(junk)
            assert isinstance(info.value, InvalidInput | UnsupportedMediaType)


def test_jpeg_named_png_is_recognised_by_content_not_name() -> None:
    assert sniff_format(_encode(_two_tone(), "PNG")) == "PNG"
    assert sniff_format(_encode(_two_tone(), "JPEG")) == "JPEG"


def test_params_round_trip_through_dict() -> None:
    p = PreprocessParams(size=192, max_pixels=123)
    assert PreprocessParams.from_dict(p.to_dict()) == p
