"""The escalation chain editor in a browser: its "add a level" button (JavaScript) and saving."""

import pytest

from datahub.models import EscalationPolicy
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_builds_a_two_level_chain_in_the_editor(live_server, page, user, department):
    duty = make_user(department=department, username="duty-officer")
    page.goto(f"{live_server.url}/login/?next=/monitoring/escalation/new/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#chain-form")
    page.select_option("#id_chain-department", str(department.id))
    page.fill("#id_levels-0-after_minutes", "10")
    page.select_option("#id_levels-0-users", str(duty.id))
    page.fill("#id_levels-1-after_minutes", "30")
    page.check("input[name='levels-1-roles'][value='city_leader']")
    page.click("#add-level")  # a third level, added by the page's script
    page.fill("#id_levels-2-after_minutes", "60")
    page.check("input[name='levels-2-roles'][value='administrator']")
    page.check("input[name='levels-2-channels'][value='email']")
    page.click("#save-chain")
    page.wait_for_selector(".messages")
    policy = EscalationPolicy.objects.get(department=department)
    assert list(policy.levels.values_list("level", "after_minutes", "roles", "channels")) == [
        (1, 10, [], []),
        (2, 30, ["city_leader"], []),
        (3, 60, ["administrator"], ["email"]),
    ]
    assert list(policy.levels.get(level=1).users.all()) == [duty]
    # Back on the saved chain: three levels and one blank row to add another.
    assert page.locator("fieldset.level-form").count() == 4
