"""Identity avatars in the Django layer: cached rendering of requests, each
user's pinned record in storage, and the shipped defaults."""

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import QuerySet

from generation.errors import ApiError
from generation.identity import catalog, dicebear
from generation.identity.core_options import OWN_STYLE_FIELDS, CoreOptionError, CoreOptions
from generation.identity.palettes import PaletteSpec, draw_palette, parse_palette
from generation.identity.prng import Prng
from generation.identity.raster import RASTERISER, rasterise
from generation.identity.render import TRANSPARENT, render_svg
from generation.identity.seed import derive_seed
from generation.identity.style import CONTRAST_GRAPHICS, StyleDefinition, compile_definition
from generation.models import (
    IdentityAvatar,
    Palette,
    PaletteMapping,
    PaletteVersion,
    Style,
    StyleVersion,
)

logger = logging.getLogger(__name__)

# Part of every cache key and ETag: bump it only if the renderer's output for
# an existing version has to change (it should not; golden files guard it).
RENDER_REVISION = f"r1-{RASTERISER}"
CONTENT_TYPES = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "webp": "image/webp",
    "jpg": "image/jpeg",
}

_compiled_styles: dict[str, StyleDefinition] = {}
_parsed_palettes: dict[str, PaletteSpec] = {}


def compiled_style(version: StyleVersion) -> StyleDefinition:
    """The compiled definition, once per version digest (versions never change)."""
    style = _compiled_styles.get(version.digest)
    if style is None:
        style = _compiled_styles[version.digest] = compile_definition(version.definition)
    return style


def palette_spec(version: PaletteVersion | None) -> PaletteSpec | None:
    if version is None:
        return None
    spec = _parsed_palettes.get(version.digest)
    if spec is None:
        spec = _parsed_palettes[version.digest] = parse_palette(version.definition)
    return spec


