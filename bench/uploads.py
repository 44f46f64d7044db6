"""Memory of a 10 MB attachment's upload and download, measured on the serving process.

Runs `invoicer serve` (1 worker, PostgreSQL and Redis from bench/stack.py, the local storage
backend in a temporary directory), warms the routes up with a small file, then uploads a file of
FILE_BYTES (streamed by the client in 64 KiB chunks) and downloads it (read and discarded as it
arrives). For each, the server's peak resident memory is compared with its resident memory just
before: sampled every 2 ms from /proc/<pid>/status (VmRSS), and the kernel's own high-water mark
(VmHWM, reset through /proc/<pid>/clear_refs before each step where the kernel allows it).
The goal is growth <= 16 MB each: the file streams through, it is never held whole.

    make bench-uploads       # or: .venv/bin/python bench/uploads.py
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import seeded_server, sign_in

FILE_BYTES = 10_000_000
GOAL_BYTES = 16 * 1024 * 1024
CHUNK = 64 * 1024
BOUNDARY = "bench-boundary-7d1f0c"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def status_field(pid: int, name: str) -> int:
    """A `kB` field of /proc/<pid>/status, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) * 1024
    raise KeyError(name)


def reset_high_water_mark(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Peak:
    """VmRSS sampled in a thread while the block runs; and VmHWM around it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, status_field(self.pid, "VmRSS"))
            self._stop.wait(0.002)

    def __enter__(self) -> Peak:
        self.hwm_reset = reset_high_water_mark(self.pid)
        self.before = status_field(self.pid, "VmRSS")
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.hwm = status_field(self.pid, "VmHWM")

    def report(self, label: str) -> bool:
        sampled = self.peak - self.before
        line = f"{label:<9} RSS before {self.before / 2**20:7.1f} MiB"
        line += f", sampled peak +{sampled / 2**20:5.1f} MiB"
        growth = sampled
        if self.hwm_reset:
            growth = max(sampled, self.hwm - self.before)
            line += f", VmHWM +{(self.hwm - self.before) / 2**20:5.1f} MiB"
        ok = growth <= GOAL_BYTES
        print(f"{line}  -> {'ok' if ok else 'OVER'} (goal <= {GOAL_BYTES / 2**20:.0f} MiB)")
        return ok


def multipart(content: bytes) -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="description"\r\n\r\nBenchmark\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    view = memoryview(content)
    for start in range(0, len(content), CHUNK):
        yield bytes(view[start : start + CHUNK])
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def main() -> int:
    content = PNG_SIGNATURE + os.urandom(FILE_BYTES - len(PNG_SIGNATURE))
    with tempfile.TemporaryDirectory(prefix="invoicer-bench-attachments-") as directory:
        env = {"STORAGE_BACKEND": "local", "STORAGE_LOCAL_DIR": directory}
        with seeded_server(extra_env=env) as stack:
            auth = {"Authorization": f"Bearer {sign_in(stack.base_url)['access_token']}"}
            with httpx.Client(base_url=stack.base_url, headers=auth, timeout=60) as client:
                orgs = client.get("/api/v1/orgs").json()["items"]
                [acme] = [org["id"] for org in orgs if org["slug"] == "acme"]
                customer = client.post(f"/api/v1/orgs/{acme}/customers", json={"name": "Bench"}).json()["id"]
                invoice = client.post(
                    f"/api/v1/orgs/{acme}/invoices",
                    json={
                        "customer_id": customer,
                        "currency": "EUR",
                        "issue_date": "2026-11-01",
                        "due_date": "2026-12-01",
                        "line_items": [{"description": "Bench", "quantity": "1", "unit_price": "1.00"}],
                    },
                ).json()["id"]
                url = f"/api/v1/orgs/{acme}/invoices/{invoice}/attachments"
                headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

                def upload(body: bytes) -> str:
                    response = client.post(url, content=multipart(body), headers=headers)
                    assert response.status_code == 201, response.text
                    return str(response.headers["Location"])

                def download(location: str) -> str:
                    digest = hashlib.sha256()
                    with client.stream("GET", location) as response:
                        assert response.status_code == 200
                        for chunk in response.iter_bytes(CHUNK):
                            digest.update(chunk)
                    return digest.hexdigest()

                for _ in range(3):  # warm-up: code paths, pools, allocator arenas
                    download(upload(content[:200_000]))
                time.sleep(0.5)
                with Peak(stack.pid) as upload_peak:
                    started = time.perf_counter()
                    location = upload(content)
                    upload_seconds = time.perf_counter() - started
                with Peak(stack.pid) as download_peak:
                    started = time.perf_counter()
                    received = download(location)
                    download_seconds = time.perf_counter() - started
                assert received == hashlib.sha256(content).hexdigest(), "the download differs"
    print(
        f"file: {FILE_BYTES / 1e6:.0f} MB; upload {upload_seconds:.2f} s, download {download_seconds:.2f} s"
    )
    ok = upload_peak.report("upload") & download_peak.report("download")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
