from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from governance.services.errors import CaseError
from governance.services.location import cases_relocate
from governance.services.nyc311 import nyc311_import


class Command(BaseCommand):
    help = "Import the NYC 311 service-request sample as cases (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="default: the sample in CITYOS_DATA_DIR")
        parser.add_argument(
            "--relocate", action="store_true", help="afterwards, locate cases imported before their areas existed"
        )

    def handle(self, *args, path=None, relocate=False, **options):
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
        if relocate:
            self.stdout.write(f"relocated: {cases_relocate()}")
