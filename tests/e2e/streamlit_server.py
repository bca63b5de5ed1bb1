"""Start ``streamlit run study_app/main.py`` on a free local port, the way a researcher would.

Used by the end-to-end tests and by ``benchmarks/load_test.py``. The server gets its own environment
(study file, database, password) and its log goes to a file, which tests read (e.g. for the demo's
one-time password) and print when something fails. The server answers its health check only once it is
warm (study, models and maps loaded: ``study_app.ui.warm_start``), so the start waits for that too;
``healthy_at`` is when it first answered (``time.monotonic()``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAIN_SCRIPT = PROJECT_ROOT / "study_app" / "main.py"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StreamlitServer:
    """A running Streamlit server; use as a context manager. ``url`` is its base address."""

    def __init__(self, env: dict[str, str], log_path: Path, startup_timeout: float = 180.0,
                 script: Path = MAIN_SCRIPT, script_args: tuple[str, ...] = ()):
        self.script = Path(script)
        self.script_args = tuple(script_args)  # after "--", e.g. ("--study", FILE) as the README shows
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self._env = {**os.environ, **env, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
        self._startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.started_at: float | None = None  # time.monotonic() at the last (re)start
        self.healthy_at: float | None = None  # ... and when its health check first answered ok

    def __enter__(self) -> StreamlitServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self._start()
        return self

    def _start(self) -> None:
        cmd = [
            sys.executable, "-m", "streamlit", "run", str(self.script),
            "--server.port", str(self.port),
            "--server.address", "127.0.0.1",
            "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
        ]
        if self.script_args:
            cmd += ["--", *self.script_args]
        self.started_at, self.healthy_at = time.monotonic(), None
        self.process = subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, env=self._env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown code runs, connections just drop."""
        self.process.kill()
        self.process.wait(timeout=30)

    def restart(self) -> None:
        """Start the server again on the same port with the same environment (database, study, cache);
        its log continues in the same file."""
        if self.process is not None and self.process.poll() is None:
            self.kill()
        self._log.write(b"\n----- restarted -----\n")
        self._log.flush()
        self._start()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        self.healthy_at = time.monotonic()
                        return
            except OSError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"streamlit not healthy after {self._startup_timeout}s:\n{self.log_text()}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def rss_bytes(self) -> int:
        """Resident memory of the server process (Linux ``/proc``)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def __exit__(self, *exc) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()
