"""`GET /api/v1/search/` and `GET /api/v1/search/suggest/`: open to everyone; what is found is
what the caller may see (anonymous callers, citizens and external developers: public items)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .serializers import SearchParamsSerializer, SuggestParamsSerializer


class SearchView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[SearchParamsSerializer],
        responses={200: dict},
        description="One search over all city data the caller may see: results, count, facets and the parse.",
    )
    def get(self, request):
        params = SearchParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(selectors.search(user=request.user, req=params.to_request()))


class SuggestView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("q", str), OpenApiParameter("limit", int)],
        responses={200: dict},
        description="Titles as you type (the last word is a prefix).",
    )
    def get(self, request):
        params = SuggestParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        d = params.validated_data
        return Response({"results": selectors.suggest(user=request.user, q=d["q"], limit=d["limit"])})
