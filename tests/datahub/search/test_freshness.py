"""Every searchable thing is fresh after the change that made it commits: the wings' policies,
services, life events and notices (registered with model= and items= through the facade), and the
datahub's dataset records (the import's domain event; a dataset's title and level follow)."""

import pytest
from django.db import connection

from datahub.models import SearchItem
from datahub.search import selectors

pytestmark = pytest.mark.django_db(transaction=True)


def _titles(kind: str) -> dict[str, str]:
    return dict(SearchItem.objects.filter(kind=kind).values_list("key", "title"))


def _found(user, q: str, kind: str) -> list[str]:
    out = selectors.search(user=user, req=selectors.SearchRequest(q=q, kinds=[kind], understand=False))
    return [r["id"] for r in out["results"]]


def test_a_policy_is_indexed_when_activated_updated_and_removed_when_withdrawn(city):
    from industry.services.policies import policy_save

    draft = policy_save(criteria=[], code="p-green", title="绿色工厂奖励", status="draft")
    assert str(draft.id) not in _titles("policy")  # a draft is not searchable
    policy_save(policy_id=draft.id, status="active")
    assert _titles("policy")[str(draft.id)] == "绿色工厂奖励"
    assert _found(city.developer, "绿色工厂", "policy") == [str(draft.id)]  # public: outsiders find it
    policy_save(policy_id=draft.id, title="绿色低碳工厂奖励")
    assert _titles("policy")[str(draft.id)] == "绿色低碳工厂奖励"
    policy_save(policy_id=draft.id, status="expired")
    assert str(draft.id) not in _titles("policy")


def test_a_deleted_policy_leaves_the_index(city):
    from industry.services.policies import policy_save

    p = policy_save(criteria=[], code="p-del", title="专精特新补贴", status="active")
    assert str(p.id) in _titles("policy")
    p.delete()
    assert str(p.id) not in _titles("policy")


def test_livelihood_services_life_events_and_notices_follow_their_changes(city):
    from livelihood.services.guide import life_event_save, service_save, service_set_status
    from livelihood.services.notices import notice_save, notice_set_status

    svc = service_save(code="S-FRESH", name="居住证办理", department_id=city.env.id)
    service_set_status(service_id=svc.id, status="published")
    assert _titles("livelihood_service")[str(svc.id)] == "居住证办理"
    service_save(code="S-FRESH", name="居住证申领")
    assert _titles("livelihood_service")[str(svc.id)] == "居住证申领"
    assert _found(city.developer, "居住证申领", "livelihood_service") == [str(svc.id)]
    service_set_status(service_id=svc.id, status="unpublished")
    assert str(svc.id) not in _titles("livelihood_service")

    service_set_status(service_id=svc.id, status="published")
    le = life_event_save(code="move", name="搬新家", service_codes=["S-FRESH"])
    assert _titles("livelihood_life_event")[str(le.id)] == "搬新家"
    life_event_save(code="move", name="搬家落户", service_codes=["S-FRESH"])
    assert _titles("livelihood_life_event")[str(le.id)] == "搬家落户"

    n = notice_save(department_id=city.env.id, title="停水通知", body="明天停水", area_ids=[city.chaoyang.id])
    assert str(n.id) not in _titles("livelihood_notice")  # not published yet
    notice_set_status(notice_id=n.id, status="published")
    assert _titles("livelihood_notice")[str(n.id)] == "停水通知"
    assert SearchItem.objects.get(kind="livelihood_notice", key=str(n.id)).area_id == city.chaoyang.id
    notice_save(notice_id=n.id, department_id=city.env.id, title="停水延期通知", body="后天停水")
    assert _titles("livelihood_notice")[str(n.id)] == "停水延期通知"
    notice_set_status(notice_id=n.id, status="unpublished")
    assert str(n.id) not in _titles("livelihood_notice")


def test_dataset_records_are_indexed_when_an_import_commits_and_follow_the_dataset(city):
    from datahub.models import Dataset
    from tests.datahub.datasets.factories import make_dataset, run_import

    ds = make_dataset(title="餐饮企业名录", owner_department=city.env, level=Dataset.Level.PUBLIC)
    run_import(ds, "id,名称,地址\n1,老王面馆,望京路1号\n2,小李饺子,望京路2号\n".encode())
    assert sorted(_titles("record").values()) == ["小李饺子", "老王面馆"]
    assert _found(city.developer, "饺子", "record")  # public dataset: outsiders find its records
    # A new version: a changed row is re-indexed, a removed one leaves.
    run_import(ds, "id,名称,地址\n1,老王面馆,望京路9号\n3,张三烧烤,望京路3号\n".encode(), mode="replace")
    assert sorted(_titles("record").values()) == ["张三烧烤", "老王面馆"]
    assert "望京路9号" in SearchItem.objects.get(kind="record", title="老王面馆").body
    # The records carry the dataset's level: made internal, outsiders no longer find them.
    ds.level = Dataset.Level.INTERNAL
    ds.save()
    assert set(SearchItem.objects.filter(kind="record").values_list("level", flat=True)) == {1}
    assert _found(city.developer, "烧烤", "record") == []
    assert _found(city.leader, "烧烤", "record")
    ds.delete()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM datahub_searchitem WHERE kind IN ('record', 'dataset')")
        assert cur.fetchone()[0] == 0
