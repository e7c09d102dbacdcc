from django.urls import path

from . import views

app_name = "livelihood"

urlpatterns = [
    path("services/", views.services, name="services"),
    path("services/new/", views.service_edit, name="service_new"),
    path("services/<int:pk>/", views.service_edit, name="service_edit"),
    path("services/<int:pk>/status/", views.service_status, name="service_status"),
    path("facilities/", views.facilities, name="facilities"),
    path("appointments/", views.appointments, name="appointments"),
    path("counter/<int:office_id>/", views.counter, name="counter"),
    path("counter/<int:office_id>/<int:appointment_id>/", views.counter_action, name="counter_action"),
    path("notices/", views.notices_page, name="notices"),
    path("notices/new/", views.notice_edit, name="notice_new"),
    path("notices/<int:pk>/", views.notice_edit, name="notice_edit"),
    path("notices/<int:pk>/status/", views.notice_status, name="notice_status"),
    path("ratings/", views.ratings_page, name="ratings"),
    path("ratings/<int:pk>/reply/", views.rating_reply, name="rating_reply"),
]
