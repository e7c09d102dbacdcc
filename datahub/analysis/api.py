"""`/api/v1/analysis/`: trends, hotspots, situations, briefings, region statistics, efficiency.

Views parse and bound the query, call one service, answer. Access: the staff roles (external
developers use the open data API, not analysis); reads of the event log are scoped by
`selectors.events_visible_to`.
"""

from datetime import timedelta

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from cityos.api.exceptions import ApiError
from cityos.api.pagination import StandardPagination
from cityos.api.permissions import HasRole
from cityos.roles import STAFF_ROLES
from datahub.models import Briefing, SignalWeight, Situation

from . import serializers as s
from .services import briefing as briefing_service
from .services import cockpit, efficiency, hotspots, situations, spatial, trends

STAFF = HasRole.of(*STAFF_ROLES)


class AnalysisView(APIView):
    permission_classes = [IsAuthenticated, STAFF]


class TrendView(AnalysisView):
    @extend_schema(
        operation_id="analysis_trends",
        parameters=[s.TrendQuerySerializer],
        responses={200: s.TrendSerializer, **s.ERRORS},
    )
    def get(self, request):
        """One series over a window: STL decomposition, a forecast with 80 % intervals, change points
        and period-over-period (环比, 同比)."""
        q = s.TrendQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        report = trends.trend_report(
            spec=d["series"],
            since=d["since"],
            until=d["until"],
            bucket=d["bucket"],
            horizon=d["horizon"],
            user=request.user,
        )
        return Response(report)


MAX_CLUSTER_POINTS = 200_000


class HotspotView(AnalysisView):
    @extend_schema(
        operation_id="analysis_hotspots",
        parameters=[s.HotspotQuerySerializer],
        responses={200: s.HotspotCollectionSerializer, **s.ERRORS},
    )
    def get(self, request):
        """Getis-Ord Gi* hotspots of an event type per cell (GeoJSON), with permutation p-values,
        FDR q-values and, over several windows, emerging classes. Cells without events and without
        a class are left out of `features` (they still count in `cell_count`)."""
        q = s.HotspotQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        try:
            result = hotspots.hotspots(
                event=d["event"],
                category=d.get("category", ""),
                until=d["until"],
                window=d["window"],
                windows=d["windows"],
                level=d["level"],
                cell_m=d["cell"],
                area_id=d.get("area"),
                permutations=d["permutations"],
                alpha=d["alpha"],
                user=request.user,
            )
        except hotspots.HotspotError as exc:
            raise ApiError(str(exc), code="validation_error", extra={"fields": {exc.field: [str(exc)]}}) from None
        return Response(result)


def _job_view(job_id: str, user) -> dict:
    from celery.result import AsyncResult

    res = AsyncResult(job_id)
    state, info = res.state, res.info
    owner = info.get("user_id") if isinstance(info, dict) else None
    if state == "PENDING":
        return {"id": job_id, "state": "pending", "progress": 0.0, "result": None}
    if owner is not None and owner != user.id:
        raise ApiError("no such job", code="not_found", status=404)
    if state == "PROGRESS":
        return {"id": job_id, "state": "running", "progress": info.get("progress", 0.0), "result": None}
    if state == "SUCCESS":
        return {"id": job_id, "state": "done", "progress": 1.0, "result": info["result"]}
    return {"id": job_id, "state": "failed", "progress": 0.0, "result": None}


class HotspotJobView(AnalysisView):
    @extend_schema(
        operation_id="analysis_hotspots_job_start",
        request=None,
        parameters=[s.HotspotQuerySerializer],
        responses={202: s.JobSerializer, **s.ERRORS},
    )
    def post(self, request):
        """Run a hotspot analysis in Celery (same query as GET hotspots/); poll jobs/{id}/."""
        from .tasks import hotspots_job

        q = s.HotspotQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        params = {
            "event": d["event"],
            "category": d.get("category", ""),
            "until": d["until"].isoformat(),
            "window": d["window"].total_seconds(),
            "windows": d["windows"],
            "level": d["level"],
            "cell_m": d["cell"],
            "area_id": d.get("area"),
            "permutations": d["permutations"],
            "alpha": d["alpha"],
        }
        job = hotspots_job.delay(params, request.user.id)
        return Response({"id": job.id, "state": "pending", "progress": 0.0, "result": None}, status=202)


class JobView(AnalysisView):
    @extend_schema(operation_id="analysis_job", responses={200: s.JobSerializer, 404: s.ErrorSerializer, **s.ERRORS})
    def get(self, request, job_id):
        """A background analysis: its state, progress and, when done, its result (owner only)."""
        return Response(_job_view(str(job_id), request.user))


