"""The DiceBear-compatible HTTP API: GET /10.x/{style}/{format}.

A platform leaving DiceBear's hosted API changes only the host: the same
query options (validated by each style's descriptor and dicebear-core's
schema, lists comma-separated) give byte-identical SVG. On top of DiceBear:
PNG, WebP and JPEG up to 1024 px, `keyed=true` (the seed becomes this
deployment's HMAC of it, so user ids cannot be read back from avatars),
`version=N` (a pinned style version) and `palette=slug[@N]`. The project's own
styles answer here too, by their own slugs, with the core options.
"""

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from generation.avatars import (
    AvatarRequest,
    cached_avatar,
    parse_options,
    render_svg_text,
    renderer_of,
    seed_for,
)
from generation.errors import ApiError
from generation.identity import dicebear
from generation.identity.raster import MAX_SIZE, MIN_SIZE
from generation.identity.seed import MAX_IDENTIFIER_LENGTH
from generation.models import Style, StyleVersion
from generation.off_loop import in_pool

from .identity import IMMUTABLE, REVALIDATE, image_response, not_modified, parse_palette_param

FORMATS = ("svg", "png", "jpg", "webp", "json")
RASTER_DEFAULT_SIZE = 256
EXTENSIONS = ("keyed", "version", "palette")


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


def _style(name: str) -> Style:
    found = (
        Style.objects.filter(slug__in=(dicebear.SLUG_PREFIX + name, name), is_active=True)
        .exclude(current_version=None)
        .select_related("current_version")
    )
    by_slug = {style.slug: style for style in found}
    style = by_slug.get(dicebear.SLUG_PREFIX + name) or by_slug.get(name)
    if style is None:
        raise ApiError(404, "unknown_style", f"No style {name!r}; see /v1/avatars/styles.")
    return style


def _version(style: Style, raw: str | None) -> StyleVersion:
    if raw is None:
        return style.current_version
    if not raw.isdigit() or len(raw) > 6:
        raise ApiError(400, "invalid_version", "version is a whole number.")
    version = style.version(int(raw))
    if version is None:
        raise ApiError(404, "unknown_version", f"{style.slug} has no version {raw}.")
    return version


def _keyed(raw: str | None) -> bool:
    if raw in (None, "false", "0"):
        return False
    if raw in ("true", "1", ""):
        return True
    raise ApiError(400, "invalid_option", "keyed takes true or false.")


def _size(options: dict[str, Any], fmt: str) -> int:
    size = options.get("size")
    if fmt in ("svg", "json"):
        return int(size) if isinstance(size, int | float) else RASTER_DEFAULT_SIZE
    size = RASTER_DEFAULT_SIZE if size is None else size
    if not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ApiError(
            400, "invalid_size", f"size must be a whole number from {MIN_SIZE} to {MAX_SIZE}."
        )
    return size


@in_pool
def avatar(request: HttpRequest, style: str, fmt: str) -> HttpResponse:
    try:
        return _avatar(request, style, fmt)
    except ApiError as exc:
        return _error(exc.status, exc.code, exc.message)


def _avatar(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise ApiError(400, "invalid_format", f"format is one of {', '.join(FORMATS)}.")
    query = {key: request.GET[key] for key in request.GET}
    extensions = {key: query.pop(key) for key in EXTENSIONS if key in query}
    style = _style(name)
    version = _version(style, extensions.get("version"))
    palette_version, palette_pinned = parse_palette_param(extensions.get("palette"))
    keyed = _keyed(extensions.get("keyed"))
    options = parse_options(version, query)
    seed = str(options.pop("seed", ""))
    if len(seed) > MAX_IDENTIFIER_LENGTH:
        raise ApiError(
            400, "seed_too_long", f"The seed is over {MAX_IDENTIFIER_LENGTH} characters."
        )
    size = _size(options, fmt)
    own = renderer_of(version) == "own"
    if own:
        options.pop("size", None)
    raw_seed = None if keyed or own else seed
    drawn = AvatarRequest(
        version,
        palette_version,
        seed_for(seed),
        "svg" if fmt == "json" else fmt,
        size,
        text=seed,
        options=json.dumps(options, separators=(",", ":")),
        raw_seed=raw_seed,
    )
    pinned = "version" in extensions and palette_pinned
    cache = IMMUTABLE if pinned else REVALIDATE
    if fmt == "json":
        svg = render_svg_text(drawn)
        response = JsonResponse({"svg": svg, "options": {"seed": seed, **options}})
        response["Cache-Control"] = cache
        return response
    body = None if not_modified(request, drawn.etag) else cached_avatar(drawn)
    return image_response(body, drawn.etag, fmt, cache)
