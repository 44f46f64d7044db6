"""Kubernetes-style probes: public, unthrottled, fast; pass or fail is all they tell everyone.

Which dependencies there are, which one failed and how fast each answered help an attacker
(the stack, and timing to watch) more than a load balancer, which needs only the status: those
details are for the operator's METRICS_TOKEN bearer, or public with READYZ_DETAILS_PUBLIC=true.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from app.api.dependencies.core import HealthServiceDep, LifecycleDep, SettingsDep
from app.api.dependencies.operator import presents_operator_token

HEALTH_MEDIA_TYPE = "application/health+json"

router = APIRouter(tags=["health"])


class HealthResponse(JSONResponse):
    media_type = HEALTH_MEDIA_TYPE


@router.get(
    "/livez",
    summary="Liveness: the process answers",
    description="Checks nothing else, on purpose: an outage of a dependency must not restart the process.",
    response_class=HealthResponse,
    responses={200: {"content": {HEALTH_MEDIA_TYPE: {"examples": {"pass": {"value": {"status": "pass"}}}}}}},
)
async def livez() -> HealthResponse:
    # Deliberately checks nothing else: a database outage must not get the process restarted.
    return HealthResponse({"status": "pass"}, headers={"Cache-Control": "no-store"})


@router.get(
    "/readyz",
    summary="Readiness: database reachable and migrated; Redis and broker when configured",
    description=(
        "Everyone gets the status alone (`pass`, or `fail` with 503). The per-dependency `checks` "
        "come with `Authorization: Bearer <METRICS_TOKEN>`, or for everyone when "
        "READYZ_DETAILS_PUBLIC is on."
    ),
    response_class=HealthResponse,
    responses={
        200: {
            "content": {
                HEALTH_MEDIA_TYPE: {
                    "examples": {
                        "public": {"summary": "Anyone", "value": {"status": "pass"}},
                        "operator": {
                            "summary": "With the operator's bearer token",
                            "value": {
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
                            },
                        },
                    }
                }
            }
        },
        503: {
            "description": "Not ready (a check failed, or the process is shutting down).",
            "content": {HEALTH_MEDIA_TYPE: {"examples": {"fail": {"value": {"status": "fail"}}}}},
        },
    },
)
async def readyz(
    request: Request, health: HealthServiceDep, lifecycle: LifecycleDep, settings: SettingsDep
) -> HealthResponse:
    report = await health.readiness(draining=lifecycle.draining)
    details = settings.readyz_details_public or presents_operator_token(request, settings)
    return HealthResponse(
        report.as_json(details=details),
        status_code=200 if report.status != "fail" else 503,
        headers={"Cache-Control": "no-store"},
    )
