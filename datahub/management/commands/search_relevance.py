"""`manage.py search_relevance`: nDCG@10 and recall@20 of the labelled query set, per query type
(run it on a database holding the demo city)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from cityos.roles import Role
from datahub.search import relevance


class Command(BaseCommand):
    help = "Evaluate search relevance on the labelled demo-city query set."

    def add_arguments(self, parser):
        parser.add_argument("--verbose-queries", action="store_true")

    def handle(self, *args, verbose_queries, **options):
        user = get_user_model()(username="relevance", role=Role.CITY_LEADER, is_superuser=True)
        report = relevance.evaluate(user, log=self.stdout.write if verbose_queries else None)
        for t, v in report["by_type"].items():
            self.stdout.write(f"{t:10} n={v['n']:3}  nDCG@10={v['ndcg@10']:.3f}  recall@20={v['recall@20']:.3f}")
        o = report["overall"]
        self.stdout.write(f"{'overall':10} n={o['n']:3}  nDCG@10={o['ndcg@10']:.3f}  recall@20={o['recall@20']:.3f}")
