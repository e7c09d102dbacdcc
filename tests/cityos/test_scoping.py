import pytest

from cityos.navigation import items_for
from cityos.roles import Role
from cityos.scoping import can_see_department, scope_by_department, visible_department_ids
from datahub.models import Department
from tests.factories import make_department, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    city = make_department(kind="city")
    bureau = make_department(parent=city)
    office = make_department(parent=bureau, kind="office")
    other = make_department(parent=city)
    return city, bureau, office, other


def test_it_keeps_the_department_path_as_a_prefix_of_its_children(tree):
    city, bureau, office, _ = tree
    office.refresh_from_db()
    assert office.path == f"/{city.pk}/{bureau.pk}/{office.pk}/"


def test_it_moves_a_subtree_when_a_department_changes_parent(tree):
    city, bureau, office, other = tree
    bureau.parent = other
    bureau.save()
    office.refresh_from_db()
    assert office.path == f"/{city.pk}/{other.pk}/{bureau.pk}/{office.pk}/"


def test_it_scopes_an_officer_to_their_department_subtree(tree):
    _, bureau, office, other = tree
    officer = make_user(department=bureau)
    assert visible_department_ids(officer) == {bureau.pk, office.pk}
    qs = scope_by_department(Department.objects.all(), officer, field="id")
    assert set(qs.values_list("id", flat=True)) == {bureau.pk, office.pk}
    assert not can_see_department(officer, other.pk)


@pytest.mark.parametrize("role", [Role.CITY_LEADER, Role.ANALYST, Role.ADMINISTRATOR])
def test_it_lets_city_wide_roles_see_every_department(tree, role):
    user = make_user(role=role, department=tree[1])
    assert visible_department_ids(user) is None
    assert can_see_department(user, tree[3].pk)


def test_it_gives_a_user_without_department_nothing(tree):
    assert visible_department_ids(make_user(department=None)) == set()


def test_it_shows_administration_only_to_administrators(tree):
    officer = make_user(department=tree[1])
    admin = make_user(role=Role.ADMINISTRATOR)
    assert "admin" not in {i["key"] for i in items_for(officer)}
    assert "admin" in {i["key"] for i in items_for(admin)}
    developer = make_user(role=Role.EXTERNAL_DEVELOPER)
    assert {i["key"] for i in items_for(developer)} == {"api-docs", "developers"}  # the portal is theirs
