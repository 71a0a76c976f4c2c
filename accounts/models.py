from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    USER = "user", "User"
    GUEST = "guest", "Guest"


class User(AbstractUser):
    """A person on the platform; role and team pick their avatar's palette."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.USER)
    team = models.CharField(max_length=64, blank=True, default="")