class ClusterView(AnalysisView):
    @extend_schema(
        operation_id="analysis_hotspot_clusters",
        parameters=[s.ClusterQuerySerializer],
        responses={200: s.ClusterResultSerializer, **s.ERRORS},
    )
    def get(self, request):
        """Density clusters (DBSCAN or HDBSCAN, haversine distances) of an event type's points."""
        q = s.ClusterQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        lon, lat, _ = hotspots.event_points(
            event=d["event"],
            category=d.get("category", ""),
            since=d["since"],
            until=d["until"],
            area_id=d.get("area"),
            user=request.user,
        )
        if len(lon) > MAX_CLUSTER_POINTS:
            raise ApiError(
                f"{len(lon)} points: more than {MAX_CLUSTER_POINTS}; narrow the window or the area",
                code="validation_error",
                extra={"fields": {"from": ["too many points"]}},
            )
        return Response(
            hotspots.clusters(lon=lon, lat=lat, method=d["method"], eps_m=d["eps"], min_samples=d["min_samples"])
        )


class SituationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Situations (研判), newest window first; officers confirm or dismiss them."""

    serializer_class = s.SituationSerializer
    permission_classes = [IsAuthenticated, STAFF]
    pagination_class = StandardPagination

    def get_queryset(self):
        qs = Situation.objects.select_related("area").order_by("-window_start", "-id")
        if self.action != "list":
            return qs
        q = s.SituationQuerySerializer(data=self.request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        if "status" in d:
            qs = qs.filter(status=d["status"])
        if "severity" in d:
            qs = qs.filter(severity=d["severity"])
        if "area" in d:
            qs = qs.filter(area_id=d["area"])
        return qs

    @extend_schema(
        parameters=[s.SituationQuerySerializer], responses={200: s.SituationSerializer(many=True), **s.ERRORS}
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=s.VerdictSerializer, responses={200: s.SituationSerializer, 404: s.ErrorSerializer, **s.ERRORS}
    )
    @action(detail=True, methods=["post"])
    def verdict(self, request, pk=None):
        """Confirm or dismiss (once). The verdict retunes the weights of the situation's signal kinds."""
        situation = self.get_object()
        q = s.VerdictSerializer(data=request.data)
        q.is_valid(raise_exception=True)
        try:
            situation = situations.situation_judge(
                situation_id=situation.id,
                verdict=q.validated_data["verdict"],
                user=request.user,
                note=q.validated_data["note"],
            )
        except situations.VerdictError as exc:
            raise ApiError(str(exc), code="conflict") from None
        return Response(s.SituationSerializer(situation).data)

    @extend_schema(request=s.DetectSerializer, responses={200: s.SituationSerializer(many=True), **s.ERRORS})
    @action(detail=False, methods=["post"], pagination_class=None)  # a plain list, not a page
    def detect(self, request):
        """Run detection now over the last `hours` (the beat runs it every hour)."""
        q = s.DetectSerializer(data=request.data)
        q.is_valid(raise_exception=True)
        found = situations.situations_detect(until=timezone.now(), window=timedelta(hours=q.validated_data["hours"]))
        return Response(s.SituationSerializer(found, many=True).data)

    @extend_schema(responses={200: s.SignalWeightSerializer(many=True), **s.ERRORS})
    @action(detail=False, methods=["get"], pagination_class=None)  # a plain list, not a page
    def weights(self, request):
        """The signal kinds' current weights and the verdicts behind them."""
        rows = SignalWeight.objects.order_by("kind").values("kind", "weight", "confirmed", "dismissed")
        return Response(list(rows))


class BriefingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Daily city briefings, newest day first; POST queues one for a day (Celery, with progress)."""

    permission_classes = [IsAuthenticated, STAFF]
    pagination_class = StandardPagination
    queryset = Briefing.objects.order_by("-day")

    def get_serializer_class(self):
        return s.BriefingListSerializer if self.action == "list" else s.BriefingSerializer

    @extend_schema(responses={200: s.BriefingListSerializer(many=True), **s.ERRORS})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.BriefingRequestSerializer, responses={202: s.BriefingSerializer, **s.ERRORS})
    def create(self, request):
        """Generate (or regenerate) the briefing of a day in the background; poll its progress."""
        q = s.BriefingRequestSerializer(data=request.data)
        q.is_valid(raise_exception=True)
        b = briefing_service.briefing_request(day=q.validated_data["day"])
        return Response(s.BriefingSerializer(b).data, status=202)


class CockpitLayerView(AnalysisView):
    @extend_schema(
        operation_id="analysis_cockpit_layer",
        parameters=[s.CockpitLayerQuerySerializer],
        responses={200: s.LayerSerializer, **s.ERRORS},
    )
    def get(self, request):
        """One map layer for the cockpit, aggregated on the server: clusters by zoom and bbox (single
        items, at most 2,000, from zoom 16)."""
        q = s.CockpitLayerQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        return Response(
            cockpit.layer_geojson(
                layer=d["layer"],
                zoom=d["zoom"],
                bbox=d.get("bbox"),
                hours=d["hours"],
                area_id=d.get("area"),
                user=request.user,
            )
        )


class CockpitKpiView(AnalysisView):
    @extend_schema(
        operation_id="analysis_cockpit_kpis",
        parameters=[s.CockpitKpiQuerySerializer],
        responses={200: s.KpiSerializer, **s.ERRORS},
    )
    def get(self, request):
        """Today's KPI tiles and 14 days of case intake and alerts (city or one area)."""
        q = s.CockpitKpiQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        return Response(cockpit.kpis(area_id=q.validated_data.get("area"), user=request.user))


