"""Search: one index in PostgreSQL over everything the city holds, fed by every app.

Apps push and remove their items through `datahub.facade` (`search_index_upsert`,
`search_index_remove`) and register a provider (`search_provider_register`) that yields every
item of a kind for `manage.py search_reindex`. `selectors.search` answers queries with the
user's permissions inside the SQL, so counts and facets never leak.
"""
