from django.core.management.base import BaseCommand

from datahub.text.nlp.classify import train_models


class Command(BaseCommand):
    help = "Retrain the topic and sentiment classifiers from the bundled corpus (+ data/train_extra.jsonl)."

    def handle(self, *args, **options):
        ids = train_models()
        self.stdout.write(f"trained topic model #{ids['topic']} and sentiment model #{ids['sentiment']}")
