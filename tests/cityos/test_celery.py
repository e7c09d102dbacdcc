import pytest

from cityos.tasks import ping


@pytest.mark.celery_worker
def test_it_runs_a_task_in_a_real_worker_process(celery_worker_process):
    import os

    result = ping.delay("hello-worker")
    reply = result.get(timeout=10)
    assert reply["token"] == "hello-worker"
    worker_pid = int(reply["worker"].rsplit(":", 1)[1])
    assert worker_pid == celery_worker_process["pid"]
    assert worker_pid != os.getpid()
