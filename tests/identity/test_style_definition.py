import copy

import pytest

from generation.identity.catalog import shipped_definition, shipped_style_slugs
from generation.identity.style import StyleDefinitionError, compile_definition

BASE = {
    "name": "Test",
    "colors": [
        {"slot": "background", "tone": "light"},
        {"slot": "fg", "tone": "dark", "contrast": {"against": "background", "min": 3}},
    ],
    "layers": [
        {"name": "dot", "variants": [{"svg": "<circle cx='50' cy='50' r='9' fill='{fg}'/>"}]}
    ],
}


def with_fragment(svg):
    definition = copy.deepcopy(BASE)
    definition["layers"][0]["variants"][0]["svg"] = svg
    return definition


def test_every_shipped_style_compiles():
    assert len(shipped_style_slugs()) >= 10
    for slug in shipped_style_slugs():
        compile_definition(shipped_definition(slug))


@pytest.mark.parametrize(
    "svg,fragment_of_message",
    [
        ("<script>alert(1)</script>", "<script>"),
        ("<circle onload='alert(1)' r='3'/>", "event attribute"),
        ("<image href='https://evil.example/x.png'/>", "<image>"),
        ("<rect fill='url(https://evil.example/x)' width='3' height='3'/>", "external"),
        ("<a href='javascript:alert(1)'><rect width='3' height='3'/></a>", "<a>"),
        ("<foreignObject><div/></foreignObject>", "<foreignobject>"),
        ("<style>rect{{fill:red}}</style>", "<style>"),
        ("<use href='#x'/>", "<use>"),
        ("<circle r='3' fill='{nope}'/>", "unknown colour slot"),
        ("<circle r='3'", "not well-formed"),
        ("<circle r='3' fill='{fg'/>", "placeholder"),
        ("<!DOCTYPE x [<!ENTITY a 'b'>]><circle/>", "not well-formed"),
        ("x" * 9000, "characters"),
    ],
)
def test_hostile_or_broken_fragments_are_refused(svg, fragment_of_message):
    with pytest.raises(StyleDefinitionError) as excinfo:
        compile_definition(with_fragment(svg))
    assert fragment_of_message in str(excinfo.value)


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda d: d.pop("layers"), "layers"),
        (lambda d: d.__setitem__("colors", [{"slot": "fg"}]), "background"),
        (lambda d: d["colors"][1]["contrast"].__setitem__("against", "later"), "earlier slot"),
        (lambda d: d["colors"][1]["contrast"].__setitem__("min", 99), "1-21"),
        (
            lambda d: d["layers"].__setitem__(0, {"type": "grid", "cols": 99, "colors": ["fg"]}),
            "cols",
        ),
        (lambda d: d["layers"].__setitem__(0, {"type": "sparkles"}), "type"),
        (lambda d: d["layers"].append(copy.deepcopy(d["layers"][0])), "used twice"),
        (lambda d: d["layers"][0].__setitem__("same_choice_as", "nothing"), "same_choice_as"),
        (lambda d: d["layers"][0].__setitem__("transform", {"rotate": [10, -10]}), "rotate"),
        (lambda d: d.__setitem__("canvas", {"size": 10**9}), "canvas"),
    ],
)
def test_structural_mistakes_name_the_field(mutate, message):
    definition = copy.deepcopy(BASE)
    mutate(definition)
    with pytest.raises(StyleDefinitionError) as excinfo:
        compile_definition(definition)
    assert message in str(excinfo.value)


def test_not_an_object():
    with pytest.raises(StyleDefinitionError):
        compile_definition(["not", "a", "definition"])
