from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User


@admin.register(User)
class AvatarUserAdmin(UserAdmin):
    list_display = ("username", "email", "role", "team", "is_staff")
    list_filter = ("role", "team", "is_staff", "is_superuser")
    fieldsets = UserAdmin.fieldsets + (("Avatar", {"fields": ("role", "team")}),)
    add_fieldsets = UserAdmin.add_fieldsets + (("Avatar", {"fields": ("role", "team")}),)
