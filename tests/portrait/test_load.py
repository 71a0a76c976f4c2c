"""LoadPhoto: formats, EXIF orientation, colour modes, and every reject code."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from generation.portrait.errors import PortraitError
from generation.portrait.load import DEFAULT_LIMITS, Limits, load_photo

from .conftest import encode, photo_array, photo_bytes


def rejects(data: bytes, limits: Limits = DEFAULT_LIMITS) -> str:
    with pytest.raises(PortraitError) as caught:
        load_photo(data, limits)
    assert caught.value.message
    return caught.value.code


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` but carries almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real JPEG with its frame header rewritten to claim another size."""
    data = bytearray(encode(photo_array("obama_small.jpg"), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not_an_image"),
        (np.random.default_rng(1).bytes(50_000), "not_an_image"),
        (b"Dear diary, this is not a photo.\n" * 40, "not_an_image"),  # a .txt renamed .jpg
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not_an_image"),
    ],
    ids=["zero-byte", "random-bytes", "text-file", "svg"],
)
def test_garbage_is_not_an_image(data, code):
    assert rejects(data) == code


def test_truncated_jpeg_is_rejected():
    data = photo_bytes("obama.jpg")
    assert rejects(data[: len(data) // 2]) == "truncated_image"


def test_truncated_png_is_rejected():
    data = photo_bytes("lin-manuel-miranda.png")
    assert rejects(data[: len(data) // 3]) == "truncated_image"


def test_decompression_bomb_header_is_rejected_before_decoding():
    assert rejects(png_claiming(60_000, 60_000)) == "image_too_large"


def test_a_10000_square_claim_is_too_large():
    assert rejects(jpeg_claiming(10_000, 10_000)) == "image_too_large"


def test_byte_limit():
    assert rejects(b"\xff" * (Limits().max_bytes + 1)) == "file_too_large"
    assert rejects(photo_bytes("obama.jpg"), Limits(max_bytes=10_000)) == "file_too_large"


def test_below_200_is_too_small():
    small = encode(photo_array("obama_small.jpg")[:199, :300])
    assert rejects(small) == "image_too_small"


def test_jpeg_png_and_webp_load_as_rgb():
    original = photo_array("obama2.jpg")
    for fmt in ("JPEG", "PNG", "WEBP"):
        image = load_photo(encode(original, fmt))
        assert image.shape == original.shape
        assert image.dtype == np.uint8
        assert np.abs(image.astype(int) - original).mean() < 4


def test_exif_orientation_turns_a_sideways_photo_upright():
    original = photo_array("obama2.jpg")
    sideways = Image.fromarray(original).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": undoes the ROTATE_90 above
    buffer = io.BytesIO()
    sideways.save(buffer, "JPEG", exif=exif, quality=95)
    image = load_photo(buffer.getvalue())
    assert image.shape == original.shape
    assert np.abs(image.astype(int) - original).mean() < 4


def test_alpha_goes_onto_white():
    image = load_photo(photo_bytes("32bit.png"))
    assert image.shape[2] == 3
    rgba = np.zeros((300, 300, 4), np.uint8)  # fully transparent
    assert (load_photo(encode(rgba)) == 255).all()


def test_cmyk_sixteen_bit_and_palette_are_normalised():
    original = photo_array("obama2.jpg")
    cmyk = io.BytesIO()
    Image.fromarray(original).convert("CMYK").save(cmyk, "JPEG", quality=95)
    assert np.abs(load_photo(cmyk.getvalue()).astype(int) - original).mean() < 6

    grey = np.linspace(0, 65535, 300 * 300).reshape(300, 300).astype(np.uint16)
    wide = load_photo(encode_array(Image.fromarray(grey)))
    assert wide.shape == (300, 300, 3) and wide.max() == 255 and wide.min() == 0

    palette = Image.fromarray(original).convert("P", palette=Image.Palette.ADAPTIVE)
    assert load_photo(encode_array(palette)).shape == original.shape


def test_animated_images_use_the_first_frame():
    frames = [Image.new("RGB", (240, 240), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    first = load_photo(buffer.getvalue())
    assert first[..., 0].mean() > 200 and first[..., 2].mean() < 50


def encode_array(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
