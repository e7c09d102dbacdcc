"""A small city for the search tests: departments (a bureau with an office, another bureau), areas
(朝阳区 with a street, 江南区), users of every role, and a helper that indexes items now."""

from dataclasses import dataclass

import pytest

from cityos.roles import Role
from tests.datahub.core.factories import make_area
from tests.factories import make_department, make_user


@pytest.fixture(autouse=True)
def _fresh_search_caches(request):
    from datahub.search import selectors, services

    if "db" in request.fixturenames or "transactional_db" in request.fixturenames or request.node.get_closest_marker(
        "django_db"
    ):
        # The synonyms seeded by the migration (0012_search) are gone after any transactional
        # test of the run (it empties every table): seed them again, idempotently.
        import importlib

        from django.apps import apps

        seed = importlib.import_module("datahub.migrations.0012_search")
        request.getfixturevalue("db")
        seed.seed_synonyms(apps, None)

    services.refs_reset()
    selectors.synonyms_reset()
    selectors.labels_reset()
    yield
    services.refs_reset()
    selectors.synonyms_reset()


@dataclass
class City:
    env: object
    env_office: object
    transport: object
    chaoyang: object
    chaoyang_street: object
    jiangnan: object
    leader: object
    officer: object
    office_officer: object
    transport_officer: object
    developer: object


@pytest.fixture
def city(db):
    env = make_department(code="env", name="生态环境局", name_en="Environment Bureau")
    env_office = make_department(
        code="env-office", name="监测站", name_en="Monitoring Office", parent=env, kind="office"
    )
    transport = make_department(code="transport", name="交通运输局", name_en="Transport Bureau")
    chaoyang = make_area(name="朝阳区", name_en="Chaoyang District", box=(120.0, 30.0, 0.1))
    street = make_area(
        level="street", parent=chaoyang, name="望京街道", name_en="Wangjing Subdistrict", box=(120.0, 30.0, 0.05)
    )
    jiangnan = make_area(name="江南区", name_en="Jiangnan District", box=(120.2, 30.0, 0.1))
    return City(
        env=env,
        env_office=env_office,
        transport=transport,
        chaoyang=chaoyang,
        chaoyang_street=street,
        jiangnan=jiangnan,
        leader=make_user(role=Role.CITY_LEADER),
        officer=make_user(role=Role.DEPARTMENT_OFFICER, department=env),
        office_officer=make_user(role=Role.DEPARTMENT_OFFICER, department=env_office),
        transport_officer=make_user(role=Role.DEPARTMENT_OFFICER, department=transport),
        developer=make_user(role=Role.EXTERNAL_DEVELOPER),
    )


@pytest.fixture
def index(django_capture_on_commit_callbacks):
    """index([...items]) writes them as a committed transaction would."""
    from datahub import facade

    def _index(items):
        with django_capture_on_commit_callbacks(execute=True):
            return facade.search_index_upsert(items)

    return _index


def item(kind="document", key="1", title="标题", **kw) -> dict:
    return {"kind": kind, "key": str(key), "title": title, "level": kw.pop("level", "public"), **kw}
