from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from accounts.credits import grant
from accounts.keys import issue_key
from accounts.models import PlatformAccount
from generation.web.team_admins import make_team_admin


class Command(BaseCommand):
    help = (
        "Create a platform account with credits (and seats), and optionally its team admin "
        "(--team-admin EMAIL: the user is found or created; set a new one's password with "
        "`changepassword EMAIL`); prints its first API key last."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--credits", type=int, default=0)
        parser.add_argument("--seats", type=int, default=0)
        parser.add_argument("--platform", default="linkedin", help="The default platform.")
        parser.add_argument(
            "--team-admin",
            action="append",
            default=[],
            metavar="EMAIL",
            help="Make this person (found or created by email) a team admin; may repeat.",
        )

    def handle(
        self,
        *args,
        name: str,
        credits: int,
        seats: int,
        platform: str,
        team_admin: list[str],
        **options,
    ) -> None:
        if credits < 0 or seats < 0:
            raise CommandError("credits and seats cannot be negative")
        if PlatformAccount.objects.filter(name=name).exists():
            raise CommandError(f"an account named {name!r} already exists")
        emails = [email.strip().lower() for email in team_admin]
        for email in emails:
            try:
                validate_email(email)
            except ValidationError:
                raise CommandError(f"{email!r} is not an email address") from None
        with transaction.atomic():
            account = PlatformAccount.objects.create(
                name=name, seats=seats, default_platform=platform
            )
            if credits:
                grant(account, credits, note="initial credits")
            admins = [make_team_admin(account, email) for email in emails]
            key = issue_key(account)
        self.stdout.write(
            f"Account {account.name} (id {account.pk}): {credits} credits, {seats} seats"
        )
        for user, created in admins:
            if created:
                self.stdout.write(
                    f"Team admin {user.email}: new user; set a password with "
                    f"`manage.py changepassword {user.get_username()}`, then sign in at /team/"
                )
            else:
                self.stdout.write(f"Team admin {user.email}: existing user {user.get_username()}")
        self.stdout.write("API key (shown once, store it now):")
        self.stdout.write(key)
