from django.core.management.base import BaseCommand, CommandError

from accounts.credits import grant
from accounts.keys import issue_key
from accounts.models import PlatformAccount


class Command(BaseCommand):
    help = "Create a platform account with credits (and seats); prints its first API key last."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--credits", type=int, default=0)
        parser.add_argument("--seats", type=int, default=0)
        parser.add_argument("--platform", default="linkedin", help="The default platform.")

    def handle(self, *args, name: str, credits: int, seats: int, platform: str, **options) -> None:
        if credits < 0 or seats < 0:
            raise CommandError("credits and seats cannot be negative")
        if PlatformAccount.objects.filter(name=name).exists():
            raise CommandError(f"an account named {name!r} already exists")
        account = PlatformAccount.objects.create(name=name, seats=seats, default_platform=platform)
        if credits:
            grant(account, credits, note="initial credits")
        key = issue_key(account)
        self.stdout.write(
            f"Account {account.name} (id {account.pk}): {credits} credits, {seats} seats"
        )
        self.stdout.write("API key (shown once, store it now):")
        self.stdout.write(key)
