"""Identity avatar endpoints: styles and palettes, avatars by seed, users' avatars."""

import json
import re

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from generation.avatars import (
    CONTENT_TYPES,
    AvatarRequest,
    cached_avatar,
    listed_styles,
    parse_options,
    pinned_request,
    seed_for,
    stored_avatar,
    version_facts,
)
from generation.errors import ApiError
from generation.identity.palettes import normalise_hex
from generation.identity.raster import MAX_SIZE, MIN_SIZE
from generation.identity.render import TRANSPARENT
from generation.identity.seed import MAX_IDENTIFIER_LENGTH
from generation.models import IdentityAvatar, Palette, PaletteVersion, Style, StyleVersion
from generation.off_loop import in_pool

router = Router()
users_router = Router()

DEFAULT_SIZE = 256
# The route's own parameters; any other query parameter is a DiceBear-style
# option (core options such as flip or rotate, and a DiceBear style's own).
AVATAR_QUERY = frozenset({"size", "palette", "version", "background"})
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=300"
_PALETTE_PARAM = re.compile(r"^(?P<slug>[-a-zA-Z0-9_]{1,40})(?:@(?P<version>\d{1,6}))?$")
_AVATAR_DOC = {
    "responses": {
        200: {
            "description": "The avatar image.",
            "content": {ctype: {} for ctype in CONTENT_TYPES.values()},
        },
        304: {"description": "Not modified (If-None-Match matched the ETag)."},
    }
}


class SizeRange(Schema):
    min: int
    max: int


class LicenseOut(Schema):
    name: str
    url: str
    attribution: str


class StyleOut(Schema):
    slug: str
    name: str
    category: str
    renderer: str  # "own" or "dicebear"
    license: LicenseOut | None
    version: int
    versions: list[int]
    formats: list[str]
    size: SizeRange
    backgrounds: list[str]
    palettes: list[str]


class PaletteOut(Schema):
    slug: str
    name: str
    version: int
    definition: dict


class ErrorOut(Schema):
    code: str
    message: str


def _licence(version: StyleVersion) -> dict[str, str] | None:
    found = version_facts(version).license
    return found.as_dict() if found else None


@router.get("/styles", response=list[StyleOut], summary="List identity avatar styles")
@in_pool
def list_styles(request: HttpRequest) -> list[dict]:
    palettes = list(Palette.objects.exclude(current_version=None).values_list("slug", flat=True))
    styles = listed_styles()
    numbers: dict[int, list[int]] = {}
    for style_id, number in StyleVersion.objects.filter(style__in=styles).values_list(
        "style_id", "number"
    ):
        numbers.setdefault(style_id, []).append(number)
    return [
        {
            "slug": style.slug,
            "name": style.name,
            "category": style.category,
            "renderer": version_facts(style.current_version).renderer,
            "license": _licence(style.current_version),
            "version": style.current_version.number,
            "versions": sorted(numbers[style.id]),
            "formats": list(CONTENT_TYPES),
            "size": {"min": MIN_SIZE, "max": MAX_SIZE},
            "backgrounds": ["default", TRANSPARENT, "#rrggbb"],
            "palettes": palettes,
        }
        for style in styles
    ]


@router.get("/palettes", response=list[PaletteOut], summary="List palettes")
@in_pool
def list_palettes(request: HttpRequest) -> list[dict]:
    return [
        {
            "slug": p.slug,
            "name": p.name,
            "version": p.current_version.number,
            "definition": p.current_version.definition,
        }
        for p in Palette.objects.exclude(current_version=None).select_related("current_version")
    ]


def _split_filename(filename: str) -> tuple[str, str]:
    stem, dot, fmt = filename.rpartition(".")
    if not dot or fmt not in CONTENT_TYPES:
        raise ApiError(400, "invalid_format", "Ask for a .svg, .png, .webp or .jpg file.")
    if not stem:
        raise ApiError(400, "invalid_seed", "The seed is empty.")
    return stem, fmt


def _parse_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_SIZE
    if not raw.isdigit() or not MIN_SIZE <= int(raw) <= MAX_SIZE:
        raise ApiError(
            400, "invalid_size", f"size must be a whole number from {MIN_SIZE} to {MAX_SIZE}."
        )
    return int(raw)


def _parse_background(raw: str | None) -> str | None:
    if raw is None or raw == "default":
        return None
    if raw == TRANSPARENT:
        return TRANSPARENT
    try:
        return normalise_hex(raw)
    except ValueError:
        raise ApiError(
            400, "invalid_background", "background is default, transparent or a hex colour."
        ) from None


