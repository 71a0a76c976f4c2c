"""The renderer: determinism (also across processes), golden files, contrast rules."""

import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from generation.identity.catalog import shipped_style, shipped_style_slugs
from generation.identity.color import contrast_ratio
from generation.identity.glyphs import initials
from generation.identity.palettes import parse_palette
from generation.identity.prng import Prng
from generation.identity.raster import rasterise
from generation.identity.render import render_svg, resolve_colours
from generation.identity.seed import derive_seed
from generation.identity.style import compile_definition

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_IDS = ("user-1", "ada.lovelace@example.com", "7f3c9e")
SECRET = "golden-secret"


def render_case(slug: str, identifier: str) -> tuple[str, bytes]:
    svg = render_svg(shipped_style(slug), derive_seed(identifier, SECRET), text=identifier)
    return svg, rasterise(svg, 64)


def test_seed_is_a_keyed_hash():
    assert derive_seed("42", "a") == derive_seed("42", "a")
    assert derive_seed("42", "a") != derive_seed("42", "b")
    assert derive_seed("42", "a") != derive_seed("43", "a")
    assert len(derive_seed("42", "a")) == 32


def test_prng_streams_are_fixed_and_forks_independent():
    prng = Prng(b"\x01" * 32)
    first = [prng.random() for _ in range(40)]
    again = Prng(b"\x01" * 32)
    assert first == [again.random() for _ in range(40)]
    assert Prng(b"\x01" * 32).fork("a").random() != Prng(b"\x01" * 32).fork("b").random()
    assert all(0 <= x < 1 for x in first)
    assert {Prng(bytes([i]) * 32).integer(0, 3) for i in range(60)} == {0, 1, 2, 3}


@pytest.mark.parametrize("slug", shipped_style_slugs())
def test_golden_files(slug):
    """Same id + same style version gives the same bytes, forever."""
    path = GOLDEN / f"{slug}.json"
    cases = {
        identifier: {
            "svg_sha256": hashlib.sha256(svg.encode()).hexdigest(),
            "png64_sha256": hashlib.sha256(png).hexdigest(),
            "svg": svg,
        }
        for identifier in GOLDEN_IDS
        for svg, png in [render_case(slug, identifier)]
    }
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")
    assert cases == json.loads(path.read_text())


