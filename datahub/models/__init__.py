from .core import Area, Department, Entity, EntityIdentifier, Event, Run, Source

__all__ = ["Area", "Department", "Entity", "EntityIdentifier", "Event", "Run", "Source"]
