"""Analysis and judgment (分析研判): trends and forecasts, hotspots, cross-source situations and the
daily city briefing, computed from the datahub's event log, observations, documents and areas.

Sits on top of the datahub's capabilities: it reads them, never the apps (governance, industry,
livelihood record what they do as events; analysis is generic over event types).
"""
