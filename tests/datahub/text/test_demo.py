import pytest

from datahub.models import Document, Run
from tests.demo_snapshot import demo_city

pytestmark = pytest.mark.django_db


def test_the_demo_city_has_an_internet_source_with_analysed_posts_and_is_idempotent():
    demo_city()
    docs = Document.objects.filter(source__code="demo-citizen-forum")
    n = docs.count()
    assert 300 <= n <= 500
    assert docs.filter(district__isnull=False).count() == n  # every demo post names a street
    assert docs.values("topic").distinct().count() >= 8
    assert docs.exclude(cluster_id=None).values("cluster_id").distinct().count() < n  # reposts grouped
    assert Run.objects.get(source__code="demo-citizen-forum").rows_stored == n
    demo_city()
    assert docs.count() == n and Run.objects.filter(source__code="demo-citizen-forum").count() == 1
