from .core import Area, Department, Entity, EntityIdentifier, Event, Run, Source
from .datasets import Dataset, DatasetField, DatasetImport, DatasetRecord, DatasetVersion
from .iot import Datastream, Device, IngestBatch, Observation, ObservationLatest, ObservationRollup

__all__ = [
    "Area",
    "Dataset",
    "DatasetField",
    "DatasetImport",
    "DatasetRecord",
    "DatasetVersion",
    "Datastream",
    "Department",
    "Device",
    "Entity",
    "EntityIdentifier",
    "Event",
    "IngestBatch",
    "Observation",
    "ObservationLatest",
    "ObservationRollup",
    "Run",
    "Source",
]
