from .appeals import Appeal, AppealHistory, RiskSignal
from .economy import FLOW_METRICS, ChainLink, Indicator, Metric, Period
from .policies import Criterion, Grant, Match, Policy
from .registry import (
    Enterprise,
    EnterpriseHistory,
    EnterpriseMember,
    ImportJob,
    IndustryCode,
    Licence,
    Notice,
    Park,
    Tag,
)

__all__ = [
    "FLOW_METRICS",
    "Appeal",
    "AppealHistory",
    "ChainLink",
    "Criterion",
    "Enterprise",
    "EnterpriseHistory",
    "EnterpriseMember",
    "Grant",
    "ImportJob",
    "Indicator",
    "IndustryCode",
    "Licence",
    "Match",
    "Metric",
    "Notice",
    "Park",
    "Period",
    "Policy",
    "RiskSignal",
    "Tag",
]
