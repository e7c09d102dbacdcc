from django.core.management.base import BaseCommand, CommandError

from datahub.core.services.gazetteer import GazetteerImportError, gazetteer_import


class Command(BaseCommand):
    help = (
        "Import China's administrative division codes (provinces/cities/areas/streets CSVs) as areas "
        "without boundaries, for the gazetteer. Upsert by code; safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", help="e.g. ../shared/data/cn_admin_division_codes_2023")

    def handle(self, *args, **o):
        try:
            result = gazetteer_import(directory=o["directory"])
        except GazetteerImportError as exc:
            raise CommandError(str(exc)) from exc
        levels = ", ".join(f"{n} {level}" for level, n in result.counts.items())
        self.stdout.write(f"gazetteer: {levels}; {result.created} created, {result.updated} updated")
