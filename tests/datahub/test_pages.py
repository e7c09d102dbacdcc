from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import get_template

from cityos.labels import event_label
from cityos.roles import Role
from datahub.core import entity_sections
from datahub.models import Document, Entity
from datahub.text import selectors as text_selectors
from datahub.text.services.documents import RawItem, documents_ingest
from tests.cityos.test_no_raw_codes import visible_text
from tests.datahub.core.factories import make_area, make_entity, make_event
from tests.datahub.text.factories import make_source as make_text_source
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
    for key, context in (("licences", "licences_context"), ("hidden", "hidden_context")):
        entity_sections.register(
            entity_sections.EntitySection(
                key=key,
                title=key.title(),
                template_name="licences.html",
                context_function=f"tests.datahub.test_pages.{context}",
            )
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
    # The event by its label, never its code (issue 18).
    assert "visit.logged" not in visible_text(html)
    for text in (
        "滨江图书馆",
        "LIB-9",
        event_label("visit.logged"),
        "江南区",
        "seats",
        f"LIC-{e.id}",
        'id="entity-map"',
    ):
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
    assert client.get("/datahub/areas/").status_code == 403  # cityos.access: staff pages


def test_grid_workers_see_entities_but_cannot_merge(client):
    client.force_login(make_user(role=Role.GRID_WORKER))
    keep, dupe = make_entity(name="甲"), make_entity(name="甲")
    assert 'id="merge-form"' not in client.get(f"/datahub/entities/{keep.id}/").content.decode()
    assert client.post(f"/datahub/entities/{keep.id}/merge/", {"merged_id": dupe.id}).status_code == 403
    assert Entity.objects.get(id=dupe.id).merged_into_id is None


def test_the_entity_page_lists_the_documents_that_mention_it(staff_client):
    lib = make_entity(type="facility", name="滨江市图书馆", name_en="Binjiang City Library")
    other = make_entity(type="facility", name="体育馆")
    source = make_text_source(connector="push")
    documents_ingest(
        source_id=source.id,
        run_id=None,
        items=[RawItem(title="图书馆延时", body="滨江市图书馆周末延长开放", external_id="m1")],
    )
    html = staff_client.get(f"/datahub/entities/{lib.id}/").content.decode()
    assert 'data-section="document-mentions"' in html and "互联网提及" in html  # its title, translated
    doc = Document.objects.get(external_id="m1")
    assert f'href="/datahub/text/documents/{doc.id}/"' in html and "图书馆延时" in html
    # An entity no text names has no such section.
    assert 'data-section="document-mentions"' not in staff_client.get(f"/datahub/entities/{other.id}/").content.decode()


def test_only_staff_who_read_documents_see_the_mentions_section():
    lib = make_entity(type="facility", name="滨江市图书馆")
    documents_ingest(
        source_id=make_text_source(connector="push").id,
        run_id=None,
        items=[RawItem(title="", body="滨江市图书馆周末延长开放", external_id="m2")],
    )
    assert text_selectors.entity_mentions_context(entity_id=lib.id, user=make_user(role=Role.ANALYST)) is not None
    assert text_selectors.entity_mentions_context(entity_id=lib.id, user=make_user(role=Role.CITIZEN)) is None


def test_every_capability_template_is_found_by_the_name_its_views_use():
    root = Path(settings.BASE_DIR) / "datahub"
    found = sorted(root.glob("*/templates/**/*.html"))
    assert len(found) > 40
    for path in found:
        # datahub/iot/templates/datahub/iot/device_detail.html is "datahub/iot/device_detail.html"
        name = path.relative_to(root).as_posix().split("/templates/", 1)[1]
        assert Path(get_template(name).origin.name) == path
