from django.urls import path

from . import views

app_name = "developers"

urlpatterns = [
    path("", views.index, name="index"),
    path("signup/", views.signup, name="signup"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("guides/", views.guides, name="guides"),
    path("applications/new/", views.application_new, name="application-new"),
    path("applications/<int:app_id>/", views.application, name="application"),
    path("applications/<int:app_id>/keys/", views.key_new, name="key-new"),
    path("applications/<int:app_id>/keys/<int:key_id>/revoke/", views.key_revoke, name="key-revoke"),
    path("applications/<int:app_id>/usage.csv", views.usage_csv, name="usage-csv"),
    path("applications/<int:app_id>/subscriptions/", views.subscription_new, name="subscription-new"),
    path("applications/<int:app_id>/subscriptions/<int:sub_id>/", views.subscription, name="subscription"),
    path(
        "applications/<int:app_id>/subscriptions/<int:sub_id>/<str:action>/",
        views.subscription_action,
        name="subscription-action",
    ),
]
