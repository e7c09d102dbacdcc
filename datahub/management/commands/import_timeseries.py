import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datahub.iot.services import csv_import as iot_import


class Command(BaseCommand):
    help = "Import historical series: the Beijing air-quality files or the METR-LA loop detectors (resumable)."

    def add_arguments(self, parser):
        parser.add_argument("dataset", choices=["beijing", "metr-la"])
        parser.add_argument("--data-dir", default=None, help="default: CITYOS_DATA_DIR")
        parser.add_argument("--station", action="append", help="Beijing station(s) only, e.g. Dongsi")
        parser.add_argument("--limit-rows", type=int, default=None, help="first N rows of each file")

    def _bar(self, run) -> None:
        width = 40
        done = int(run.progress * width)
        sys.stdout.write(
            f"\r  [{'#' * done}{'.' * (width - done)}] {run.progress:6.1%}  read {run.rows_read:,}"
            f"  stored {run.rows_stored:,}  rejected {run.rows_rejected:,}"
        )
        sys.stdout.flush()

    def handle(self, *args, **opts):
        data_dir = Path(opts["data_dir"] or getattr(settings, "CITYOS_DATA_DIR", "") or "../shared/data")
        if not data_dir.is_dir():
            raise CommandError(f"data directory {data_dir} not found (set CITYOS_DATA_DIR or --data-dir)")
        try:
            if opts["dataset"] == "beijing":
                runs = iot_import.beijing_air_quality_import(
                    data_dir=data_dir, stations=opts["station"], limit_rows=opts["limit_rows"], progress=self._bar
                )
            else:
                runs = [iot_import.metr_la_import(data_dir=data_dir, limit_rows=opts["limit_rows"], progress=self._bar)]
        except iot_import.ImportError_ as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("")
        for run in runs:
            self.stdout.write(
                f"run {run.id}: {run.status}, read {run.rows_read:,}, stored {run.rows_stored:,}, rejected {run.rows_rejected:,}"
            )
