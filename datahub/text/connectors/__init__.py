"""Connectors for internet sources: pull (RSS/Atom, JSON web APIs) and push (signed webhook).

A pull connector takes a Source and its FeedState and returns a `PullResult`; the fetch service
(datahub.text.services.internet) records the run and stores the items."""
