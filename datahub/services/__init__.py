"""Datahub write services, one module per topic (datasets, areas, iot, documents…)."""