@dataclass(frozen=True)
class AvatarRequest:
    """Everything that decides an avatar's bytes."""

    style_version: StyleVersion
    palette_version: PaletteVersion | None
    seed: bytes
    fmt: str
    size: int
    background: str | None = None
    text: str = ""
    # DiceBear-style options as canonical JSON ("" for none), and the seed
    # string given verbatim to a DiceBear style (its compatible, unkeyed mode).
    options: str = ""
    raw_seed: str | None = None

    @property
    def key(self) -> str:
        parts = (
            RENDER_REVISION,
            self.style_version.digest,
            self.palette_version.digest if self.palette_version else "-",
            self.seed.hex(),
            self.fmt,
            str(self.size),
            self.background or "-",
            self.text,
            self.options,
            "-" if self.raw_seed is None else f"raw:{self.raw_seed}",
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    @property
    def etag(self) -> str:
        return f'"{self.key[:40]}"'


def seed_for(identifier: str) -> bytes:
    return derive_seed(identifier, settings.AVATAR_SEED_SECRET)


def parse_options(version: StyleVersion, query: dict[str, str]) -> dict[str, Any]:
    """DiceBear-style query options for a style version: its own descriptor for
    a DiceBear style, the core options for an own style. Unknown names and bad
    values are an ApiError 400 with DiceBearOptionError's code."""
    try:
        if renderer_of(version) == "dicebear":
            return dicebear_style(version).parse_query(query)
        options = dicebear.parse_query(OWN_STYLE_FIELDS, query)
        CoreOptions.from_options(options)
    except dicebear.DiceBearOptionError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    except CoreOptionError as exc:
        raise ApiError(400, "invalid_option", str(exc)) from None
    return options


def dicebear_style(version: StyleVersion) -> dicebear.DiceBearStyle:
    """A DiceBear style version, built once from its definition as published."""
    return dicebear.compiled(lambda: version.ordered_definition, version.digest)


def renderer_of(version: StyleVersion) -> str:
    """Which renderer draws a style version: "dicebear" (dicebear-core) or "own"."""
    return "dicebear" if dicebear.is_dicebear_definition(version.definition) else "own"


@dataclass(frozen=True)
class VersionFacts:
    renderer: str
    license: dicebear.License | None


_version_facts: dict[str, VersionFacts] = {}


def listed_styles() -> QuerySet[Style]:
    """The active, published styles as listings show them (the API's style list, the
    gallery): with their current versions, but not those versions' definitions (the
    DiceBear ones are up to 450 kB each); version_facts reads what a listing needs
    from a definition once per digest."""
    return (
        Style.objects.filter(is_active=True)
        .exclude(current_version=None)
        .select_related("current_version")
        .defer("current_version__definition", "current_version__definition_text")
    )


def version_facts(version: StyleVersion) -> VersionFacts:
    """A version's renderer and licence, read once per digest (versions never
    change); a deferred definition is loaded only then."""
    facts = _version_facts.get(version.digest)
    if facts is None:
        facts = VersionFacts(renderer_of(version), dicebear.license_of(version.definition))
        _version_facts[version.digest] = facts
    return facts


def render_svg_text(request: AvatarRequest) -> str:
    """The SVG of a request, by `dicebear-core` for DiceBear definitions and by
    the own renderer otherwise."""
    version = request.style_version
    options = json.loads(request.options) if request.options else {}
    if renderer_of(version) == "dicebear":
        return dicebear_svg(request, options)
    return render_svg(
        compiled_style(version),
        request.seed,
        palette_spec(request.palette_version),
        size=request.size,
        background=request.background,
        text=request.text,
        core=CoreOptions.from_options(options) if options else None,
    )


def dicebear_svg(request: AvatarRequest, options: dict[str, Any]) -> str:
    """A DiceBear style drawn for a request: seeded by the keyed seed's hex
    unless a raw seed is given (styles drawing initials take the name), in the
    palette through the style's colour options; `options` are the caller's
    DiceBear options and win."""
    version = request.style_version
    style = dicebear_style(version)
    if request.raw_seed is not None:
        seed = request.raw_seed
    else:
        seed = request.text if style.draws_initials and request.text else request.seed.hex()
    # DiceBear's own (unkeyed) mode sets only what the caller asked for, so the
    # SVG is byte-identical to dicebear-core's for the same options.
    drawn: dict[str, Any] = {"seed": seed}
    if request.raw_seed is None:
        drawn["size"] = request.size
    spec = palette_spec(request.palette_version)
    forced = request.background if request.background != TRANSPARENT else None
    if spec is not None or forced:
        colours = draw_palette(spec, Prng(request.seed).fork("colors")) if spec else (forced,)
        drawn.update(dicebear.palette_options(style, colours, forced, CONTRAST_GRAPHICS))
    drawn.update(options)
    return style.render(drawn)


def render_avatar(request: AvatarRequest) -> bytes:
    svg = render_svg_text(request)
    if request.fmt == "svg":
        return svg.encode()
    return rasterise(svg, request.size, request.fmt)


def cached_avatar(request: AvatarRequest) -> bytes:
    """Drawn once per key and kept in the cache; with the cache unreachable
    (Redis down) each request draws it again rather than failing."""
    key = f"identity:{request.key}"
    try:
        body = cache.get(key)
    except Exception:  # any backend's connection error
        logger.warning("Avatar cache unreachable; drawing without it", exc_info=True)
        return render_avatar(request)
    if body is None:
        body = render_avatar(request)
        try:
            cache.set(key, body, timeout=None)
        except Exception:
            logger.warning("Avatar cache unreachable; not kept", exc_info=True)
    return body


def mapping_for(role: str, team: str) -> PaletteMapping | None:
    """The team rule if there is one, else the role rule."""
    rules = PaletteMapping.objects.select_related("palette", "style")
    if team:
        rule = rules.filter(kind=PaletteMapping.Kind.TEAM, value=team).first()
        if rule is not None:
            return rule
    return rules.filter(kind=PaletteMapping.Kind.ROLE, value=role).first()


def _avatar_path(avatar: IdentityAvatar, size: int, fmt: str) -> str:
    return f"identity/{avatar.public_id}/{size}.{fmt}"


def pinned_request(avatar: IdentityAvatar, fmt: str, size: int) -> AvatarRequest:
    return AvatarRequest(
        avatar.style_version,
        avatar.palette_version,
        bytes.fromhex(avatar.seed),
        fmt,
        size,
        text=avatar.initials_source,
    )


def default_identity_style(role: str, team: str) -> Style | None:
    """The style the role/team rule names, else the deployment's default."""
    mapping = mapping_for(role, team)
    if mapping is not None and mapping.style is not None:
        return mapping.style
    return Style.objects.filter(slug=settings.IDENTITY_DEFAULT_STYLE).first()


def identity_draft(
    identifier: str, initials: str, role: str, team: str, style: Style | None = None
) -> IdentityAvatar | None:
    """The (unsaved) avatar record a user would get today: seeded from
    `identifier`, in `style` (else the default for the role and team), with
    the role/team palette. The signup page previews exactly this."""
    style = style or default_identity_style(role, team)
    if style is None or style.current_version is None:
        return None
    mapping = mapping_for(role, team)
    return IdentityAvatar(
        seed=seed_for(identifier).hex(),
        initials_source=initials,
        style_version=style.current_version,
        palette_version=mapping.palette.current_version if mapping else None,
    )


def create_identity_avatar(
    user, identifier: str | None = None, style: Style | None = None
) -> IdentityAvatar | None:
    """Draw and store a new user's avatar, pinned to today's style and palette.
    Seeded from the user id unless `identifier` is given (signup seeds from
    the username the preview showed); `style` overrides the default."""
    avatar = identity_draft(
        identifier or str(user.pk),
        user.get_full_name() or user.get_username(),
        user.role,
        user.team,
        style,
    )
    if avatar is None:
        logger.warning("No identity styles installed: run `manage.py load_identity_defaults`.")
        return None
    avatar.user = user
    _draw_files(avatar)
    avatar.save()
    return avatar


def _draw_files(avatar: IdentityAvatar) -> None:
    size = settings.IDENTITY_SIGNUP_PNG_SIZE
    for fmt, field in (("svg", avatar.svg_file), ("png", avatar.png_file)):
        body = render_avatar(pinned_request(avatar, fmt, size))
        field.name = default_storage.save(_avatar_path(avatar, size, fmt), ContentFile(body))


def restyle_identity_avatar(avatar: IdentityAvatar, style: Style) -> IdentityAvatar:
    """The same seed and palette, pinned to `style`'s current version (the
    person cycled styles on /me/avatar/); its stored files are drawn again."""
    if style.current_version_id == avatar.style_version_id:
        return avatar
    delete_avatar_files(avatar)
    avatar.style_version = style.current_version
    _draw_files(avatar)
    avatar.save(update_fields=["style_version", "svg_file", "png_file"])
    return avatar


def stored_avatar(avatar: IdentityAvatar, fmt: str, size: int) -> bytes:
    """A user's avatar from storage; drawn (from the pinned versions) and stored
    the first time a size or format is asked for."""
    path = _avatar_path(avatar, size, fmt)
    if default_storage.exists(path):
        with default_storage.open(path, "rb") as handle:
            return handle.read()
    body = render_avatar(pinned_request(avatar, fmt, size))
    default_storage.save(path, ContentFile(body))
    return body


def install_defaults() -> dict[str, int]:
    """Create the shipped styles (own and DiceBear's), palettes and role mapping
    where missing (idempotent)."""
    created = {"styles": 0, "palettes": 0, "mappings": 0}
    for slug in catalog.shipped_style_slugs():
        definition = catalog.shipped_definition(slug)
        style, new = Style.objects.get_or_create(
            slug=slug,
            defaults={"name": definition["name"], "category": definition["category"]},
        )
        if style.current_version is None:
            style.publish(definition)
        created["styles"] += new
    for name in dicebear.shipped_names():
        definition = dicebear.shipped_definition(name)
        style, new = Style.objects.get_or_create(
            slug=dicebear.SLUG_PREFIX + name,
            defaults={
                "name": catalog.dicebear_style_name(name, definition),
                "category": catalog.dicebear_category(name),
            },
        )
        if style.current_version is None:
            style.publish(definition)
        created["styles"] += new
    for slug, definition in catalog.DEFAULT_PALETTES.items():
        palette, new = Palette.objects.get_or_create(
            slug=slug, defaults={"name": slug.replace("-", " ").title()}
        )
        if palette.current_version is None:
            palette.publish(definition)
        created["palettes"] += new
    for role, slug in catalog.DEFAULT_ROLE_PALETTES.items():
        _, new = PaletteMapping.objects.get_or_create(
            kind=PaletteMapping.Kind.ROLE,
            value=role,
            defaults={"palette": Palette.objects.get(slug=slug)},
        )
        created["mappings"] += new
    return created


def delete_avatar_files(avatar: IdentityAvatar) -> None:
    """Remove every stored size and format of a user's avatar."""
    folder = f"identity/{avatar.public_id}"
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")
