"""Monitoring and early warning: rules, evaluation, alerts, notifications, previews.

The entry point the IoT ingest path calls after each committed batch:
`datahub.monitoring.services.observations.on_ingest_batch_listener(rows)` (registered through
`facade.observations_batch_listen`), which evaluates `evaluate.on_series` now or in the process's
evaluation thread.
"""
