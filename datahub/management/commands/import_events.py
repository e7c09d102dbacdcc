"""Append dated (and located) records from a CSV file to the event log, for analysis.

    manage.py import_events FILE --preset little_rock_crime
    manage.py import_events FILE --type incident.fire --time-column When --time-format "%Y-%m-%d %H:%M" \\
        --tz Asia/Shanghai --lon-column lon --lat-column lat --key-column id --payload category=Kind
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from datahub.analysis.services import event_import

PRESETS = {"little_rock_crime": event_import.LITTLE_ROCK_CRIME, "nyc_311": event_import.NYC_311}


class Command(BaseCommand):
    help = "Import events from a CSV file into the datahub's event log (idempotent per source)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--source", default="", help="source code (default: the file name)")
        parser.add_argument("--preset", choices=sorted(PRESETS))
        parser.add_argument("--type")
        parser.add_argument("--time-column")
        parser.add_argument("--time-format", action="append", default=[])
        parser.add_argument("--tz", default="UTC")
        parser.add_argument("--lon-column", default="")
        parser.add_argument("--lat-column", default="")
        parser.add_argument("--key-column", default="")
        parser.add_argument("--payload", action="append", default=[], help="key=Column (repeatable)")
        parser.add_argument("--limit", type=int)

    def handle(self, *args, **o):
        path = Path(o["file"])
        if not path.is_file():
            raise CommandError(f"{path} does not exist")
        if o["preset"]:
            mapping = PRESETS[o["preset"]]
        else:
            if not o["type"] or not o["time_column"]:
                raise CommandError("give --preset, or --type and --time-column")
            payload = {}
            for item in o["payload"]:
                key, sep, col = item.partition("=")
                if not sep:
                    raise CommandError(f"--payload {item!r}: use key=Column")
                payload[key] = col
            mapping = event_import.EventCsvMapping(
                type=o["type"],
                time_column=o["time_column"],
                time_formats=tuple(o["time_format"]) or event_import.EventCsvMapping.time_formats,
                tz=o["tz"],
                lon_column=o["lon_column"],
                lat_column=o["lat_column"],
                key_column=o["key_column"],
                payload_columns=payload,
            )
        try:
            run = event_import.events_import_csv(
                path=path, mapping=mapping, source_code=o["source"] or path.stem.lower()[:100], limit_rows=o["limit"]
            )
        except event_import.EventImportError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"read {run.rows_read}, stored {run.rows_stored}, rejected {run.rows_rejected}")
