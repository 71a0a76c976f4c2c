import pytest

from generation.identity.color import parse_hex, rgb_to_oklch
from generation.identity.palettes import PaletteError, draw_palette, parse_palette
from generation.identity.prng import Prng


def hues(colours):
    return [rgb_to_oklch(parse_hex(c))[2] for c in colours]


def hue_distance(a, b):
    return abs((a - b + 180) % 360 - 180)


@pytest.mark.parametrize(
    "scheme,offsets", [("complementary", (180,)), ("triadic", (120, 240)), ("analogous", (30, 330))]
)
def test_generated_schemes_place_hues_in_perceptual_space(scheme, offsets):
    spec = parse_palette(
        {"kind": "generated", "scheme": scheme, "chroma": 0.1, "lightness": [0.7, 0.6]}
    )
    for n in range(20):
        colours = draw_palette(spec, Prng(bytes([n]) * 32))
        base = hues(colours[:1])[0]
        found = hues(colours)
        for offset in offsets:
            assert min(hue_distance(h, (base + offset) % 360) for h in found) < 6


def test_hue_range_confines_a_role_palette():
    spec = parse_palette({"kind": "generated", "scheme": "monochrome", "hue_range": [225, 265]})
    for n in range(50):
        for colour in draw_palette(spec, Prng(bytes([n]) * 32)):
            assert 218 <= rgb_to_oklch(parse_hex(colour))[2] <= 272


def test_brand_palette_keeps_its_colours():
    spec = parse_palette({"kind": "brand", "colors": ["#FF0000", "0f0", "#0000ff"]})
    assert draw_palette(spec, Prng(b"x" * 32)) == ("#ff0000", "#00ff00", "#0000ff")


@pytest.mark.parametrize(
    "definition",
    [
        [],
        {"kind": "mystery"},
        {"kind": "brand", "colors": ["#fff"]},
        {"kind": "brand", "colors": ["#fff", "notacolour"]},
        {"kind": "brand", "colors": ["#fff"] * 500},
        {"kind": "generated", "scheme": "rainbow"},
        {"kind": "generated", "hue_range": [300, 10]},
        {"kind": "generated", "lightness": [2, 3]},
        {"kind": "generated", "chroma": "lots"},
    ],
)
def test_bad_palettes_are_refused_with_a_message(definition):
    with pytest.raises(PaletteError) as excinfo:
        parse_palette(definition)
    assert str(excinfo.value)
