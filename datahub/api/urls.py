from rest_framework.routers import DefaultRouter

from . import datasets, views

router = DefaultRouter()
router.register("departments", views.DepartmentViewSet, basename="department")
router.register("datasets", datasets.DatasetViewSet, basename="dataset")
router.register("dataset-imports", datasets.DatasetImportViewSet, basename="dataset-import")

urlpatterns = router.urls
