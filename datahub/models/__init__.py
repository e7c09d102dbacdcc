from .core import Area, Department, Entity, EntityIdentifier, Event, Run, Source
from .datasets import Dataset, DatasetField, DatasetImport, DatasetRecord, DatasetVersion
from .documents import Document, DocumentArea, DocumentEntity, FeedState, Sentiment, TextModel, Topic, TopicRule
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
    "Document",
    "DocumentArea",
    "DocumentEntity",
    "Entity",
    "EntityIdentifier",
    "Event",
    "FeedState",
    "IngestBatch",
    "Observation",
    "ObservationLatest",
    "ObservationRollup",
    "Run",
    "Sentiment",
    "Source",
    "TextModel",
    "Topic",
    "TopicRule",
]
