"""CKAN-compatible open data API over the datahub's public datasets (`/ckan/api/3/action/`)."""
