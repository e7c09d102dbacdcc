"""Template filters that turn codes and names into what a reader should see.

{% load labels %}
{{ case.department|local_name }}        城市管理局 / Urban Management Bureau
{{ t.action|action_label }}             已派单 / Dispatched
{{ t.to_status|status_label }}          已受理 / Accepted
{{ event.type|event_label }}            工单超期 / Case overdue
{{ r.key|label_of:"category" }}         噪音扰民 / Noise (codes an app keeps in its tables)
"""

from django import template

from cityos.i18n import local_name as _local_name
from cityos.labels import action_label as _action_label
from cityos.labels import code_label as _code_label
from cityos.labels import event_label as _event_label
from cityos.labels import label_of as _label_of
from cityos.labels import status_label as _status_label

register = template.Library()


@register.filter
def local_name(obj, field="name"):
    return _local_name(obj, field)


@register.filter
def action_label(code):
    return _action_label(code)


@register.filter
def status_label(code):
    return _status_label(code)


@register.filter
def event_label(code):
    return _event_label(code)


@register.filter
def code_label(code):
    return _code_label(code)


@register.filter
def label_of(code, kind):
    return _label_of(kind, code)
