from .cases import (
    DONE_STATUSES,
    OPEN_STATUSES,
    Case,
    CaseAttachment,
    CaseTransition,
    CategoryCorrection,
    Channel,
    Priority,
    Status,
    TrackingCounter,
)
from .categories import Category, ClassifierModel, ClassifierRule, ServiceAttribute
from .dispatch import DispatchCentre, DispatchRule
from .grids import GridAssignment
from .knowledge import KnowledgeArticle
from .privacy import PersonalDataAccess
from .sla import CalendarDay, SlaPolicy, SupervisionOrder

__all__ = [
    "DONE_STATUSES",
    "OPEN_STATUSES",
    "CalendarDay",
    "Case",
    "CaseAttachment",
    "CaseTransition",
    "Category",
    "CategoryCorrection",
    "Channel",
    "ClassifierModel",
    "ClassifierRule",
    "DispatchCentre",
    "DispatchRule",
    "GridAssignment",
    "KnowledgeArticle",
    "PersonalDataAccess",
    "Priority",
    "ServiceAttribute",
    "SlaPolicy",
    "Status",
    "SupervisionOrder",
    "TrackingCounter",
]
