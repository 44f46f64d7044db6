"""A throwaway PostgreSQL cluster on its own port, for fault drills: restart it mid-test.

Never the shared server: the drill must not disturb anything else on the machine. The cluster
lives in a temporary directory (fsync off: nothing here must survive the machine), run as the
`postgres` system user when the tests run as root, as PostgreSQL requires.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.network import free_port

BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class PrivatePostgres:
    def __init__(self) -> None:
        if not BINARIES:
            pytest.skip("PostgreSQL's server binaries are not installed")
        self._bin = BINARIES[0]
        self.port = free_port()
        self._directory = Path(tempfile.mkdtemp(prefix="invoicer-postgres-"))
        self._data = self._directory / "data"
        self._run_as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self._directory, user="postgres")
            self._run_as = ["runuser", "-u", "postgres", "--"]
        self._command(
            "initdb", "-D", str(self._data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"
        )

    @property
    def admin_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _command(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._run_as, str(self._bin / program), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self._directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._command(
            "pg_ctl",
            "-D",
            str(self._data),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "-l",
            str(self._directory / "log"),
            "start",
        )

    def stop(self) -> None:
        if (self._data / "postmaster.pid").exists():
            self._command("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "-t", "60", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self._directory, ignore_errors=True)
