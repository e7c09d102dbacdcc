"""The throttle of the public case tracking: the API and the page share it (and its counters)."""

from rest_framework.throttling import SimpleRateThrottle


class TrackThrottle(SimpleRateThrottle):
    """60 requests a minute per client address, logged in or not, for reading and rating alike."""

    scope = "governance-track"
    rate = "60/min"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def track_allowed(request) -> bool:
    """For plain Django views (the public page): one more request counted; False once over."""
    return TrackThrottle().allow_request(request, None)
