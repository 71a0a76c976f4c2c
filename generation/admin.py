"""Admin: styles and palettes are edited as JSON definitions; saving a changed
definition publishes a new immutable version, so users' pinned avatars stay."""

import base64
import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from accounts.models import PlatformAccount
from generation.avatars import AvatarRequest, palette_spec, render_svg_text
from generation.identity import dicebear
from generation.identity.dicebear import DiceBearValidationError, license_of
from generation.identity.palettes import PaletteError, generated_colours, parse_palette
from generation.identity.seed import derive_seed
from generation.identity.style import StyleDefinitionError, compile_definition
from generation.models import (
    AvatarOffer,
    Batch,
    CustomStyle,
    IdentityAvatar,
    Job,
    Palette,
    PaletteMapping,
    PaletteVersion,
    ProfileAvatar,
    SignupSettings,
    Style,
    StyleVersion,
    SubjectModel,
    TeamAdmin,
)
from generation.offer_chart import rate_chart
from generation.offers import offers_since

SAMPLE_NAMES = (
    "Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Linus Torvalds",
    "Margaret Hamilton", "Tim Berners-Lee", "Hedy Lamarr", "Dennis Ritchie", "Radia Perlman",
    "Ken Thompson", "Barbara Liskov",
)  # fmt: skip
PREVIEW_STYLE_FOR_PALETTES = "shapes"


def _img(svg: str, size: int) -> SafeString:
    data = base64.b64encode(svg.encode()).decode()
    return format_html(
        '<img src="data:image/svg+xml;base64,{}" width="{}" height="{}" alt="" '
        'style="border-radius:8px;margin:3px">',
        data,
        size,
        size,
    )


def preview_grid(style_version: StyleVersion, palette_version=None, count=12, size=72) -> str:
    def drawn(name: str) -> str:
        seed = derive_seed(name, "preview")
        return render_svg_text(
            AvatarRequest(style_version, palette_version, seed, "svg", size, text=name)
        )

    return format_html_join("", "{}", ((_img(drawn(name), size),) for name in SAMPLE_NAMES[:count]))


class IndentedJSONField(forms.JSONField):
    """JSON shown indented, so a definition can be read and edited in the admin."""

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class DefinitionForm(forms.ModelForm):
    """A model form with the current version's definition as an editable JSON field."""

    definition = IndentedJSONField(
        widget=forms.Textarea(attrs={"rows": 28, "cols": 110, "style": "font-family:monospace"}),
        help_text="Saving a changed definition publishes a new version; existing avatars keep "
        "the version they were drawn with.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = getattr(self.instance, "current_version", None)
        if current is not None:
            self.fields["definition"].initial = current.definition

    def validate_definition(self, definition: Any) -> None:
        raise NotImplementedError

    def clean_definition(self) -> Any:
        definition = self.cleaned_data["definition"]
        try:
            self.validate_definition(definition)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return definition


class StyleForm(DefinitionForm):
    class Meta:
        model = Style
        fields = ("slug", "name", "category", "is_active", "definition")

    def validate_definition(self, definition: Any) -> None:
        if dicebear.is_dicebear_definition(definition):
            try:
                dicebear.DiceBearStyle(definition)
            except (DiceBearValidationError, ValueError, TypeError) as exc:
                raise ValueError(f"Not a valid DiceBear definition: {exc}") from exc
            return
        try:
            compile_definition(definition)
        except StyleDefinitionError as exc:
            raise ValueError(str(exc)) from exc


class PaletteForm(DefinitionForm):
    class Meta:
        model = Palette
        fields = ("slug", "name", "definition")

    def validate_definition(self, definition: Any) -> None:
        try:
            parse_palette(definition)
        except PaletteError as exc:
            raise ValueError(str(exc)) from exc


class VersionInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False
    fields = ("number", "created_at", "digest_short", "preview")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="digest")
    def digest_short(self, version) -> str:
        return version.digest[:12]


class StyleVersionInline(VersionInline):
    model = StyleVersion

    @admin.display(description="preview")
    def preview(self, version: StyleVersion) -> str:
        return preview_grid(version, count=6, size=40)


class PaletteVersionInline(VersionInline):
    model = PaletteVersion

    @admin.display(description="swatches")
    def preview(self, version: PaletteVersion) -> str:
        return swatches(version)


class VersionedDefinitionAdmin(admin.ModelAdmin):
    save_on_top = True

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        before = obj.current_version
        version = obj.publish(form.cleaned_data["definition"])
        if before is not None and version.pk != before.pk:
            self.message_user(request, f"Published version {version.number} of {obj.slug}.")


