"""The soak's traffic (bench/soak.py runs it with locust, headless, in its own process).

Each simulated user signs in once as one of the demo users, then reads its account and
sessions, edits its profile now and then, and rotates its refresh token, at a fixed pace so
the load stays steady. GET /livez, the framework with no auth or SQL, is the baseline.
Every request is recorded (start, name, milliseconds, failed) and written as JSON lines to
SOAK_RECORDS when locust quits.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

from locust import HttpUser, constant_pacing, events, task

DEMO_USERS = [
    "owner@acme.example.com",
    "admin@acme.example.com",
    "accountant@acme.example.com",
    "member@acme.example.com",
    "viewer@acme.example.com",
    "owner@globex.example.com",
]
_next_user = itertools.count()
_records: list[tuple[float, str, float, bool]] = []


def _record(
    name: str, response_time: float, exception: BaseException | None, start_time: float, **_: Any
) -> None:
    _records.append((start_time, name, response_time, exception is not None))


def _write_records(**_: Any) -> None:
    with open(os.environ["SOAK_RECORDS"], "w") as output:
        for start, name, milliseconds, failed in _records:
            output.write(json.dumps([start, name, milliseconds, failed]) + "\n")


# locust's event hooks carry no type hints.
events.request.add_listener(_record)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_write_records)  # type: ignore[no-untyped-call]


class ApiUser(HttpUser):
    wait_time = constant_pacing(float(os.environ.get("SOAK_PACING_SECONDS", "0.25")))

    def on_start(self) -> None:
        email = DEMO_USERS[next(_next_user) % len(DEMO_USERS)]
        response = self.client.post(
            "/api/v1/auth/token",
            data={"username": email, "password": os.environ["SOAK_PASSWORD"]},
            name="POST /api/v1/auth/token",
        )
        response.raise_for_status()
        self._use(response.json())

    def _use(self, tokens: dict[str, Any]) -> None:
        self.refresh_token = tokens["refresh_token"]
        self.client.headers["Authorization"] = f"Bearer {tokens['access_token']}"

    @task(8)
    def read_account(self) -> None:
        self.client.get("/api/v1/users/me", name="GET /api/v1/users/me")

    @task(4)
    def liveness(self) -> None:
        self.client.get("/livez", name="GET /livez")

    @task(2)
    def list_sessions(self) -> None:
        self.client.get("/api/v1/auth/sessions?limit=10", name="GET /api/v1/auth/sessions")

    @task(1)
    def edit_profile(self) -> None:
        self.client.patch(
            "/api/v1/users/me", json={"full_name": "Soak Tester"}, name="PATCH /api/v1/users/me"
        )

    @task(1)
    def rotate_refresh_token(self) -> None:
        response = self.client.post(
            "/api/v1/auth/refresh",
            json={"refresh_token": self.refresh_token},
            name="POST /api/v1/auth/refresh",
        )
        if response.ok:
            self._use(response.json())
