"""NGSI-LD context API (ETSI GS CIM 009) over the datahub registry and observations (`/ngsi-ld/v1/`)."""


def setup() -> None:
    """Registered from DatahubConfig.ready(): notifications on ingested readings, and the tasks."""
    from datahub import facade

    from . import tasks

    facade.observations_batch_listen(tasks.on_ingest_batch)
