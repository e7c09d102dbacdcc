from .core import Area, Department, Entity, EntityIdentifier, Event, Run, Source
from .datasets import Dataset, DatasetField, DatasetImport, DatasetRecord, DatasetVersion

__all__ = [
    "Area",
    "Dataset",
    "DatasetField",
    "DatasetImport",
    "DatasetRecord",
    "DatasetVersion",
    "Department",
    "Entity",
    "EntityIdentifier",
    "Event",
    "Run",
    "Source",
]
