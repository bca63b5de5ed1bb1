"""Streamlit's static files come from HAProxy's memory after the first fetch, not from the replicas' cores.

A real ``streamlit run`` (a one-line script: no model, no study) behind a real HAProxy with the rendered
configuration: two of Streamlit's files, its main bundle and its largest chunk, are fetched once through the
proxy; then the replica is stopped. Fetched again, both still arrive, byte for byte, from the proxy alone,
while the page itself (``index.html``, ``no-cache``: it sets the affinity cookie) is not served without a
replica.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import streamlit
from e2e.streamlit_server import StreamlitServer

from study_app.serve.haproxy import STATIC_OBJECT_MAX_BYTES, Backend, ProxySettings, render_config
from study_app.serve.launcher import free_port

pytestmark = pytest.mark.slow

STATIC = Path(streamlit.__file__).parent / "static"


def require_haproxy() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("haproxy is not installed (apt-get install haproxy)")
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    return found


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""
    except OSError:  # the proxy not listening yet
        return 0, b""


def test_every_static_file_fits_in_one_cache_object():
    largest = max(p.stat().st_size for p in STATIC.rglob("*") if p.is_file())
    assert largest + 4096 < STATIC_OBJECT_MAX_BYTES, f"a {largest}-byte Streamlit file would not be cached"


def test_static_files_are_served_by_the_proxy_once_fetched(tmp_path):
    haproxy = require_haproxy()
    script = tmp_path / "app.py"
    script.write_text("import streamlit as st\n\nst.write('hello')\n")
    index = (STATIC / "index.html").read_text()
    main_bundle = "/" + re.search(r'src="\./(static/js/index\.[^"]+\.js)"', index).group(1)
    largest = max((p for p in (STATIC / "static" / "js").glob("*.js")), key=lambda p: p.stat().st_size)
    files = [main_bundle, f"/static/js/{largest.name}"]

    with StreamlitServer({}, tmp_path / "replica.log", script=script) as replica:
        port = free_port()
        config = tmp_path / "haproxy.cfg"
        config.write_text(render_config(ProxySettings(backends=[Backend("r1", replica.port)], port=port,
                                                      bind_address="127.0.0.1", check_interval_ms=300)))
        proxy = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while fetch(f"{base}/_stcore/health")[0] != 200:
                assert time.monotonic() < deadline, "haproxy never reached the replica"
                time.sleep(0.2)
            first = {path: fetch(base + path) for path in files}
            assert all(status == 200 for status, _ in first.values()), {p: s for p, (s, _) in first.items()}
            assert fetch(base + "/")[0] == 200

            replica.kill()
            deadline = time.monotonic() + 30
            while fetch(f"{base}/_stcore/health")[0] == 200:  # until the proxy has noticed
                assert time.monotonic() < deadline, "the replica still answers after SIGKILL"
                time.sleep(0.2)

            for path in files:
                status, body = fetch(base + path)
                assert status == 200, f"{path} was not kept by the proxy (HTTP {status})"
                assert body == first[path][1] == (STATIC / path.lstrip("/")).read_bytes()
            assert fetch(base + "/")[0] == 503, "index.html must always come from a replica (no-cache)"
        finally:
            proxy.terminate()
            proxy.wait(timeout=15)
