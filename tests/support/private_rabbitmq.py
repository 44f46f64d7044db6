"""A throwaway RabbitMQ node on its own ports, for fault drills: restart it mid-test.

Never the shared broker: the drill must not disturb anything else on the machine. The node
keeps its data in a temporary directory, so a restart keeps durable queues and the
persistent messages in them, as a real broker restart does.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.network import free_port


def _open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class PrivateRabbitMQ:
    def __init__(self) -> None:
        server = shutil.which("rabbitmq-server") or "/usr/sbin/rabbitmq-server"
        control = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
        if not Path(server).exists():
            pytest.skip("rabbitmq-server is not installed")
        self._server, self._control = server, control
        self.port = free_port()
        self._directory = Path(tempfile.mkdtemp(prefix="invoicer-rabbitmq-"))
        # The packaged script runs the node as the `rabbitmq` user: it must be able to write here.
        self._directory.chmod(0o777)
        (self._directory / "enabled_plugins").write_text("[].\n")
        (self._directory / "rabbitmq.conf").write_text("loopback_users = none\n")
        self.node = f"invoicer-drill-{self.port}@localhost"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _environment(self) -> dict[str, str]:
        base = self._directory
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(base / "node.pid"),
        }

    def start(self, *, timeout_seconds: float = 60) -> None:
        self._process = subprocess.Popen(
            [self._server],
            env=self._environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the private RabbitMQ node exited ({self._process.returncode})")
            if _open(self.port):
                return
            time.sleep(0.2)
        raise RuntimeError("the private RabbitMQ node did not start")

    def stop(self) -> None:
        if self._process is None:
            return
        subprocess.run(
            [self._control, "-n", self.node, "shutdown"],
            env=self._environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, 9)
            self._process.wait(timeout=10)
        self._process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self._directory, ignore_errors=True)
