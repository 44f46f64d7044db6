"""/orgs/{org_id}/webhook-endpoints: the secret shown once, conditional changes, the limit,
the audit trail, URLs we never send to (SSRF), and hostile input on every write."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest

from app.core.permissions import Role
from app.core.security.ssrf import TargetPolicy, TargetRefusedError, resolve_target
from tests.conftest import ClientFactory
from tests.support.tenants import Tenant, make_tenant
from tests.support.webhook_receiver import create_endpoint

pytestmark = pytest.mark.anyio

URL = "https://hooks.example.com/invoicer"


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


async def create(client: httpx.AsyncClient, acme: Tenant, body: Any) -> httpx.Response:
    return await client.post(acme.path("/webhook-endpoints"), headers=acme.auth[Role.ADMIN], json=body)


async def listed(client: httpx.AsyncClient, acme: Tenant) -> list[dict[str, Any]]:
    response = await client.get(acme.path("/webhook-endpoints"), headers=acme.auth[Role.ADMIN])
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_secret_is_shown_once(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await create(client, acme, {"url": URL, "event_types": ["invoice.paid", "invoice.paid"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert len(body["secret"]) == len("whsec_") + 44  # base64 of 32 bytes
    assert body["event_types"] == ["invoice.paid"]
    assert body["enabled"] is True
    assert created.headers["location"].endswith(f"/webhook-endpoints/{body['id']}")
    read = await client.get(created.headers["location"], headers=acme.auth[Role.ADMIN])
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert body["secret"] not in read.text
    assert all("secret" not in item for item in await listed(client, acme))
    assert (
        body["secret"] not in (await client.get(acme.path("/audit-log"), headers=acme.auth[Role.OWNER])).text
    )


async def test_patch_and_delete_need_the_current_etag(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await create(client, acme, {"url": URL, "event_types": ["customer.created"]})
    location, etag = created.headers["location"], created.headers["etag"]
    admin = acme.auth[Role.ADMIN]
    missing = await client.patch(location, headers=admin, json={"description": "x"})
    assert missing.status_code == 428
    changed = await client.patch(
        location,
        headers={**admin, "If-Match": etag},
        json={"description": "Accounting", "event_types": ["invoice.paid"], "enabled": False},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"] == "Accounting"
    assert changed.json()["enabled"] is False
    assert changed.json()["disabled_reason"] is None
    assert changed.headers["etag"] != etag
    stale = await client.patch(location, headers={**admin, "If-Match": etag}, json={"enabled": True})
    assert stale.status_code == 412
    not_modified = await client.get(location, headers={**admin, "If-None-Match": changed.headers["etag"]})
    assert not_modified.status_code == 304
    cleared = await client.patch(
        location, headers={**admin, "If-Match": changed.headers["etag"]}, json={"description": None}
    )
    assert cleared.json()["description"] is None
    gone = await client.delete(location, headers={**admin, "If-Match": cleared.headers["etag"]})
    assert gone.status_code == 204
    assert (await client.get(location, headers=admin)).status_code == 404
    audit = await client.get(
        acme.path("/audit-log"), headers=acme.auth[Role.OWNER], params={"target_type": "webhook_endpoint"}
    )
    actions = [entry["action"] for entry in audit.json()["items"]]
    assert actions == [
        "webhook_endpoint.deleted",
        "webhook_endpoint.updated",
        "webhook_endpoint.updated",
        "webhook_endpoint.created",
    ]


async def test_an_organization_has_a_limited_number_of_endpoints(make_client: ClientFactory) -> None:
    async with make_client(webhook_max_endpoints_per_org=2) as client:
        acme = await make_tenant(client)
        for index in range(2):
            assert (
                await create(client, acme, {"url": f"{URL}/{index}", "event_types": ["invoice.paid"]})
            ).is_success
        refused = await create(client, acme, {"url": f"{URL}/2", "event_types": ["invoice.paid"]})
        assert refused.status_code == 409
        assert refused.json()["code"] == "webhook_endpoint_limit"
        assert len(await listed(client, acme)) == 2


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://172.16.0.1/",
        "https://192.168.1.1/",
        "https://100.64.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://[fd00:ec2::254]/",
        "https://[::ffff:127.0.0.1]/",
        "https://0.0.0.0/",
        "https://224.0.0.1/",
        "https://localhost/hooks",
        "https://api.localhost/hooks",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://0x7f.1/",
        "https://2130706433/",
        "https://user:secret@hooks.example.com/",
        "https://hooks.example.com@127.0.0.1/",
        "ftp://hooks.example.com/",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "gopher://hooks.example.com/",
        "https:///no-host",
        "hooks.example.com/relative",
        "https://hooks.example.com/#fragment",
        "https://hooks.example.com:0/",
        "https://hooks.example.com:99999/",
        " https://hooks.example.com/",
        "https://hooks.example.com/\u202ereversed",
        "https://hooks.example.com/line\nbreak",
    ],
)
async def test_urls_we_never_send_to_are_refused(client: httpx.AsyncClient, acme: Tenant, url: str) -> None:
    refused = await create(client, acme, {"url": url, "event_types": ["invoice.paid"]})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"][-1] == "url"
    assert await listed(client, acme) == []


async def test_http_is_refused_where_https_is_required(make_client: ClientFactory) -> None:
    async with make_client(webhook_require_https=True) as client:
        acme = await make_tenant(client)
        refused = await create(
            client, acme, {"url": "http://hooks.example.com/", "event_types": ["invoice.paid"]}
        )
        assert refused.status_code == 422
        assert "https" in refused.json()["errors"][0]["message"]
        assert (await create(client, acme, {"url": URL, "event_types": ["invoice.paid"]})).status_code == 201


async def test_a_url_changed_by_patch_is_checked_too(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await create(client, acme, {"url": URL, "event_types": ["invoice.paid"]})
    refused = await client.patch(
        created.headers["location"],
        headers={**acme.auth[Role.ADMIN], "If-Match": created.headers["etag"]},
        json={"url": "https://169.254.169.254/"},
    )
    assert refused.status_code == 422
    read = await client.get(created.headers["location"], headers=acme.auth[Role.ADMIN])
    assert read.json()["url"] == URL


async def test_loopback_is_admitted_only_when_the_setting_allows(make_client: ClientFactory) -> None:
    async with make_client(webhook_allow_private_targets=True) as client:
        acme = await make_tenant(client)
        assert await create_endpoint(client, acme, "http://127.0.0.1:9/hooks")
        assert await create_endpoint(client, acme, "http://localhost:9/hooks")
        # Metadata and link-local addresses stay refused whatever the setting.
        refused = await create(
            client, acme, {"url": "http://169.254.169.254/", "event_types": ["invoice.paid"]}
        )
        assert refused.status_code == 422


async def test_idn_hosts_are_stored_as_punycode(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await create(
        client, acme, {"url": "https://BÜCHER.example/Hooks?a=1", "event_types": ["invoice.paid"]}
    )
    assert created.status_code == 201, created.text
    assert created.json()["url"] == "https://xn--bcher-kva.example/Hooks?a=1"
    # A Cyrillic a (U+0430) in "paypal" is accepted, and shows as what it is.
    spoof = await create(
        client, acme, {"url": "https://p\u0430ypal.example/", "event_types": ["invoice.paid"]}
    )
    assert spoof.status_code == 201
    assert spoof.json()["url"].startswith("https://xn--")


@pytest.mark.parametrize(
    "body",
    [
        {"url": URL},
        {"event_types": ["invoice.paid"]},
        {"url": URL, "event_types": []},
        {"url": URL, "event_types": ["invoice.exploded"]},
        {"url": URL, "event_types": ["webhook.ping"]},
        {"url": URL, "event_types": ["invoice.paid"] * 50},
        {"url": URL, "event_types": "invoice.paid"},
        {"url": URL + "/" + "a" * 2100, "event_types": ["invoice.paid"]},
        {"url": URL, "event_types": ["invoice.paid"], "description": "d" * 501},
        {"url": URL, "event_types": ["invoice.paid"], "description": "two\nlines"},
        {"url": URL, "event_types": ["invoice.paid"], "description": "\u202egnp.exe"},
        {"url": URL, "event_types": ["invoice.paid"], "secret": "whsec_mine"},
        {"url": URL, "event_types": ["invoice.paid"], "org_id": "00000000-0000-0000-0000-000000000001"},
        {"url": URL, "event_types": ["invoice.paid"], "disabled_reason": "x"},
        {"url": 42, "event_types": ["invoice.paid"]},
        {"url": URL, "event_types": ["invoice.paid"], "enabled": "yes please"},
        [],
        "https://hooks.example.com/",
    ],
)
async def test_hostile_creations_are_refused_and_change_nothing(
    client: httpx.AsyncClient, acme: Tenant, body: Any
) -> None:
    refused = await create(client, acme, body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert await listed(client, acme) == []


async def test_malformed_json_is_refused(client: httpx.AsyncClient, acme: Tenant) -> None:
    refused = await client.post(
        acme.path("/webhook-endpoints"),
        headers={**acme.auth[Role.ADMIN], "Content-Type": "application/json"},
        content=b'{"url": "https://hooks.example.com/", "event_types": [',
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert await listed(client, acme) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"url": None},
        {"enabled": None},
        {"event_types": []},
        {"event_types": None},
        {"url": "https://10.0.0.1/"},
        {"description": "x" * 501},
        {"secret": "whsec_x"},
        {"version": 9},
        {"status": "paid"},
    ],
)
async def test_hostile_changes_are_refused_and_change_nothing(
    client: httpx.AsyncClient, acme: Tenant, changes: dict[str, Any]
) -> None:
    created = await create(client, acme, {"url": URL, "event_types": ["invoice.paid"], "description": "Kept"})
    refused = await client.patch(
        created.headers["location"],
        headers={**acme.auth[Role.ADMIN], "If-Match": created.headers["etag"]},
        json=changes,
    )
    assert refused.status_code == 422, refused.text
    read = await client.get(created.headers["location"], headers=acme.auth[Role.ADMIN])
    assert read.headers["etag"] == created.headers["etag"]
    assert read.json()["description"] == "Kept"


async def test_replay_since_needs_an_aware_time(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await create(client, acme, {"url": URL, "event_types": ["invoice.paid"]})
    path = f"{created.headers['location']}/replay"
    for body in ({"since": "2026-01-01T00:00:00"}, {"since": "yesterday"}, {}, {"since": None, "extra": 1}):
        refused = await client.post(path, headers=acme.auth[Role.ADMIN], json=body)
        assert refused.status_code == 422, body
    accepted = await client.post(path, headers=acme.auth[Role.ADMIN], json={"since": "2026-01-01T00:00:00Z"})
    assert accepted.status_code == 202
    assert accepted.json() == {"requeued": 0}


async def test_other_organizations_endpoints_are_not_found(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await create(client, acme, {"url": URL, "event_types": ["invoice.paid"]})
    endpoint_id = created.json()["id"]
    outsider_path = f"/api/v1/orgs/{acme.outsider_org_id}/webhook-endpoints/{endpoint_id}"
    assert (await client.get(outsider_path, headers=acme.outsider)).status_code == 404
    assert (await client.post(f"{outsider_path}/ping", headers=acme.outsider)).status_code == 404
    assert (await client.get(f"{outsider_path}/deliveries", headers=acme.outsider)).status_code == 404
    listed_elsewhere = await client.get(
        f"/api/v1/orgs/{acme.outsider_org_id}/webhook-endpoints", headers=acme.outsider
    )
    assert listed_elsewhere.json()["items"] == []


def _resolver(*answers: str) -> Any:
    async def resolve(_host: str, _port: int) -> list[Any]:
        return [ipaddress.ip_address(answer) for answer in answers]

    return resolve


@pytest.mark.parametrize(
    ("answers", "refused"),
    [
        (("93.184.215.14",), False),
        (("2606:2800:21f:cb07:6820:80da:af6b:8b2c",), False),
        (("93.184.215.14", "127.0.0.1"), True),  # any forbidden address refuses the host
        (("10.0.0.7",), True),
        (("169.254.169.254",), True),
        (("::ffff:169.254.169.254",), True),
        (("64:ff9b::a9fe:a9fe",), True),  # NAT64 of 169.254.169.254
        (("fe80::1",), True),
        (("192.0.2.1",), True),  # documentation: not routable
    ],
)
async def test_every_resolved_address_is_checked(answers: tuple[str, ...], refused: bool) -> None:
    """What a delivery checks after resolving: a name whose DNS answer includes one forbidden
    address (a rebinding attempt) is refused; otherwise the first address is the one used."""
    policy = TargetPolicy(allow_private=False, require_https=True)
    url = "https://hooks.example.com:8443/x"
    if refused:
        with pytest.raises(TargetRefusedError):
            await resolve_target(url, policy, timeout_seconds=1, resolver=_resolver(*answers))
    else:
        target = await resolve_target(url, policy, timeout_seconds=1, resolver=_resolver(*answers))
        assert target.address == ipaddress.ip_address(answers[0])
        assert (target.host, target.port) == ("hooks.example.com", 8443)
