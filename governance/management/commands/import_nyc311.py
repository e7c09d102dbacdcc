from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from governance.services.errors import CaseError
from governance.services.nyc311 import nyc311_import


class Command(BaseCommand):
    help = "Import the NYC 311 service-request sample as cases (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="default: the sample in CITYOS_DATA_DIR")

    def handle(self, *args, path=None, **options):
        path = path or (
            Path(settings.CITYOS_DATA_DIR)
            / "nyc_311_sample_and_boundaries"
            / "nyc_311_service_requests_2022-05-01_sample.csv"
        )
        try:
            stats = nyc311_import(path=Path(path))
        except (CaseError, OSError) as exc:
            raise CommandError(str(getattr(exc, "detail", exc))) from exc
        self.stdout.write(self.style.SUCCESS(", ".join(f"{k}: {v}" for k, v in stats.items())))
