"""Pages of monitoring (`/monitoring/…`, namespace `monitoring`)."""

from django.urls import path

from datahub.monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("", views.console, name="console"),
    path("escalation/", views.escalation_list, name="escalation"),
    path("escalation/new/", views.escalation_edit, name="escalation-new"),
    path("escalation/<int:policy_id>/", views.escalation_edit, name="escalation-edit"),
    path("escalation/<int:policy_id>/delete/", views.escalation_delete, name="escalation-delete"),
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/new/", views.webhook_new, name="webhook-new"),
    path("webhooks/<int:webhook_id>/", views.webhook_detail, name="webhook"),
    path("webhooks/<int:webhook_id>/actions/", views.webhook_action, name="webhook-action"),
    path("webhooks/<int:webhook_id>/delete/", views.webhook_delete, name="webhook-delete"),
    path("actions/", views.console_action, name="action"),
    path("alerts/<int:alert_id>/", views.alert_detail, name="alert"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_edit, name="rule-new"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule-edit"),
    path("preferences/", views.preferences, name="preferences"),
]
