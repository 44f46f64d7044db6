"""GET /metrics: Prometheus text exposition. Public like the probes, unless METRICS_TOKEN is set."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.dependencies.core import SettingsDep
from app.api.dependencies.operator import presents_operator_token
from app.core.errors import AuthenticationError
from app.core.metrics import HttpMetrics

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, settings: SettingsDep) -> Response:
    if settings.metrics_token is not None and not presents_operator_token(request, settings):
        raise AuthenticationError(
            "Scraping metrics needs the metrics bearer token.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    http_metrics: HttpMetrics = request.app.state.metrics
    return Response(http_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
