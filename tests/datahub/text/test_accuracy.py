"""Accuracy is measured, not assumed.

The evaluation set (fixtures/opinion_eval.jsonl, v1) has 400 citizen posts written by hand for
this purpose: for each of the 10 topics, 20 Chinese posts (10 negative, 5 neutral questions,
5 positive) in the words people use on forums and the hotline, and 20 English posts that make
the same complaints, questions and thanks in natural English (written, not machine-translated).
They were written without looking at the training phrase banks (datahub/text/nlp/training.py),
whose template sentences are never in the evaluation set (checked below).

Measured on the bundled model (2026-11-24): zh topic 0.755, zh sentiment 0.780, en topic 0.655,
en sentiment 0.595. These tests fail if a change makes any of them worse.
"""

import importlib

import pytest

from datahub.text.nlp.training import training_samples
from tests.datahub.evaluation import EVAL_SET, evaluate

pytestmark = pytest.mark.django_db

REPORTED = {
    "zh": {"topic_accuracy": 0.755, "sentiment_accuracy": 0.780},
    "en": {"topic_accuracy": 0.655, "sentiment_accuracy": 0.595},
}


@pytest.fixture(scope="module")
def scores(django_db_setup, django_db_blocker):
    # Transactional tests (browser, worker) flush the tables, seeded rulebook included: measure the
    # system as shipped, i.e. with the migration's starting rulebook.
    from django.apps import apps

    seed = importlib.import_module("datahub.migrations.0003_topic_rules_seed").seed
    with django_db_blocker.unblock():
        seed(apps, None)
        return evaluate()


def test_the_evaluation_set_is_separate_from_the_training_data():
    eval_texts = {line for line in EVAL_SET.read_text(encoding="utf-8").splitlines()}
    train = {s.text for s in training_samples()}
    assert not any(t in line for line in eval_texts for t in train if len(t) > 8)


def test_the_evaluation_set_has_200_posts_per_language(scores):
    assert scores["zh"]["n"] == 200 and scores["en"]["n"] == 200


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("measure", ["topic_accuracy", "sentiment_accuracy"])
def test_accuracy_does_not_drop_below_what_is_reported(scores, language, measure):
    assert scores[language][measure] >= REPORTED[language][measure] - 0.005, scores