def parse_palette_param(raw: str | None) -> tuple[PaletteVersion | None, bool]:
    """The palette version asked for, and whether it is pinned (slug@N)."""
    if raw is None:
        return None, True
    match = _PALETTE_PARAM.match(raw)
    if match is None:
        raise ApiError(400, "invalid_palette", "palette is a palette slug, optionally @version.")
    palette = Palette.objects.filter(slug=match["slug"]).select_related("current_version").first()
    if palette is None or palette.current_version is None:
        raise ApiError(404, "unknown_palette", f"No palette {match['slug']!r}.")
    number = int(match["version"]) if match["version"] else None
    version = palette.version(number)
    if version is None:
        raise ApiError(404, "unknown_palette_version", f"{palette.slug} has no version {number}.")
    return version, number is not None


def not_modified(request: HttpRequest, etag: str) -> bool:
    return etag in request.headers.get("If-None-Match", "")


def image_response(body: bytes | None, etag: str, fmt: str, cache: str) -> HttpResponse:
    """The image, or 304 Not Modified when `body` is None."""
    if body is None:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
        if fmt == "svg":
            response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["ETag"] = etag
    response["Cache-Control"] = cache
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.get(
    "/{style}/{filename}",
    summary="An identity avatar: /v1/avatars/{style}/{seed}.{svg|png|webp}",
    response={400: ErrorOut, 404: ErrorOut},
    openapi_extra=_AVATAR_DOC,
)
@in_pool
def avatar(
    request: HttpRequest,
    style: str,
    filename: str,
    size: str | None = None,
    palette: str | None = None,
    version: str | None = None,
    background: str | None = None,
) -> HttpResponse:
    seed, fmt = _split_filename(filename)
    if len(seed) > MAX_IDENTIFIER_LENGTH:
        raise ApiError(
            400, "seed_too_long", f"The seed is over {MAX_IDENTIFIER_LENGTH} characters."
        )
    side = _parse_size(size)
    backdrop = _parse_background(background)
    found = Style.objects.filter(slug=style, is_active=True).select_related("current_version")
    style_obj = found.first()
    if style_obj is None or style_obj.current_version is None:
        raise ApiError(404, "unknown_style", f"No style {style!r}; see /v1/avatars/styles.")
    if version is not None and not version.isdigit():
        raise ApiError(400, "invalid_version", "version is a whole number.")
    style_version = style_obj.version(int(version) if version else None)
    if style_version is None:
        raise ApiError(404, "unknown_version", f"{style_obj.slug} has no version {version}.")
    palette_version, palette_pinned = parse_palette_param(palette)
    extra = {k: request.GET[k] for k in request.GET if k not in AVATAR_QUERY}
    options = parse_options(style_version, extra) if extra else {}
    if "seed" in options or "size" in options:
        raise ApiError(400, "invalid_option", "The seed is in the path and size is `size`.")
    request_ = AvatarRequest(
        style_version,
        palette_version,
        seed_for(seed),
        fmt,
        side,
        backdrop,
        seed,
        options=json.dumps(options, separators=(",", ":")) if options else "",
    )
    pinned = version is not None and palette_pinned
    body = None if not_modified(request, request_.etag) else cached_avatar(request_)
    return image_response(body, request_.etag, fmt, IMMUTABLE if pinned else REVALIDATE)


@users_router.get(
    "/{public_id}/{filename}",
    summary="A user's identity avatar: /v1/users/{id}/avatar.{svg|png|webp}",
    response={400: ErrorOut, 404: ErrorOut},
    openapi_extra=_AVATAR_DOC,
)
@in_pool
def user_avatar(
    request: HttpRequest, public_id: str, filename: str, size: str | None = None
) -> HttpResponse:
    stem, fmt = _split_filename(filename)
    if stem != "avatar":
        raise ApiError(404, "not_found", "Ask for avatar.svg, avatar.png or avatar.webp.")
    side = _parse_size(size)
    avatar_obj = (
        IdentityAvatar.objects.filter(public_id=public_id)
        .select_related("style_version", "palette_version")
        .first()
    )
    if avatar_obj is None:
        raise ApiError(404, "unknown_avatar", "No avatar with that id.")
    etag = pinned_request(avatar_obj, fmt, side).etag
    body = None if not_modified(request, etag) else stored_avatar(avatar_obj, fmt, side)
    return image_response(body, etag, fmt, "public, max-age=86400")
