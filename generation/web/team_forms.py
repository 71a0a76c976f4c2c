"""Forms of the /team/ pages: the team's look, invites and new team admins."""

import re
from datetime import timedelta

from django import forms
from django.utils import timezone

from generation.portrait.background import parse_palette
from generation.portrait.errors import PortraitError
from generation.portrait.presets import PLATFORMS
from generation.portrait.styles import BACKGROUNDS, STYLES
from generation.web.words import BACKGROUND_NAMES, STYLE_NAMES

FRAMINGS = {
    "linkedin": "Head and shoulders, 800 px (LinkedIn, profiles)",
    "portfolio": "Head and shoulders, 800 px (portfolio)",
    "twitter": "Chat and social icon, 400 px",
    "discord": "Community icon, 512 px",
    "hires": "Print and press, 1200 px",
}
MAX_INVITE_USES = 1000
MAX_INVITE_DAYS = 90
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def style_choices() -> list[tuple[str, str]]:
    return [(name, STYLE_NAMES.get(name, name)) for name in STYLES]


def background_choices() -> list[tuple[str, str]]:
    return [("", "The style's own")] + [
        (name, BACKGROUND_NAMES.get(name, name)) for name in BACKGROUNDS
    ]


class LookForm(forms.Form):
    style = forms.ChoiceField(choices=style_choices)
    background = forms.ChoiceField(choices=background_choices, required=False)
    palette = forms.CharField(
        required=False,
        max_length=200,
        help_text="Up to 8 colours such as #1f3a5f, #dde1e6; empty: the style's own.",
    )
    framing = forms.ChoiceField(
        choices=[(name, label) for name, label in FRAMINGS.items() if name in PLATFORMS]
    )

    def clean_palette(self) -> list[str]:
        colours = [c.strip() for c in self.cleaned_data["palette"].split(",") if c.strip()]
        if len(colours) > 8:
            raise forms.ValidationError("At most 8 colours.")
        try:
            if colours:
                parse_palette(tuple(colours))
        except PortraitError as exc:
            raise forms.ValidationError(exc.message) from None
        return colours


class InviteForm(forms.Form):
    email_domain = forms.CharField(
        max_length=254,
        label="Email domain",
        help_text="Only addresses at this domain can use the link, e.g. acme.com.",
    )
    max_uses = forms.IntegerField(min_value=1, max_value=MAX_INVITE_USES, initial=50)
    days = forms.IntegerField(
        min_value=1, max_value=MAX_INVITE_DAYS, initial=14, label="Valid for (days)"
    )

    def clean_email_domain(self) -> str:
        domain = self.cleaned_data["email_domain"].strip().lower().removeprefix("@")
        if not _DOMAIN.match(domain):
            raise forms.ValidationError("Enter a domain such as acme.com.")
        return domain

    def expires_at(self):
        return timezone.now() + timedelta(days=self.cleaned_data["days"])


class JoinForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField(max_length=254)
    title = forms.CharField(max_length=200, required=False, label="Job title")
    team = forms.CharField(max_length=200, required=False)
    photo = forms.FileField()

    def __init__(self, *args, domain: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.domain = domain
        self.fields["email"].help_text = f"Your work address at {domain}."

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if email.rsplit("@", 1)[-1] != self.domain:
            raise forms.ValidationError(f"Use your address at {self.domain}.")
        return email


class AddAdminForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Their email address")

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()
