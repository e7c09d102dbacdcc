"""Case category codes travel in case events; analysis and briefings show the category's name."""

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from cityos.labels import label_of
from datahub.analysis.services.situations import _group_names
from tests.governance.factories import make_category

pytestmark = pytest.mark.django_db


def test_a_category_code_reads_as_the_categorys_name_in_each_language():
    make_category(code="noise", name="噪音扰民", name_en="Noise nuisance")
    with translation.override("zh-hans"):
        assert label_of("category", "noise") == "噪音扰民"
    with translation.override("en"):
        assert label_of("category", "noise") == "Noise nuisance"
    # a code nobody knows still reads as words, not as an identifier
    assert label_of("category", "illegal_parking") == "Illegal parking"


def test_a_surge_summary_names_the_category_not_its_code():
    make_category(code="noise", name="噪音扰民", name_en="Noise nuisance")
    assert _group_names("category", "noise") == ("噪音扰民", "Noise nuisance")
    assert _group_names("category", None) == ("未分类", "uncategorised")


def test_the_briefing_lists_top_categories_and_severities_by_name():
    make_category(code="noise", name="噪音扰民", name_en="Noise nuisance")
    content = {
        "baseline_days": 28,
        "cases": {"top_categories": [{"key": "noise", "value": 12, "baseline": 4.0, "change_pct": 200.0}]},
        "alerts": {"by_severity": [{"key": "major", "value": 3, "baseline": 1.0}]},
    }
    with translation.override("zh-hans"):
        html = render_to_string("analysis/_briefing_body.html", {"c": content, "briefing": {"id": 1}})
    assert "噪音扰民" in html and ">noise<" not in html and ">major<" not in html
