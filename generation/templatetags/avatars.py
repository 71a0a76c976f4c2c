"""`{% load avatars %}`: `{% avatar user 64 %}` (an <img> with width, height,
alt and a 2x srcset; extra keyword arguments become attributes, underscores
as hyphens: `data_testid="me"`, and `class_` adds classes) and `{% avatar_url user 128 %}`."""

from django import template
from django.utils.html import format_html, format_html_join

from generation.avatar_providers import clamp_size, user_avatar_url

register = template.Library()


@register.simple_tag
def avatar_url(user, size: int) -> str:
    return user_avatar_url(user, size)


@register.simple_tag
def avatar(user, size: int, **attributes) -> str:
    size = clamp_size(size)
    url = user_avatar_url(user, size)
    if not url:
        return ""
    double = user_avatar_url(user, clamp_size(size * 2))
    classes = " ".join(filter(None, ("avatar", attributes.pop("class_", ""))))
    extra = format_html_join(
        "", ' {}="{}"', ((name.replace("_", "-"), value) for name, value in attributes.items())
    )
    return format_html(
        '<img src="{}" srcset="{} 2x" width="{}" height="{}" alt="{}" class="{}"{}>',
        url,
        double,
        size,
        size,
        f"{user.get_username()}'s avatar",
        classes,
        extra,
    )
