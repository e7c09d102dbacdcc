"""Analysis services: computations (trends, hotspots) and the writes (situations, briefings)."""
