"""The search page (`/search/`, namespace `search`) and the API paths (`api_urlpatterns`, mounted
at `/api/v1/search/`)."""

from django.urls import path

from . import api, views

app_name = "search"
urlpatterns = [path("", views.search_page, name="page")]
api_urlpatterns = [
    path("", api.SearchView.as_view(), name="search-api"),
    path("suggest/", api.SuggestView.as_view(), name="search-suggest"),
]
