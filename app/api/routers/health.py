"""Kubernetes-style probes: public, unthrottled, fast, component status only."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse

from app.api.dependencies.core import HealthServiceDep, LifecycleDep

HEALTH_MEDIA_TYPE = "application/health+json"

router = APIRouter(tags=["health"])


class HealthResponse(JSONResponse):
    media_type = HEALTH_MEDIA_TYPE


@router.get(
    "/livez",
    summary="Liveness: the process answers",
    response_class=HealthResponse,
    responses={200: {"content": {HEALTH_MEDIA_TYPE: {"example": {"status": "pass"}}}}},
)
async def livez() -> HealthResponse:
    # Deliberately checks nothing else: a database outage must not get the process restarted.
    return HealthResponse({"status": "pass"}, headers={"Cache-Control": "no-store"})


@router.get(
    "/readyz",
    summary="Readiness: database reachable and migrated; Redis and broker when configured",
    response_class=HealthResponse,
    responses={
        200: {
            "content": {
                HEALTH_MEDIA_TYPE: {
                    "example": {
                        "status": "pass",
                        "checks": {
                            "postgres:responseTime": [
                                {
                                    "componentType": "datastore",
                                    "status": "pass",
                                    "observedValue": 0.9,
                                    "observedUnit": "ms",
                                    "time": "2026-11-28T09:30:00Z",
                                }
                            ]
                        },
                    }
                }
            }
        },
        503: {"description": "Not ready (a check failed, or the process is shutting down)"},
    },
)
async def readyz(health: HealthServiceDep, lifecycle: LifecycleDep) -> HealthResponse:
    report = await health.readiness(draining=lifecycle.draining)
    return HealthResponse(
        report.as_json(),
        status_code=200 if report.status != "fail" else 503,
        headers={"Cache-Control": "no-store"},
    )
