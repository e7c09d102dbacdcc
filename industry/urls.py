from django.urls import path

from . import views

app_name = "industry"

urlpatterns = [
    path("", views.registry, name="registry"),
    path("enterprises/<int:pk>/", views.profile, name="profile"),
    path("parks/", views.parks, name="parks"),
    path("parks/<int:pk>/", views.park_detail, name="park"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("chain/", views.chain, name="chain"),
    path("policies/", views.policies, name="policies"),
    path("policies/<int:pk>/", views.policy_detail, name="policy"),
    path("grants/", views.grants, name="grants"),
    path("grants/decide/", views.grants_decide, name="grants-decide"),
    path("appeals/", views.appeals, name="appeals"),
    path("appeals/<int:pk>/", views.appeal_detail, name="appeal"),
    path("risk/", views.risk, name="risk"),
]
