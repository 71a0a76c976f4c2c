"""DiceBear's styles as the identity engine draws them: byte-identical to
dicebear-core in its own mode, golden in the keyed mode users get, and in the
deployment's palettes with contrast."""

import hashlib
import json
import os
from pathlib import Path

import pytest
from dicebear import Avatar, Style

from generation.avatars import AvatarRequest, render_svg_text
from generation.identity import dicebear
from generation.identity.color import contrast_ratio
from generation.identity.palettes import parse_palette
from generation.identity.raster import rasterise
from generation.identity.seed import derive_seed
from generation.models import PaletteVersion, StyleVersion, definition_digest

NAMES = dicebear.shipped_names()
GOLDEN = Path(__file__).parent / "golden" / "dicebear"
GOLDEN_IDS = ("user-1", "ada.lovelace@example.com", "7f3c9e")
SECRET = "golden-secret"
# The same options twice: as DiceBear's HTTP query spells them, and as the core takes them.
QUERY = {
    "flip": "horizontal",
    "rotate": "-15,15",
    "scale": "0.9",
    "borderRadius": "12",
    "translateX": "4",
    "backgroundColor": "b6e3f4,c0aede,ffd5dc",
    "backgroundType": "gradientLinear",
}
TYPED = {
    "flip": ["horizontal"],
    "rotate": [-15, 15],
    "scale": 0.9,
    "borderRadius": 12,
    "translateX": 4,
    "backgroundColor": ["b6e3f4", "c0aede", "ffd5dc"],
    "backgroundColorFill": ["linear"],
}


def version_of(name: str) -> StyleVersion:
    definition = dicebear.shipped_definition(name)
    return StyleVersion(number=1, definition=definition, digest=definition_digest(definition))


def test_the_whole_catalogue_is_there():
    assert len(NAMES) == 61
    assert {"adventurer", "bottts", "initials", "lorelei", "identicon"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_byte_identical_to_dicebear_core_over_100_seeds(name):
    version = version_of(name)
    ours = dicebear.compiled(version.definition, version.digest)
    reference = Style(dicebear.shipped_definition(name))
    options = ours.parse_query(QUERY)
    assert options == TYPED
    for n in range(100):
        seed = f"seed-{n}"
        assert ours.render({"seed": seed}) == Avatar(reference, {"seed": seed}).to_string()
        assert (
            ours.render({"seed": seed, **options})
            == Avatar(reference, {"seed": seed, **TYPED}).to_string()
        )


@pytest.mark.parametrize("name", NAMES)
def test_golden_files_in_keyed_mode(name, settings):
    """A user's avatar (keyed seed, no options) keeps its bytes, forever."""
    version = version_of(name)
    cases = {}
    for identifier in GOLDEN_IDS:
        request = AvatarRequest(version, None, derive_seed(identifier, SECRET), "svg", 64)
        svg = render_svg_text(request)
        assert identifier not in svg
        cases[identifier] = {
            "svg_sha256": hashlib.sha256(svg.encode()).hexdigest(),
            "png64_sha256": hashlib.sha256(rasterise(svg, 64)).hexdigest(),
        }
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(cases, indent=1) + "\n")
    assert cases == json.loads(path.read_text())


@pytest.mark.parametrize("name", ["shapes", "rings", "identicon", "bottts", "glass"])
def test_palettes_recolour_decorative_slots_with_contrast(name):
    """A brand palette draws the background and the shapes; shapes keep 3:1."""
    brand = {"kind": "brand", "colors": ["#fdf6e3", "#eee8d5", "#268bd2", "#d33682", "#859900"]}
    palette = PaletteVersion(number=1, definition=brand, digest=definition_digest(brand))
    spec = parse_palette(brand)
    style = dicebear.compiled(version_of(name).definition, version_of(name).digest)
    for n in range(20):
        request = AvatarRequest(version_of(name), palette, derive_seed(str(n), "p"), "svg", 64)
        svg = render_svg_text(request)
        drawn = dicebear.palette_options(style, spec.colors, None, 3.0)
        grounds = ["#" + c for c in drawn["backgroundColor"]]
        assert any(g in svg for g in grounds)
        for key, values in drawn.items():
            if key == "backgroundColor":
                continue
            for value in values:
                assert all(contrast_ratio("#" + value, g) >= 3.0 for g in grounds), (key, value)


def test_natural_colours_are_never_recoloured():
    style = dicebear.compiled(version_of("avataaars").definition, version_of("avataaars").digest)
    drawn = dicebear.palette_options(style, ("#ffffff", "#000000", "#ff0000"), None, 3.0)
    assert "skinColor" not in drawn and "hairColor" not in drawn
    assert "clothesColor" in drawn
