"""Base64 photos as the API receives them: plain, data: URLs, MIME line-wrapped, and broken."""

import base64

import pytest

from generation.errors import ApiError
from generation.photo_input import decode_base64

DATA = bytes(range(256)) * 300
ENCODED = base64.b64encode(DATA).decode()


@pytest.mark.parametrize(
    "text",
    [
        ENCODED,
        f"  {ENCODED}\n",
        "data:image/png;base64," + ENCODED,
        base64.encodebytes(DATA).decode(),  # 76-character lines
        "\r\n".join(ENCODED[i : i + 64] for i in range(0, len(ENCODED), 64)),
    ],
)
def test_accepted_spellings_decode_to_the_same_bytes(text):
    assert decode_base64(text, 2 * len(DATA)) == DATA


@pytest.mark.parametrize(
    "text",
    ["not base64!!", ENCODED[:-1], ENCODED[:100] + "é" + ENCODED[100:], "====", "QUJD\x00REVG"],
)
def test_broken_base64_is_a_400(text):
    with pytest.raises(ApiError) as refused:
        decode_base64(text, len(DATA))
    assert (refused.value.status, refused.value.code) == (400, "invalid_base64")


def test_oversized_text_is_refused_before_decoding():
    with pytest.raises(ApiError) as refused:
        decode_base64("A" * 4000, 2000)
    assert (refused.value.status, refused.value.code) == (413, "file_too_large")
