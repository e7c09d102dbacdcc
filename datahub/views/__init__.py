"""Datahub pages, one module per topic."""
