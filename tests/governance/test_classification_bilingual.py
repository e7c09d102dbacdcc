"""The case classifier in both languages (issue 11, item 13), on a held-out labelled set
(tests/governance/fixtures/case_eval.tsv: 160 complaints, 80 zh + 80 en, 16 categories).

The model is trained the way a new city's is: the bundled seed set plus the demo category tree's
keyword rulebook, no past cases. Accuracy floors per language are kept here (the figures are in
the README); a low-confidence guess goes to the hotline's triage queue instead of a department.
"""

from collections import Counter
from pathlib import Path

import pytest

from governance.models import Case, Category
from governance.services.classification import (
    case_classify_text,
    classifier_cache_reset,
    classifier_train,
    keyword_in,
    rules_score,
)

pytestmark = pytest.mark.django_db
EVAL = Path(__file__).parent / "fixtures" / "case_eval.tsv"
# Floors a little under the measured figures (see README: Case classification).
FLOOR = {"zh": 0.80, "en": 0.80}


def _eval_rows():
    rows = []
    for line in EVAL.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            code, lang, text = line.split("\t", 2)
            rows.append((code, lang, text))
    return rows


@pytest.fixture
def categories(db):
    import random

    from cityos.demo.city import DemoContext, build_departments
    from governance import demo

    build_departments(DemoContext(seed=1, rng=random.Random(1)))
    demo._dept_cache.clear()  # department ids of an earlier test's (flushed) database
    return {c.id: c.code for c in demo._categories().values()}


@pytest.fixture
def trained(categories):
    assert classifier_train() is not None
    classifier_cache_reset()
    return categories


def evaluate(code_of: dict[int, str]) -> dict:
    per = {}
    for lang in ("zh", "en"):
        rows = [r for r in _eval_rows() if r[1] == lang]
        right = routed = triaged = 0
        outputs = Counter()
        for code, _lang, text in rows:
            result = case_classify_text(text=text)
            got = code_of.get(result.category_id) if result.category_id else None
            if got:
                outputs[got] += 1
            triaged += result.triage
            routed += got is not None
            right += got == code
        per[lang] = {
            "n": len(rows),
            "accuracy": right / len(rows),
            "routed_precision": right / routed if routed else 0.0,
            "triage_rate": triaged / len(rows),
            "top_output_share": outputs.most_common(1)[0][1] / len(rows) if outputs else 0.0,
        }
    return per


def test_the_labelled_set_is_bilingual_and_covers_every_category():
    rows = _eval_rows()
    assert len(rows) >= 150
    by_lang = Counter(lang for _c, lang, _t in rows)
    assert by_lang["zh"] >= 75 and by_lang["en"] >= 75
    assert len({c for c, _l, _t in rows}) == 16


def test_it_classifies_chinese_and_english_above_the_floor(trained):
    figures = evaluate(trained)
    print("case classification:", figures)
    for lang, floor in FLOOR.items():
        assert figures[lang]["accuracy"] >= floor, (lang, figures[lang])
        # Wrongly routed cases are rare: what the model is unsure of goes to triage instead.
        assert figures[lang]["routed_precision"] >= 0.85, (lang, figures[lang])
        # No single answer swallows the set (16 categories of 5 each per language: 6.25 % each).
        assert figures[lang]["top_output_share"] <= 0.15, (lang, figures[lang])
    # English complaints get their own categories, not one default (物业纠纷 at 0.10 before).
    english = [t for _c, lang, t in _eval_rows() if lang == "en"]  # 5 per category
    outputs = Counter(case_classify_text(text=t).category_id for t in english)
    assert len([c for c in outputs if c is not None]) >= 14
    property_id = Category.objects.get(code="property").id
    assert outputs[property_id] <= 7
    # The words that fooled substring keyword rules.
    expect = {
        "Loud music from a business on Broadway all night": "noise",
        "Pothole on River Drive near the bridge": "road-damage",
        "Street light out on River Drive near the park": "streetlight",
    }
    for text, code in expect.items():
        result = case_classify_text(text=text)
        assert trained.get(result.category_id) == code, (text, result.as_dict())


def test_latin_keywords_match_whole_words_only(categories):
    assert not keyword_in("bus", "a business on main street")
    assert keyword_in("bus", "the buses are late")
    assert not keyword_in("road", "music on broadway")
    assert keyword_in("pothole", "two potholes")
    assert keyword_in("公交", "公交车不来")  # Chinese keywords still match inside text
    by_code = {c.code: c.id for c in Category.objects.all()}
    scores = rules_score("loud music from a business on broadway all night")
    assert by_code["bus"] not in scores and by_code["road-damage"] not in scores
    assert by_code["water-pollution"] not in rules_score("pothole on river drive near the bridge")


def test_a_low_confidence_case_waits_in_the_hotline_triage_queue(trained, client):
    from governance.services.cases import case_create
    from tests.factories import make_user

    case = case_create(channel="hotline", title="请回电话", description="我有事情要反映，情况比较复杂")
    assert case.category_id is None and case.department_id is None and case.status == "received"
    assert case.classification["triage"] is True
    assert "suggested_category_id" in case.classification
    sure = case_create(channel="hotline", title="路灯不亮", description="我家门口的路灯坏了好几天，晚上很黑")
    assert sure.category_id is not None and not sure.classification.get("triage")
    # The hotline (a dispatcher) finds it in the triage queue; the sure case is not in it.
    client.force_login(make_user(role="administrator"))
    resp = client.get("/api/v1/governance/cases/?triage=true")
    assert resp.status_code == 200, resp.content
    ids = {c["id"] for c in resp.json()["results"]}
    assert case.id in ids and sure.id not in ids
    assert Case.objects.filter(pk=case.pk, classification__triage=True).exists()
