"""Datahub reads: querysets and aggregates, one module per topic."""
