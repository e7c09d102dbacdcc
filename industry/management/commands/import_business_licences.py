from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from industry.services.imports import import_little_rock


class Command(BaseCommand):
    help = "Import the City of Little Rock business licences into the enterprise registry (idempotent)."

    def add_arguments(self, parser):
        default = Path(getattr(settings, "CITYOS_DATA_DIR", "") or "../shared/data")
        parser.add_argument("--path", default=str(default / "little_rock_city_open_data" / "Business_Licenses.csv"))

    def handle(self, *args, path, **options):
        if not Path(path).is_file():
            raise CommandError(f"{path} not found")
        job = import_little_rock(path=path)
        self.stdout.write(f"import {job.id}: {job.status} {job.counts}")
