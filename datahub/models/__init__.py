from .core import Area, Department, Entity, EntityIdentifier, Event, Run, Source
from .iot import Datastream, Device, IngestBatch, Observation, ObservationLatest, ObservationRollup

__all__ = [
    "Area",
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
