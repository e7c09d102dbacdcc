from django.core.management.base import BaseCommand

from governance.services.classification import classifier_train


class Command(BaseCommand):
    help = "Retrain the case classifier on past cases and officers' corrections."

    def handle(self, *args, **options):
        model_id = classifier_train()
        if model_id is None:
            self.stdout.write("not enough labelled cases to train")
        else:
            self.stdout.write(self.style.SUCCESS(f"classifier model #{model_id} trained and activated"))
