"""Factories for the dataset catalogue: datasets, and files imported through the real services."""

import itertools

from django.core.files.uploadedfile import SimpleUploadedFile

from datahub.datasets.services import datasets as svc
from datahub.models import Dataset, DatasetImport
from tests.factories import make_department

_seq = itertools.count(1)


def make_dataset(*, owner_department=None, level=Dataset.Level.PUBLIC, **kw) -> Dataset:
    n = next(_seq)
    return svc.dataset_create(
        title=kw.pop("title", f"Dataset {n}"),
        owner_department=owner_department or make_department(),
        level=level,
        **kw,
    )


def preview(dataset: Dataset, content: bytes, name: str = "data.csv", user=None, **kw) -> DatasetImport:
    return svc.dataset_import_preview(dataset=dataset, upload=SimpleUploadedFile(name, content), user=user, **kw)


def run_import(
    dataset: Dataset, content: bytes, name: str = "data.csv", *, user=None, preview_kw=None, **confirm_kw
) -> DatasetImport:
    """Preview, confirm and execute in-process (what the Celery task does), returning the import."""
    imp = preview(dataset, content, name, user=user, **(preview_kw or {}))
    svc.dataset_import_confirm(imp=imp, queue=False, **confirm_kw)
    svc.dataset_import_execute(import_id=imp.id)
    imp.refresh_from_db()
    return imp
