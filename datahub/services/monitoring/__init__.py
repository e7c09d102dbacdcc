"""Monitoring and early warning: rules, evaluation, alerts, notifications, previews.

The entry point the IoT ingest path calls after each committed batch:
`datahub.services.monitoring.evaluate.on_observations(batch)`.
"""