def test_identical_bytes_in_a_fresh_process():
    script = (
        "import hashlib, json, sys\n"
        "from generation.identity.catalog import shipped_style, shipped_style_slugs\n"
        "from generation.identity.raster import rasterise\n"
        "from generation.identity.render import render_svg\n"
        "from generation.identity.seed import derive_seed\n"
        "out = {}\n"
        "for slug in shipped_style_slugs():\n"
        "    seed = derive_seed('fresh-9', 's')\n"
        "    svg = render_svg(shipped_style(slug), seed, text='Fresh Nine')\n"
        "    out[slug] = [hashlib.sha256(svg.encode()).hexdigest(),\n"
        "                 hashlib.sha256(rasterise(svg, 128, 'png')).hexdigest(),\n"
        "                 hashlib.sha256(rasterise(svg, 96, 'webp')).hexdigest()]\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    child = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    remote = json.loads(child.stdout)
    for slug in shipped_style_slugs():
        svg = render_svg(shipped_style(slug), derive_seed("fresh-9", "s"), text="Fresh Nine")
        local = [
            hashlib.sha256(svg.encode()).hexdigest(),
            hashlib.sha256(rasterise(svg, 128, "png")).hexdigest(),
            hashlib.sha256(rasterise(svg, 96, "webp")).hexdigest(),
        ]
        assert remote[slug] == local, slug


@pytest.mark.parametrize("slug", shipped_style_slugs())
def test_contrast_rules_hold_for_every_seed(slug):
    style = shipped_style(slug)
    rules = [s for s in style.slots if s.contrast_against]
    assert rules, f"{slug} declares no contrast rule"
    palettes = [None, parse_palette({"kind": "brand", "colors": ["#ffffff", "#fefefe", "#f0f0f0"]})]
    for palette in palettes:
        for n in range(300):
            colours = resolve_colours(
                style, palette or style.palette, Prng(derive_seed(str(n), "c"))
            )
            for slot in rules:
                ratio = contrast_ratio(colours[slot.name], colours[slot.contrast_against])
                assert ratio >= slot.contrast_min, (slug, n, slot.name)


def test_initials_text_meets_4_5_and_figures_meet_3():
    """Every style has a foreground ruled against the background (or a shade of it)."""
    for slug in shipped_style_slugs():
        style = shipped_style(slug)
        grounds = {"background"} | {s.name for s in style.slots if s.derive_from == "background"}
        rules = {s.name: s.contrast_min for s in style.slots if s.contrast_against in grounds}
        if style.category == "initials":
            assert rules["text"] >= 4.5
        else:
            assert max(rules.values()) >= 3.0, slug


def test_forced_background_still_meets_contrast():
    style = shipped_style("initials")
    for colour in ("#ffffff", "#000000", "#777777", "#ff0000"):
        colours = resolve_colours(style, style.palette, Prng(b"z" * 32), background=colour)
        assert colours["background"] == colour
        assert contrast_ratio(colours["text"], colour) >= 4.5


def test_transparent_background_and_size():
    svg = render_svg(shipped_style("identicon"), b"q" * 32, size=48, background="transparent")
    assert 'width="48"' in svg and "<rect width=" not in svg
    image = Image.open(io.BytesIO(rasterise(svg, 48)))
    assert image.size == (48, 48) and image.getpixel((0, 0))[3] == 0


@pytest.mark.parametrize("size", [16, 100, 1024])
def test_raster_sizes(size):
    svg = render_svg(shipped_style("people"), b"s" * 32)
    assert Image.open(io.BytesIO(rasterise(svg, size))).size == (size, size)
    assert Image.open(io.BytesIO(rasterise(svg, size, "webp"))).format == "WEBP"


@pytest.mark.parametrize("size", [0, 15, 1025])
def test_raster_refuses_bad_sizes(size):
    with pytest.raises(ValueError):
        rasterise("<svg xmlns='http://www.w3.org/2000/svg'/>", size)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("ada lovelace", "AL"),
        ("grace.hopper@navy.mil", "GH"),
        ("Émile Zola", "ÉZ"),
        ("o'brien", "OB"),
        ("x", "X"),
        ("李小龙", "小龙"),
        ("김민준", "민준"),
        ("山田 太郎", "山太"),
        ("Σωκράτης Παππάς", "ΣΠ"),
        ("Иван Петров", "ИП"),
        ("محمد علي", "عم"),
        ("דוד כהן", "כד"),
        ("अमित शर्मा", "अश"),
        ("สมชาย ใจดี", "สจ"),
        ("", "?"),
        ("☃☃", "?"),
    ],
)
def test_initials(name, expected):
    assert initials(name) == expected


def test_linked_layers_share_their_choice():
    def variants(prefix: str) -> list[dict]:
        return [{"name": str(i), "svg": f"<g id='{prefix}{i}'/>"} for i in range(9)]

    definition = {
        "colors": [{"slot": "background"}],
        "layers": [
            {"name": "back", "variants": variants("b")},
            {"name": "front", "same_choice_as": "back", "variants": variants("f")},
        ],
    }
    style = compile_definition(definition)
    for n in range(40):
        svg = render_svg(style, bytes([n]) * 32)
        back = svg.split("id='b")[1][0]
        assert f"id='f{back}'" in svg