def _answer(rows: list[dict], export: str, name: str, user=None):
    """JSON rows, or a CSV download (export=csv) with the same columns."""
    if export != "csv":
        return Response(rows)
    import csv
    import io

    from django.http import HttpResponse

    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()})
    resp = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return resp


def _csv_or(serializer):
    return {(200, "application/json"): serializer(many=True), (200, "text/csv"): str, **s.ERRORS}


class RegionStatsView(AnalysisView):
    @extend_schema(
        operation_id="analysis_region_stats",
        parameters=[s.RegionStatsQuerySerializer],
        responses=_csv_or(s.RegionStatRowSerializer),
    )
    def get(self, request):
        """Counts per area of a level and time bucket for an event type, or count/sum/mean/min/max
        of a datastream metric (devices in the area)."""
        q = s.RegionStatsQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        if d.get("event"):
            rows = spatial.region_stats_events(
                event=d["event"],
                category=d.get("category", ""),
                level=d["level"],
                bucket=d["bucket"],
                since=d["since"],
                until=d["until"],
                user=request.user,
            )
        else:
            rows = spatial.region_stats_metric(
                metric=d["metric"], level=d["level"], bucket=d["bucket"], since=d["since"], until=d["until"]
            )
        return _answer(rows, d["export"], "region-stats")


class KnnView(AnalysisView):
    @extend_schema(
        operation_id="analysis_knn", parameters=[s.KnnQuerySerializer], responses=_csv_or(s.KnnRowSerializer)
    )
    def get(self, request):
        """The k entities nearest a point (optionally of one type, within a distance)."""
        q = s.KnnQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        rows = spatial.knn_entities(
            lon=d["lon"], lat=d["lat"], k=d["k"], type=d.get("type", ""), max_m=d.get("max_distance")
        )
        return _answer(rows, d["export"], "nearest")


class WindowJoinView(AnalysisView):
    @extend_schema(
        operation_id="analysis_window_join",
        parameters=[s.WindowJoinQuerySerializer],
        responses=_csv_or(s.WindowJoinRowSerializer),
    )
    def get(self, request):
        """Left events within `distance` metres and `hours` of a right event (at most 10,000 pairs)."""
        q = s.WindowJoinQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        rows = spatial.window_join(
            left=d["left"],
            right=d["right"],
            distance_m=d["distance"],
            hours=d["hours"],
            since=d["since"],
            until=d["until"],
            user=request.user,
        )
        return _answer(rows, d["export"], "window-join")


class EfficiencyView(AnalysisView):
    @extend_schema(
        operation_id="analysis_efficiency",
        parameters=[s.EfficiencyQuerySerializer],
        responses=_csv_or(s.DepartmentEfficiencySerializer),
    )
    def get(self, request):
        """Per department and family of work: workload, on-time rate, mean handling time, reopen
        rate, satisfaction, rank, and the previous window's figures."""
        q = s.EfficiencyQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        rows = efficiency.efficiency_with_trend(since=d["since"], until=d["until"], family=d.get("family"))
        return _answer(rows, d["export"], "efficiency")


router = SimpleRouter()
router.register("briefings", BriefingViewSet, basename="analysis-briefing")
router.register("situations", SituationViewSet, basename="analysis-situation")

urlpatterns = [
    *router.urls,
    path("cockpit/layer/", CockpitLayerView.as_view(), name="analysis-cockpit-layer"),
    path("cockpit/kpis/", CockpitKpiView.as_view(), name="analysis-cockpit-kpis"),
    path("region-stats/", RegionStatsView.as_view(), name="analysis-region-stats"),
    path("nearest/", KnnView.as_view(), name="analysis-knn"),
    path("window-join/", WindowJoinView.as_view(), name="analysis-window-join"),
    path("efficiency/", EfficiencyView.as_view(), name="analysis-efficiency"),
    path("hotspots/jobs/", HotspotJobView.as_view(), name="analysis-hotspot-jobs"),
    path("jobs/<uuid:job_id>/", JobView.as_view(), name="analysis-job"),
    path("hotspots/", HotspotView.as_view(), name="analysis-hotspots"),
    path("hotspots/clusters/", ClusterView.as_view(), name="analysis-hotspot-clusters"),
    path("trends/", TrendView.as_view(), name="analysis-trends"),
]
