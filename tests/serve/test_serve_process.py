"""``xai-study serve`` as a researcher runs it: a real process tree (HAProxy + a replica on the port given with
``--ports``), HTTPS at the proxy on loopback (no ``--host``), plain HTTP redirected, the affinity cookie set,
and on SIGTERM everything gone: no orphan replica or proxy.

One replica on SQLite keeps it cheap (no page is opened, so no model loads); the two-replica PostgreSQL
path with a browser is tests/e2e/test_scale_out.py.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from study_app.serve.launcher import free_port

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def require(binary: str, path: str) -> None:
    if shutil.which(binary) is None and not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is not installed (apt-get install {binary})")
        pytest.skip(f"{binary} is not installed")


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (Linux ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline and int(entry.name) != os.getpid():
                found.append(int(entry.name))
    return found


def wait_for_line(log: Path, pattern: str, proc: subprocess.Popen, timeout: float = 120) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text(errors="replace"))
        if match:
            return match
        if proc.poll() is not None:
            pytest.fail(f"xai-study serve exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    pytest.fail(f"no {pattern!r} in the serve output:\n{log.read_text(errors='replace')}")


def test_serve_with_tls_then_sigterm_leaves_nothing_behind(tmp_path):
    require("haproxy", "/usr/sbin/haproxy")
    require("openssl", "/usr/bin/openssl")
    key, cert, pem = tmp_path / "key.pem", tmp_path / "cert.pem", tmp_path / "study.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    http_port, https_port, replica_port = free_port(), free_port(), free_port()
    log_dir = tmp_path / "serve-logs"
    out = tmp_path / "serve.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("XAI_STUDY_")}
    cmd = [sys.executable, "-m", "study_app.cli", "serve", "--replicas", "1", "--study", str(PROJECT / "demo" / "study.toml"),
           "--db", f"sqlite:///{tmp_path / 'responses.sqlite'}", "--port", str(http_port), "--ports", str(replica_port),
           "--tls-cert", str(pem), "--tls-port", str(https_port), "--log-dir", str(log_dir)]
    with out.open("wb") as sink:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env={**env, "PYTHONPATH": str(PROJECT), "PYTHONUNBUFFERED": "1"},
                                stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_for_line(out, r"Study at https://127\.0\.0\.1:\d+", proc)
        replica_pid = int(wait_for_line(out, rf"replica r1: 127\.0\.0\.1:{replica_port} \(pid (\d+)\)", proc).group(1))
        config = (log_dir / "haproxy.cfg").read_text()  # no --host: loopback only, both ports
        assert f"bind 127.0.0.1:{http_port}" in config and f"bind 127.0.0.1:{https_port} ssl" in config
        assert f"127.0.0.1:{replica_port} cookie r1" in config
        assert "listening on 127.0.0.1 only" in out.read_text()

        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        plain.request("GET", "/_stcore/health")
        redirect = plain.getresponse()
        assert redirect.status == 301
        assert redirect.getheader("Location") == f"https://127.0.0.1:{https_port}/_stcore/health"

        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False  # a self-signed certificate for 127.0.0.1 without a SAN
        secure = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=10, context=context)
        secure.request("GET", "/_stcore/health")
        health = secure.getresponse()
        assert health.status == 200 and health.read() == b"ok"
        (cookie,) = [c for c in health.headers.get_all("Set-Cookie") if c.startswith("XAISRV=")]
        assert cookie.startswith("XAISRV=r1;") and "Secure" in cookie and "HttpOnly" in cookie
        assert health.getheader("Strict-Transport-Security")

        assert processes_mentioning(str(log_dir / "haproxy.cfg")), "haproxy is not running"
        proc.send_signal(signal.SIGTERM)  # what systemd sends
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopped: proxy and replicas shut down" in out.read_text()
    time.sleep(0.5)
    assert not Path(f"/proc/{replica_pid}").exists() or "zombie" in Path(f"/proc/{replica_pid}/status").read_text()
    assert processes_mentioning(str(log_dir / "haproxy.cfg")) == []
    assert processes_mentioning("--server.port") == [] or all(
        str(http_port) not in Path(f"/proc/{p}/cmdline").read_text() for p in processes_mentioning("--server.port"))
