from .classification import train_classifier_task
from .sla import sla_scan_task

__all__ = ["sla_scan_task", "train_classifier_task"]
