"""`manage.py search_reindex [kind …]`: rebuild the search index from the apps' providers."""

from django.core.management.base import BaseCommand, CommandError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from datahub.search import services


class Command(BaseCommand):
    help = "Rebuild the search index from every registered provider (or only the kinds given)."

    def add_arguments(self, parser):
        parser.add_argument("kinds", nargs="*", help="kinds to rebuild (default: all)")
        parser.add_argument("--batch-size", type=int, default=services.BATCH)
        parser.add_argument("--workers", type=int, default=1, help="processes preparing batches (0: none)")
        parser.add_argument(
            "--suggestions",
            action="store_true",
            help="only rebuild the suggestion table from the index rows (after upgrading to it)",
        )

    def handle(self, *args, kinds, batch_size, workers, suggestions, **options):
        if suggestions:
            n = services.search_suggestions_rebuild()
            self.stdout.write(f"suggestions: {n} items")
            return
        try:
            with Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
            ) as bar:
                tasks: dict[str, int] = {}

                def progress(kind: str, done: int) -> None:
                    if kind not in tasks:
                        tasks[kind] = bar.add_task(kind, total=None)
                    bar.update(tasks[kind], completed=done)

                counts = services.search_reindex(
                    kinds=kinds or None, batch_size=batch_size, progress=progress, workers=workers
                )
        except services.SearchItemError as exc:
            raise CommandError(str(exc)) from exc
        for kind, n in counts.items():
            self.stdout.write(f"{kind}: {n}")
