from django.urls import path

from datahub.text import views as text

urlpatterns = [
    path("sources/", text.sources, name="datahub-text-sources"),
    path("documents/", text.documents, name="datahub-documents"),
    path("documents/<int:pk>/", text.document_detail, name="datahub-document"),
    path("documents/<int:pk>/flag/", text.document_flag_view, name="datahub-document-flag"),
    path("opinion/", text.opinion, name="datahub-opinion"),
]