def test_editing_one_layer_keeps_the_others_draws():
    """Per-layer streams: a new version that changes one layer keeps the others' choices."""

    def definition(middle_variants: int) -> dict:
        def layer(name: str, count: int) -> dict:
            variants = [{"name": str(i), "svg": f"<g id='{name}{i}'/>"} for i in range(count)]
            return {"name": name, "variants": variants, "transform": {"rotate": [-30, 30]}}

        return {
            "colors": [{"slot": "background"}, {"slot": "fg"}],
            "layers": [layer("a", 9), layer("b", middle_variants), layer("c", 9)],
        }

    old, new = compile_definition(definition(3)), compile_definition(definition(7))
    for n in range(40):
        before, after = render_svg(old, bytes([n]) * 32), render_svg(new, bytes([n]) * 32)
        for name in ("a", "c"):
            assert re.search(f"<g transform=[^>]+><g id='{name}\\d'", before).group() == (
                re.search(f"<g transform=[^>]+><g id='{name}\\d'", after).group()
            )
        assert before.split("<g transform")[0] == after.split("<g transform")[0]


def test_initials_render_safely_from_many_threads():
    """The ASGI server renders in a thread pool; the font must survive that."""
    from concurrent.futures import ThreadPoolExecutor

    from generation.identity import glyphs

    glyphs.glyph.cache_clear()
    glyphs._font.cache_clear()
    style = shipped_style("initials")
    names = [f"{chr(65 + i % 26)}{chr(97 + i % 7)} {chr(90 - i % 26)}x" for i in range(200)]
    with ThreadPoolExecutor(8) as pool:
        svgs = list(pool.map(lambda n: render_svg(style, derive_seed(n, "t"), text=n), names))
    assert svgs == [render_svg(style, derive_seed(n, "t"), text=n) for n in names]


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_raster_shows_the_svg_colours(fmt):
    """The raster is the SVG drawn: background colour at the corner, a figure inside."""
    style = shipped_style("initials")
    seed = derive_seed("pixel-check", SECRET)
    colours = resolve_colours(style, style.palette, Prng(seed).fork("colors"))
    svg = render_svg(style, seed, text="Pixel Check")
    image = Image.open(io.BytesIO(rasterise(svg, 200, fmt))).convert("RGB")
    background = tuple(int(colours["background"][i : i + 2], 16) for i in (1, 3, 5))
    assert all(abs(a - b) <= 3 for a, b in zip(image.getpixel((2, 2)), background, strict=True))
    text = tuple(int(colours["text"][i : i + 2], 16) for i in (1, 3, 5))
    pixels = image.get_flattened_data()
    assert any(all(abs(a - b) <= 3 for a, b in zip(p, text, strict=True)) for p in pixels)


def test_people_grey_or_white_hair_in_at_most_15_percent():
    from generation.identity.color import parse_hex, rgb_to_oklch

    style = shipped_style("people")
    colours, skins = [], []
    for n in range(1000):
        drawn = resolve_colours(
            style, style.palette, Prng(derive_seed(f"look-{n}", SECRET)).fork("colors")
        )
        colours.append(drawn["hair"])
        skins.append(drawn["skin"])
    oklch = {c: rgb_to_oklch(parse_hex(c)) for c in set(colours)}
    grey = [c for c in colours if oklch[c][1] < 0.03 and oklch[c][0] > 0.45]
    assert len(grey) / len(colours) <= 0.15
    lightness = sorted({rgb_to_oklch(parse_hex(s))[0] for s in skins})
    assert lightness[0] < 0.45 and lightness[-1] > 0.85  # the whole range of skin tones
    assert len(set(skins)) == 10  # every tone drawn


def test_people_hair_cuts_get_a_fair_share():
    style = shipped_style("people")
    front = next(layer for layer in style.layers if layer.name == "hair")
    counts = dict.fromkeys(front.names, 0)
    for n in range(1400):
        svg = render_svg(style, derive_seed(f"cut-{n}", SECRET))
        for name, template in zip(front.names, front.templates, strict=True):
            # the longest stretch of the template with no colour slot in it
            marker = max(re.split(r"\{[a-z_]+\}", template), key=len)
            if marker and marker in svg:
                counts[name] += 1
                break
    drawn = {name: c for name, c in counts.items() if name != "bald"}
    assert all(40 <= c <= 200 for c in drawn.values()), counts  # each about 1 in 14
