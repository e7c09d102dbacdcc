"""The index's write contract: upsert/remove after commit, validation, providers and reindex."""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import transaction

from datahub import facade
from datahub.models import SearchItem
from datahub.search import services

from .conftest import item


def test_it_writes_items_only_after_the_transaction_commits(city, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert facade.search_index_upsert([item(key="1", title="垃圾清运")]) == 1
    assert not SearchItem.objects.exists()
    callbacks[0]()
    assert SearchItem.objects.get(kind="document", key="1").title == "垃圾清运"


def test_it_replaces_an_item_by_kind_and_key(city, index):
    index([item(key="7", title="旧标题", area_id=city.chaoyang_street.id, department_id=city.env_office.id)])
    index([item(key="7", title="新标题", area_id=city.chaoyang_street.id, department_id=city.env_office.id)])
    row = SearchItem.objects.get(kind="document", key="7")
    assert row.title == "新标题"
    assert row.area_path == [city.chaoyang_street.id, city.chaoyang.id]
    assert row.district_id == city.chaoyang.id
    assert row.dept_path == city.env_office.path
    assert SearchItem.objects.count() == 1


def test_it_keeps_the_last_version_of_an_item_repeated_in_one_batch(city, index):
    assert index([item(key="1", title="一"), item(key="1", title="二")]) == 1
    assert SearchItem.objects.get().title == "二"


def test_it_removes_items_after_commit(city, index, django_capture_on_commit_callbacks):
    index([item(key="1"), item(key="2")])
    with django_capture_on_commit_callbacks(execute=True):
        facade.search_index_remove("document", ["1"])
    assert list(SearchItem.objects.values_list("key", flat=True)) == ["2"]


def test_it_writes_nothing_when_the_transaction_rolls_back(city, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            facade.search_index_upsert([item(key="9")])
            raise RuntimeError
    assert not SearchItem.objects.exists()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"kind": "", "key": "1", "title": "t"}, "item 1: kind is required"),
        ({"kind": "x", "key": "1", "title": ""}, "item 1: title is required"),
        ({"kind": "x", "key": "1", "title": "t", "level": "secret"}, "item 1: level must be one of"),
        ({"kind": "x", "key": "1", "title": "t", "lon": 500, "lat": 1}, "item 1: lon must be"),
        ({"kind": "x", "key": "1", "title": "t", "lon": 120.0}, "item 1: lon and lat go together"),
        ({"kind": "x", "key": "1", "title": "t", "time": datetime(2026, 1, 1)}, "item 1: time must be an aware"),  # noqa: DTZ001
        ({"kind": "x", "key": "1", "title": 5}, "item 1: title must be a string"),
        ({"kind": "x", "key": "1", "title": "t", "facets": ["a"]}, "item 1: facets must be a dict"),
    ],
)
def test_it_refuses_a_malformed_item_naming_the_field(db, bad, message):
    with pytest.raises(ValueError, match=message):
        facade.search_index_upsert([bad])


def test_it_stores_no_personal_data_of_a_case_reporter(city, django_capture_on_commit_callbacks):
    from governance.services.cases import case_create

    with django_capture_on_commit_callbacks(execute=True):
        case = case_create(
            channel="hotline",
            title="小区门口垃圾堆放",
            description="请尽快清运",
            reporter_name="张三丰",
            reporter_phone="13912345678",
            reporter_email="zs@example.com",
            auto_dispatch=False,
        )
    row = SearchItem.objects.get(kind="case", key=str(case.id))
    text = " ".join([row.title, row.body, row.identifiers, str(row.facets)])
    assert "张三丰" not in text and "13912345678" not in text and "zs@example.com" not in text
    assert row.identifiers == case.tracking_number and row.level == 2


def test_it_follows_a_case_through_its_transitions(city, django_capture_on_commit_callbacks):
    from governance.services.cases import case_create, case_transition

    with django_capture_on_commit_callbacks(execute=True):
        case = case_create(channel="hotline", title="路灯不亮", auto_dispatch=False)
    assert SearchItem.objects.get(kind="case", key=str(case.id)).department_id is None
    with django_capture_on_commit_callbacks(execute=True):
        case_transition(case_id=case.id, action="dispatch", department_id=city.env.id)
    row = SearchItem.objects.get(kind="case", key=str(case.id))
    assert row.department_id == city.env.id and row.facets["status"] == "dispatched"
    assert row.facets["state"] == "open"


def test_a_reindex_rebuilds_a_kind_from_its_provider_and_drops_what_is_gone(city, index):
    index([item(kind="demo-kind", key="stale", title="过时")])
    services.provider_register(
        kind="demo-kind",
        provider=lambda: iter([item(kind="demo-kind", key=str(n), title=f"条目{n}") for n in range(5)]),
        label="演示",
        label_en="Demo",
    )
    try:
        counts = services.search_reindex(kinds=["demo-kind"], batch_size=2)
        assert counts == {"demo-kind": 5}
        assert sorted(SearchItem.objects.filter(kind="demo-kind").values_list("key", flat=True)) == list("01234")
        # Safe to run twice.
        assert services.search_reindex(kinds=["demo-kind"]) == {"demo-kind": 5}
        assert SearchItem.objects.filter(kind="demo-kind").count() == 5
    finally:
        services.PROVIDERS.pop("demo-kind")


def test_the_reindex_command_names_an_unknown_kind(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no provider for nonsense"):
        call_command("search_reindex", "nonsense")


def test_the_reindex_command_indexes_the_datahub_and_governance_providers(city, capsys):
    call_command("search_reindex", "area", "case")
    out = capsys.readouterr().out
    assert "area: 3" in out and "case: 0" in out
    assert SearchItem.objects.filter(kind="area").count() == 3


def test_datahub_rows_are_indexed_when_saved_and_removed_when_deleted(city, django_capture_on_commit_callbacks):
    from tests.datahub.core.factories import make_entity

    with django_capture_on_commit_callbacks(execute=True):
        e = make_entity(type="enterprise", name="中国农业发展银行滨江支行", identifiers={"uscc": "91330100MA27XYZ12"})
        e.save()  # identifiers are added after the first save
    row = SearchItem.objects.get(kind="enterprise", key=str(e.id))
    assert "91330100MA27XYZ12" in row.identifiers
    with django_capture_on_commit_callbacks(execute=True):
        e.delete()
    assert not SearchItem.objects.filter(kind="enterprise", key=str(e.id)).exists()


def test_time_is_stored_as_given(city, index):
    when = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    index([item(key="1", time=when)])
    assert SearchItem.objects.get().time == when


def test_access_lexemes_are_in_the_index_so_the_gin_scan_applies_permissions(city, index):
    from django.db import connection

    index([item(key="r", title="甲", level="restricted", department_id=city.env_office.id, grants=["grid:3"])])
    with connection.cursor() as cur:
        cur.execute("SELECT tsv::text FROM datahub_searchitem WHERE key = 'r'")
        tsv = cur.fetchone()[0]
    for lexeme in (
        "§l2",
        f"§d{city.env.path}",
        f"§d{city.env_office.path}",
        f"§e{city.env_office.path}",
        "§ggrid:3",
        "§gkind:document",
    ):
        assert f"'{lexeme}'" in tsv
    assert "§d" + city.transport.path not in tsv
