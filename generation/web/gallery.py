"""Pages: the style gallery (what `make run` opens on)."""

from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from generation.admin import SAMPLE_NAMES
from generation.avatars import listed_styles, version_facts
from generation.identity.dicebear import License, requires_credit
from generation.identity.seed import MAX_IDENTIFIER_LENGTH
from generation.models import Palette, Style

CATEGORY_ORDER = ("faces", "characters", "initials", "icons", "abstract", "geometric")
SOURCES = (("own", "The service's own styles"), ("dicebear", "DiceBear styles"))


@dataclass
class GalleryStyle:
    style: Style
    license: License | None
    credit: bool  # the licence asks for its credit line wherever the style is shown


@dataclass
class Group:
    title: str
    categories: list[tuple[str, list[GalleryStyle]]] = field(default_factory=list)


def grouped(styles: list[Style]) -> list[Group]:
    """Styles by source (own, DiceBear), then by category."""
    groups = []
    for source, title in SOURCES:
        by_category: dict[str, list[GalleryStyle]] = {}
        for style in styles:
            facts = version_facts(style.current_version)
            if facts.renderer != source:
                continue
            licence = facts.license
            entry = GalleryStyle(style, licence, requires_credit(licence))
            by_category.setdefault(style.category, []).append(entry)
        order = sorted(
            by_category,
            key=lambda c: (
                c not in CATEGORY_ORDER,
                CATEGORY_ORDER.index(c) if c in CATEGORY_ORDER else 0,
                c,
            ),
        )
        if by_category:
            groups.append(Group(title, [(c, by_category[c]) for c in order]))
    return groups


def gallery(request: HttpRequest) -> HttpResponse:
    """Every style with sample avatars; a name typed in the form is drawn in every style."""
    name = request.GET.get("name", "").strip()[:MAX_IDENTIFIER_LENGTH]
    palette = request.GET.get("palette", "")
    palettes = list(Palette.objects.exclude(current_version=None).order_by("slug"))
    if palette not in {p.slug for p in palettes}:
        palette = ""
    seeds = [name] if name else list(SAMPLE_NAMES[:8])
    context = {
        "groups": grouped(list(listed_styles())),
        "seeds": seeds,
        "name": name,
        "palette": palette,
        "palettes": palettes,
    }
    template = "gallery_grid.html" if request.htmx else "gallery.html"
    return render(request, template, context)
