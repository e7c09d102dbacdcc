from celery import shared_task


@shared_task(name="cityos.ping", acks_late=False, ignore_result=False, soft_time_limit=10)
def ping(nonce: str = "pong") -> dict:
    """A real round trip through a worker: used by /health/ and the test suite."""
    import os
    import socket

    return {"token": nonce, "worker": f"{socket.gethostname()}:{os.getpid()}"}
