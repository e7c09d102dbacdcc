import pytest

from datahub.models import Document, Run
from datahub.tasks import fetch_source
from tests.datahub.feedserver import FeedServer
from tests.datahub.text.factories import make_source


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_pulls_a_feed_and_records_the_run(celery_worker_process):
    with FeedServer() as server:
        source = make_source(config={"url": f"{server.url}/atom.xml"})
        reply = fetch_source.delay(source.id).get(timeout=60)
    run = Run.objects.get(id=reply["run_id"])
    assert run.status == Run.Status.SUCCEEDED and reply["stored"] == 2
    assert Document.objects.filter(source=source, run=run).count() == 2
