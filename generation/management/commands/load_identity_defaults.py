from django.core.management.base import BaseCommand

from generation.avatars import install_defaults


class Command(BaseCommand):
    help = "Install the shipped identity styles, palettes and role mapping where missing."

    def handle(self, *args, **options) -> None:
        created = install_defaults()
        self.stdout.write(
            "Identity defaults: "
            + ", ".join(f"{count} new {kind}" for kind, count in created.items())
        )
