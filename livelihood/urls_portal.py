from django.urls import path

from . import portal

app_name = "portal"

urlpatterns = [
    path("", portal.home, name="home"),
    path("services/", portal.services, name="services"),
    path("services/<str:code>/", portal.service_detail, name="service"),
    path("services/<str:code>/book/", portal.book, name="book"),
    path("life-events/<str:code>/", portal.life_event, name="life_event"),
    path("map/", portal.facility_map, name="map"),
    path("notices/", portal.notices, name="notices"),
    path("notices/subscribe/", portal.subscribe, name="subscribe"),
    path("notices/<int:pk>/", portal.notice_detail, name="notice"),
    path("report/", portal.report, name="report"),
    path("track/", portal.track, name="track"),
    path("track/<str:number>/", portal.track, name="track_number"),
    path("rate/", portal.rate, name="rate"),
    path("appointments/<str:code>/", portal.appointment, name="appointment"),
    path("account/", portal.account, name="account"),
    path("account/register/", portal.register, name="register"),
    path("account/login/", portal.portal_login, name="login"),
    path("account/logout/", portal.portal_logout, name="logout"),
]