@admin.register(Style)
class StyleAdmin(VersionedDefinitionAdmin):
    form = StyleForm
    list_display = ("slug", "name", "category", "version_number", "licence", "is_active", "sample")
    list_filter = ("category", "is_active")
    readonly_fields = ("preview", "licence")
    inlines = (StyleVersionInline,)
    fieldsets = (
        (None, {"fields": ("slug", "name", "category", "is_active", "licence")}),
        ("Preview of the current version (12 sample seeds)", {"fields": ("preview",)}),
        ("Definition", {"fields": ("definition",)}),
    )

    @admin.display(description="version")
    def version_number(self, style: Style) -> int | None:
        return style.current_version.number if style.current_version else None

    @admin.display(description="licence")
    def licence(self, style: Style) -> str:
        found = license_of(style.current_version.definition) if style.current_version else None
        if found is None:
            return "-"
        return format_html(
            '<a href="{}" title="{}">{}</a>', found.url, found.attribution, found.name
        )

    @admin.display(description="samples")
    def sample(self, style: Style) -> str:
        return (
            preview_grid(style.current_version, count=4, size=36) if style.current_version else ""
        )

    @admin.display(description="preview")
    def preview(self, style: Style) -> str:
        return preview_grid(style.current_version) if style.current_version else "Save to preview."


def swatches(version: PaletteVersion, hues: int = 6) -> str:
    """Colour chips: a brand palette's colours, or a generated palette at sample hues."""
    spec = palette_spec(version)
    if spec.kind == "brand":
        rows = [spec.colors]
    else:
        low, high = spec.hue_range
        step = (high - low) // max(1, hues - 1)
        rows = [generated_colours(spec, (low + step * i) % 360) for i in range(hues)]
    return format_html_join(
        "",
        '<div style="display:flex;gap:2px;margin:2px 0">{}</div>',
        (
            (
                format_html_join(
                    "",
                    '<span title="{}" style="display:inline-block;width:22px;height:22px;'
                    'border-radius:4px;background:{}"></span>',
                    ((c, c) for c in row),
                ),
            )
            for row in rows
        ),
    )


@admin.register(Palette)
class PaletteAdmin(VersionedDefinitionAdmin):
    form = PaletteForm
    list_display = ("slug", "name", "version_number", "swatch_strip")
    readonly_fields = ("swatch_preview", "avatar_preview")
    inlines = (PaletteVersionInline,)
    fieldsets = (
        (None, {"fields": ("slug", "name")}),
        ("Swatches", {"fields": ("swatch_preview", "avatar_preview")}),
        ("Definition", {"fields": ("definition",)}),
    )

    @admin.display(description="version")
    def version_number(self, palette: Palette) -> int | None:
        return palette.current_version.number if palette.current_version else None

    @admin.display(description="swatches")
    def swatch_strip(self, palette: Palette) -> str:
        return swatches(palette.current_version, hues=1) if palette.current_version else ""

    @admin.display(description="swatches (generated palettes: a row per sample hue)")
    def swatch_preview(self, palette: Palette) -> str:
        return swatches(palette.current_version) if palette.current_version else "Save to preview."

    @admin.display(description=f"in the {PREVIEW_STYLE_FOR_PALETTES} style")
    def avatar_preview(self, palette: Palette) -> str:
        style = Style.objects.filter(slug=PREVIEW_STYLE_FOR_PALETTES).first()
        if palette.current_version is None or style is None or style.current_version is None:
            return ""
        return preview_grid(style.current_version, palette.current_version, count=8, size=56)


@admin.register(PaletteMapping)
class PaletteMappingAdmin(admin.ModelAdmin):
    list_display = ("kind", "value", "palette", "style")
    list_editable = ("palette", "style")
    list_filter = ("kind",)


@admin.register(IdentityAvatar)
class IdentityAvatarAdmin(admin.ModelAdmin):
    list_display = ("user", "avatar", "style_version", "palette_version", "created_at")
    list_select_related = ("user", "style_version__style", "palette_version__palette")
    search_fields = ("user__username", "user__email", "public_id")
    readonly_fields = (
        "user", "public_id", "seed", "initials_source", "style_version", "palette_version",
        "svg_file", "png_file", "created_at", "avatar",
    )  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="avatar")
    def avatar(self, record: IdentityAvatar) -> str:
        return format_html(
            '<img src="/v1/users/{}/avatar.svg?size=48" width="48" height="48" alt="">',
            record.public_id,
        )


@admin.register(ProfileAvatar)
class ProfileAvatarAdmin(admin.ModelAdmin):
    """The photo or AI avatar a person picked; deleting one puts them back on
    their identity avatar (and deletes its files)."""

    list_display = ("user", "avatar", "kind", "style", "created_at")
    list_filter = ("kind", "style")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email", "public_id")
    readonly_fields = ("user", "public_id", "kind", "style", "image", "created_at", "avatar")

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="avatar")
    def avatar(self, record: ProfileAvatar) -> str:
        return format_html(
            '<img src="{}" width="48" height="48" alt="">',
            reverse("profile-avatar", args=[record.public_id, 96]),
        )


@admin.register(SignupSettings)
class SignupSettingsAdmin(admin.ModelAdmin):
    """One row: add it once, then change it (deleting it falls back to the settings)."""

    list_display = ("portrait_style", "platform", "updated_at")

    def has_add_permission(self, request) -> bool:
        return not SignupSettings.objects.exists()


CHART_PERIODS = (7, 30, 90, 365)  # days


