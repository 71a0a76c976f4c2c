"""Pages: the style gallery (what `make run` opens on)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from generation.admin import SAMPLE_NAMES
from generation.identity.seed import MAX_IDENTIFIER_LENGTH
from generation.models import Palette, Style


def gallery(request: HttpRequest) -> HttpResponse:
    """Every style with sample avatars; a name typed in the form is drawn in every style."""
    name = request.GET.get("name", "").strip()[:MAX_IDENTIFIER_LENGTH]
    palette = request.GET.get("palette", "")
    palettes = list(Palette.objects.exclude(current_version=None).order_by("slug"))
    if palette not in {p.slug for p in palettes}:
        palette = ""
    seeds = [name] if name else list(SAMPLE_NAMES[:8])
    styles = Style.objects.filter(is_active=True).exclude(current_version=None)
    context = {
        "styles": styles.select_related("current_version"),
        "seeds": seeds,
        "name": name,
        "palette": palette,
        "palettes": palettes,
    }
    template = "gallery_grid.html" if request.htmx else "gallery.html"
    return render(request, template, context)
