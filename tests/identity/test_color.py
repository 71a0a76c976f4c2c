import pytest

from generation.identity.color import (
    contrast_ratio,
    ensure_contrast,
    oklch_to_hex,
    parse_hex,
    rgb_to_oklch,
    shift_lightness,
)


def test_contrast_ratio_matches_wcag_reference_values():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)


@pytest.mark.parametrize("hex_colour", ["#1a73e8", "#ff8800", "#20c997", "#6f42c1", "#808080"])
def test_oklch_round_trip(hex_colour):
    lightness, chroma, hue = rgb_to_oklch(parse_hex(hex_colour))
    assert oklch_to_hex(lightness, chroma, hue) == hex_colour


def test_out_of_gamut_keeps_lightness_and_hue():
    colour = oklch_to_hex(0.9, 0.37, 30)  # far outside sRGB
    lightness, _, hue = rgb_to_oklch(parse_hex(colour))
    assert lightness == pytest.approx(0.9, abs=0.01)
    assert hue == pytest.approx(30, abs=3)


@pytest.mark.parametrize(
    "colour,against,minimum",
    [("#8899aa", "#9aabbc", 3.0), ("#ffcc00", "#ffffff", 4.5), ("#334455", "#223344", 4.5)],
)
def test_ensure_contrast_reaches_the_minimum_with_the_same_hue(colour, against, minimum):
    fixed = ensure_contrast(colour, against, minimum)
    assert contrast_ratio(fixed, against) >= minimum
    assert rgb_to_oklch(parse_hex(fixed))[2] == pytest.approx(
        rgb_to_oklch(parse_hex(colour))[2], abs=12
    )


def test_ensure_contrast_leaves_good_pairs_alone():
    assert ensure_contrast("#111111", "#ffffff", 4.5) == "#111111"


def test_shift_lightness_darkens():
    assert (
        rgb_to_oklch(parse_hex(shift_lightness("#e0a577", -0.1)))[0]
        < rgb_to_oklch(parse_hex("#e0a577"))[0]
    )


@pytest.mark.parametrize("bad", ["", "#12", "zzzzzz", "#1234567", "red"])
def test_parse_hex_rejects_garbage(bad):
    with pytest.raises(ValueError):
        parse_hex(bad)
