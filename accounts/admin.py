from django import forms
from django.contrib import admin
from django.contrib.admin.utils import NestedObjects
from django.contrib.auth.admin import UserAdmin
from django.db import router
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts import credits
from accounts.keys import issue_key, revoke
from accounts.models import ApiKey, CreditEntry, PlatformAccount, User


@admin.register(User)
class AvatarUserAdmin(UserAdmin):
    list_display = ("username", "email", "role", "team", "is_staff")
    list_filter = ("role", "team", "is_staff", "is_superuser")
    fieldsets = UserAdmin.fieldsets + (("Avatar", {"fields": ("role", "team")}),)
    add_fieldsets = UserAdmin.add_fieldsets + (("Avatar", {"fields": ("role", "team")}),)


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # keys are issued by `create_account` or the "issue a key" action


class CreditEntryInline(admin.TabularInline):
    model = CreditEntry
    extra = 0
    can_delete = False
    fields = ("created_at", "delta", "reason", "job", "note")
    readonly_fields = fields
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # the ledger is append-only: use the "grant credits" action


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return (("no", "No"), ("yes", "Yes (tombstones)"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(deleted_at__isnull=self.value() == "no")
        return queryset


@admin.register(PlatformAccount)
class PlatformAccountAdmin(admin.ModelAdmin):
    list_display = (
        "name", "default_platform", "seats", "seats_used", "balance", "is_active", "deleted_at"
    )  # fmt: skip
    list_filter = ("is_active", DeletedFilter)
    search_fields = ("name",)
    readonly_fields = ("balance", "seats_used", "created_at", "deleted_at")
    inlines = (ApiKeyInline, CreditEntryInline)
    actions = ("issue_key", "grant_credits")

    def has_delete_permission(self, request, obj: PlatformAccount | None = None) -> bool:
        if obj is not None and obj.deleted_at is not None:
            return False  # already erased: the tombstone holds the ledger
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        """What deleting erases. The ledger entries Django would call protected
        are kept against the tombstone (accounts.erasure), so they block nothing."""
        to_delete, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        collector = NestedObjects(using=router.db_for_write(PlatformAccount))
        collector.collect(objs)
        if all(isinstance(obj, CreditEntry) for obj in collector.protected):
            protected = []
        # The read-only ledger admin grants no delete permission, and none is
        # needed: erasing keeps the entries.
        perms_needed = {name for name in perms_needed if name != CreditEntry._meta.verbose_name}
        return to_delete, counts, perms_needed, protected

    def delete_model(self, request, obj: PlatformAccount) -> None:
        name = obj.name
        super().delete_model(request, obj)
        self.message_user(request, f"{name}: erased; its credit ledger is kept for accounting.")

    def delete_queryset(self, request, queryset) -> None:
        count = queryset.count()
        super().delete_queryset(request, queryset)
        self.message_user(request, f"{count} account(s) erased; their credit ledgers are kept.")

    @admin.display(description="credits")
    def balance(self, account: PlatformAccount) -> int:
        return credits.balance(account)

    @admin.display(description="seats used")
    def seats_used(self, account: PlatformAccount) -> int:
        return account.seat_set.count()

    @admin.action(description="Issue a new API key (shown once)")
    def issue_key(self, request, queryset) -> None:
        for account in queryset:
            key = issue_key(account, name=f"admin {timezone.now():%Y-%m-%d}")
            self.message_user(request, f"{account.name}: {key}  (store it now; it is not kept)")

    @admin.action(description="Grant credits (an amount and a reason)")
    def grant_credits(self, request, queryset) -> TemplateResponse | None:
        """An intermediate page asks for the amount and the reason; each
        account gets one ledger entry noting both and who granted it."""
        accounts = list(queryset.filter(deleted_at=None))
        form = GrantCreditsForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            amount, reason = form.cleaned_data["amount"], form.cleaned_data["reason"]
            for account in accounts:
                credits.grant(account, amount, note=f"{reason} (by {request.user})"[:200])
            self.message_user(
                request, f"Granted {amount} credits to {len(accounts)} account(s): {reason}"
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "accounts": accounts,
            "form": form,
            "title": "Grant credits",
        }
        return TemplateResponse(
            request, "admin/accounts/platformaccount/grant_credits.html", context
        )


class GrantCreditsForm(forms.Form):
    amount = forms.IntegerField(min_value=1, max_value=1_000_000)
    reason = forms.CharField(
        max_length=150, help_text="Kept in the ledger, e.g. 'annual plan, invoice 2026-114'."
    )


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    """The credit ledger, read-only: it is append-only (grants go through the
    accounts' "Grant credits" action)."""

    list_display = ("created_at", "account", "delta", "reason", "job_id", "note")
    list_filter = ("reason", ("account", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("account__name", "note", "=job__id")
    list_select_related = ("account",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("account", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    readonly_fields = ("account", "prefix", "digest", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke_keys",)

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke_keys(self, request, queryset) -> None:
        for key in queryset:
            revoke(key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")