@admin.register(AvatarOffer)
class AvatarOfferAdmin(admin.ModelAdmin):
    """Offers are records of what people did: read-only, with a chart of the
    accept/decline rates by style and platform over time."""

    list_display = (
        "offered_at", "style", "platform", "offered_by", "outcome", "kept", "decided_at",
    )  # fmt: skip
    list_filter = ("outcome", "style", "platform", "kept", "account")
    list_select_related = ("account",)
    date_hierarchy = "offered_at"
    change_list_template = "admin/generation/avataroffer/change_list.html"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="offered by", ordering="account__name")
    def offered_by(self, offer: AvatarOffer) -> str:
        return offer.account.name if offer.account else "this site's signup"

    def get_urls(self) -> list:
        chart = path(
            "chart/",
            self.admin_site.admin_view(self.chart_view),
            name="generation_avataroffer_chart",
        )
        return [chart, *super().get_urls()]

    def chart_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        asked = request.GET.get("days", "")
        days = int(asked) if asked in map(str, CHART_PERIODS) else 30
        accounts = PlatformAccount.objects.filter(avatar_offers__isnull=False).distinct()
        chosen = request.GET.get("account", "")
        last = timezone.localdate()
        first = last - timedelta(days=days - 1)
        offers = offers_since(datetime.combine(first, time(), tzinfo=UTC))
        if chosen == "site":
            offers = offers.filter(account__isnull=True)
        elif chosen.isdigit() and accounts.filter(pk=int(chosen)).exists():
            offers = offers.filter(account_id=int(chosen))
        else:
            chosen = ""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "AI avatar answers by style and platform",
            "chart": rate_chart(offers, first, last),
            "periods": CHART_PERIODS,
            "days": days,
            "accounts": accounts.order_by("name"),
            "chosen": chosen,
        }
        return TemplateResponse(request, "admin/generation/avataroffer/chart.html", context)


class TrainedModelAdmin(admin.ModelAdmin):
    """Operators see custom models' state; nothing here links one to its photos
    (the service keeps none). Deleting one deletes its artifact."""

    list_filter = ("status", "engine")
    search_fields = ("=id", "account__name", "user__username")
    list_select_related = ("account", "user")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SubjectModel)
class SubjectModelAdmin(TrainedModelAdmin):
    list_display = ("id", "subject_type", "status", "engine", "account", "user", "created_at")


@admin.register(CustomStyle)
class CustomStyleAdmin(TrainedModelAdmin):
    list_display = ("name", "status", "engine", "account", "created_at")
    search_fields = ("=id", "name", "account__name")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Jobs, read-only. Deleting one deletes its photo and files at once; one
    that had not ended gives its held credit back, and the ledger keeps a
    charged one's entries under its id (generation/signals.py)."""

    list_display = ("id", "kind", "state", "account", "external_id", "charged", "created_at")
    list_filter = (
        "state", "kind", "charged", ("account", admin.RelatedOnlyFieldListFilter), "created_at"
    )  # fmt: skip
    search_fields = ("=id", "external_id", "account__name")
    list_select_related = ("account",)
    exclude = ("photo",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class BatchStateFilter(admin.SimpleListFilter):
    """A batch's state is its jobs': queued (none started), running, or done."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("queued", "Queued"), ("running", "Running"), ("done", "Done"))

    def queryset(self, request, queryset):
        unfinished = Count("jobs", filter=Q(jobs__state__in=(Job.State.QUEUED, Job.State.RUNNING)))
        started = Count("jobs", filter=~Q(jobs__state=Job.State.QUEUED))
        batches = queryset.annotate(unfinished=unfinished, started=started)
        if self.value() == "done":
            return batches.filter(unfinished=0)
        if self.value() == "running":
            return batches.filter(unfinished__gt=0, started__gt=0)
        if self.value() == "queued":
            return batches.filter(started=0)
        return queryset


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    """Batches, read-only, with their jobs' counts by state."""

    list_display = ("id", "account", "total", "done", "failed", "uses_seats", "created_at")
    list_filter = (
        BatchStateFilter, ("account", admin.RelatedOnlyFieldListFilter), "uses_seats", "created_at"
    )  # fmt: skip
    search_fields = ("=id", "account__name")
    list_select_related = ("account",)
    date_hierarchy = "created_at"
    readonly_fields = ("id", "account", "params", "uses_seats", "total", "created_at")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                done_count=Count("jobs", filter=Q(jobs__state=Job.State.DONE)),
                failed_count=Count("jobs", filter=Q(jobs__state=Job.State.FAILED)),
            )
        )

    @admin.display(ordering="done_count")
    def done(self, batch: Batch) -> int:
        return batch.done_count

    @admin.display(ordering="failed_count")
    def failed(self, batch: Batch) -> int:
        return batch.failed_count

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TeamAdmin)
class TeamAdminAdmin(admin.ModelAdmin):
    """Who runs each account's /team/ pages (HR admins); they add others there too."""

    list_display = ("user", "account", "added_by", "created_at")
    list_filter = (("account", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("user__email", "user__username", "account__name")
    autocomplete_fields = ("user", "account")
    readonly_fields = ("added_by", "created_at")

    def save_model(self, request, obj: TeamAdmin, form, change: bool) -> None:
        if not change:
            obj.added_by = request.user
        super().save_model(request, obj, form, change)
