from django.core.management.base import BaseCommand

from generation.jobs.retention import purge_expired


class Command(BaseCommand):
    help = "Delete cached input photos and results past their retention time."

    def handle(self, *args, **options) -> None:
        counts = purge_expired()
        self.stdout.write(
            f"Purged {counts['inputs']} input photos and {counts['results']} results."
        )
