"""Forms of the signup and /me/avatar/ pages."""

from django import forms
from django.contrib.auth import get_user_model, password_validation

from generation.models import Style
from generation.web.photo_jobs import parse_job_id

CHOICES = (("identity", "Identity avatar"), ("photo", "Your photo"), ("ai", "AI version"))


def active_styles():
    """The identity styles regenerate cycles through, in a stable order."""
    return Style.objects.filter(is_active=True).exclude(current_version=None).order_by("slug")


class AvatarChoiceForm(forms.Form):
    """Which avatar the account keeps: the identity avatar (in the style the
    person cycled to), their photo, or the AI version of it (a preview job)."""

    identity_style = forms.SlugField(required=False, max_length=40)
    avatar_choice = forms.ChoiceField(
        choices=CHOICES,
        initial="identity",
        error_messages={"required": "Pick one of the avatars first."},
    )
    job = forms.CharField(required=False, max_length=40)

    def clean_identity_style(self) -> Style | None:
        slug = self.cleaned_data.get("identity_style")
        if not slug:
            return None
        style = active_styles().filter(slug=slug).first()
        if style is None:
            raise forms.ValidationError("That avatar style is not available any more.")
        return style

    def clean_job(self):
        text = self.cleaned_data.get("job")
        if not text:
            return None
        job_id = parse_job_id(text)
        if job_id is None:
            raise forms.ValidationError("That preview is not one of yours.")
        return job_id

    def clean(self) -> dict:
        data = super().clean()
        if data.get("avatar_choice") in ("photo", "ai") and not data.get("job"):
            self.add_error("avatar_choice", "Add a photo first, or keep the identity avatar.")
        return data


class SignupForm(AvatarChoiceForm):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
        help_text="Letters, digits and @ . + - _ only.",
    )
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    field_order = ("username", "email", "password")

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        model = get_user_model()
        model.username_validator(username)
        if model.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("That username is taken. Try another one.")
        return username

    def clean(self) -> dict:
        data = super().clean()
        password = data.get("password")
        if password:
            probe = get_user_model()(username=data.get("username", ""), email=data.get("email"))
            try:
                password_validation.validate_password(password, probe)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data
