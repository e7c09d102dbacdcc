from .core import Area, Department, Entity, EntityIdentifier, Event, Run, Source
from .documents import Document, DocumentArea, DocumentEntity, FeedState, Sentiment, TextModel, Topic, TopicRule

__all__ = [
    "Area",
    "Department",
    "Document",
    "DocumentArea",
    "DocumentEntity",
    "Entity",
    "EntityIdentifier",
    "Event",
    "FeedState",
    "Run",
    "Sentiment",
    "Source",
    "TextModel",
    "Topic",
    "TopicRule",
]
