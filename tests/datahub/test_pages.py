import pytest

from cityos.roles import Role
from datahub import entity_sections, facade
from datahub.models import Entity
from tests.datahub.factories import make_area, make_entity, make_event
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def licences_context(*, entity_id, user):
    return {"licences": [f"LIC-{entity_id}"]}


def hidden_context(*, entity_id, user):
    return None


@pytest.fixture
def staff_client(client):
    client.force_login(make_user(role=Role.ANALYST))
    return client


@pytest.fixture
def extra_sections(settings, tmp_path):
    (tmp_path / "licences.html").write_text(
        '<ul id="licences">{% for l in section.licences %}<li>{{ l }}</li>{% endfor %}</ul>'
    )
    import copy

    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [*templates[0]["DIRS"], tmp_path]
    settings.TEMPLATES = templates  # assigned, so Django resets its cached template engines
    facade.entity_page_section_register(
        key="licences",
        title="Licences",
        template_name="licences.html",
        context_function="tests.datahub.test_pages.licences_context",
    )
    facade.entity_page_section_register(
        key="hidden",
        title="Hidden",
        template_name="licences.html",
        context_function="tests.datahub.test_pages.hidden_context",
    )
    yield
    entity_sections.unregister("licences")
    entity_sections.unregister("hidden")


def test_the_entity_page_shows_everything_linked_to_the_entity(staff_client, extra_sections):
    district = make_area(name="江南区", box=(120.0, 30.0, 0.5))
    e = make_entity(
        name="滨江图书馆",
        lon=120.1,
        lat=30.1,
        area=district,
        identifiers={"library": "LIB-9"},
        attributes={"seats": 300},
    )
    make_event(type="visit.logged", subject=e, area=district)
    html = staff_client.get(f"/datahub/entities/{e.id}/").content.decode()
    for text in ("滨江图书馆", "LIB-9", "visit.logged", "江南区", "seats", f"LIC-{e.id}", 'id="entity-map"'):
        assert text in html
    assert 'data-section="hidden"' not in html  # a section whose context is None is not shown


def test_the_entity_page_merges_through_a_form(staff_client):
    keep, dupe = make_entity(name="甲"), make_entity(name="甲")
    response = staff_client.post(f"/datahub/entities/{keep.id}/merge/", {"merged_id": dupe.id})
    assert response.status_code == 302
    assert Entity.objects.get(id=dupe.id).merged_into_id == keep.id
    page = staff_client.get(f"/datahub/entities/{dupe.id}/").content.decode()
    assert 'id="undo-merge"' in page
    staff_client.post(f"/datahub/entities/{dupe.id}/split/")
    assert Entity.objects.get(id=dupe.id).merged_into_id is None


def test_a_refused_merge_is_explained_on_the_page(staff_client):
    keep = make_entity(name="甲")
    response = staff_client.post(f"/datahub/entities/{keep.id}/merge/", {"merged_id": keep.id}, follow=True)
    assert "cannot be merged into itself" in response.content.decode()


def test_the_entity_list_searches_by_name_and_identifier(staff_client):
    make_entity(name="滨江图书馆", identifiers={"library": "LIB-9"})
    make_entity(name="体育馆")
    assert "滨江图书馆" in staff_client.get("/datahub/entities/?q=LIB-9").content.decode()
    assert "体育馆" not in staff_client.get("/datahub/entities/?q=LIB-9").content.decode()


def test_the_area_browser_page_renders(staff_client):
    html = staff_client.get("/datahub/areas/").content.decode()
    assert 'id="area-map"' in html and 'id="area-tree"' in html


def test_external_developers_do_not_get_the_pages(client):
    client.force_login(make_user(role=Role.EXTERNAL_DEVELOPER))
    assert client.get("/datahub/areas/").status_code == 404


def test_grid_workers_see_entities_but_cannot_merge(client):
    client.force_login(make_user(role=Role.GRID_WORKER))
    keep, dupe = make_entity(name="甲"), make_entity(name="甲")
    assert 'id="merge-form"' not in client.get(f"/datahub/entities/{keep.id}/").content.decode()
    assert client.post(f"/datahub/entities/{keep.id}/merge/", {"merged_id": dupe.id}).status_code == 404
    assert Entity.objects.get(id=dupe.id).merged_into_id is None
