"""The rendered HAProxy configuration: affinity, health checks, failover, websockets, TLS; and the
committed examples in deploy/ are exactly what the template renders (so the docs cannot drift)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from study_app.serve.haproxy import EXAMPLES, Backend, ProxySettings, render_config, replica_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("haproxy is not installed (apt-get install haproxy)")
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    return found


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def settings(**kwargs) -> ProxySettings:
    return ProxySettings(backends=[Backend("r1", 9101), Backend("r2", 9102), Backend("r3", 9103)], **kwargs)


def test_every_replica_is_a_checked_server_with_its_own_cookie_value():
    cfg = lines(render_config(settings(port=8123)))
    assert "bind *:8123" in cfg
    assert [x for x in cfg if x.startswith("server ")] == [
        "server r1 127.0.0.1:9101 cookie r1", "server r2 127.0.0.1:9102 cookie r2",
        "server r3 127.0.0.1:9103 cookie r3"]
    assert "cookie XAISRV insert indirect nocache httponly" in cfg
    assert "option httpchk GET /_stcore/health" in cfg and "http-check expect status 200" in cfg
    assert "default-server check inter 2000ms fall 2 rise 2" in cfg


def test_failover_and_websockets_are_configured():
    cfg = lines(render_config(settings(check_interval_ms=300)))
    assert "mode http" in cfg
    assert "option redispatch" in cfg and "retries 3" in cfg
    assert "timeout tunnel 1h" in cfg  # idle websockets survive a participant who thinks for minutes
    assert "default-server check inter 300ms fall 2 rise 2" in cfg
    assert not any("ssl" in x for x in cfg)


def test_tls_terminates_at_the_proxy_and_http_redirects():
    cfg = lines(render_config(settings(tls_cert=Path("/etc/haproxy/certs/study.pem"), tls_port=8443,
                                       bind_address="0.0.0.0")))
    assert "bind 0.0.0.0:8443 ssl crt /etc/haproxy/certs/study.pem alpn http/1.1" in cfg
    assert ("http-request redirect location https://%[req.hdr(host),field(1,:)]:8443%[capture.req.uri] code 301 "
            "unless { ssl_fc }") in cfg
    assert "cookie XAISRV insert indirect nocache httponly secure" in cfg
    assert "ssl-default-bind-options ssl-min-ver TLSv1.2" in cfg


def test_stats_socket_only_when_asked_for():
    assert "stats socket" not in render_config(settings())
    assert "stats socket /tmp/s.sock mode 600 level admin" in lines(render_config(settings(
        stats_socket=Path("/tmp/s.sock"))))


def test_bad_backends_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        render_config(ProxySettings(backends=[]))
    with pytest.raises(ValueError, match="unique"):
        render_config(ProxySettings(backends=[Backend("r1", 1), Backend("r1", 2)]))
    assert replica_names(3) == ["r1", "r2", "r3"]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_committed_example_equals_the_template(name):
    committed = (DEPLOY / name).read_text(encoding="utf-8")
    assert committed == EXAMPLES[name](), (
        f"deploy/{name} differs from the template; regenerate: python -c \"from study_app.serve.haproxy import "
        f"EXAMPLES; open('deploy/{name}', 'w').write(EXAMPLES['{name}']())\"")


def test_haproxy_accepts_the_rendered_configs(tmp_path):
    """Debian's HAProxy parses the plain and the TLS configuration (it loads the certificate too)."""
    haproxy = haproxy_binary()
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert, pem = tmp_path / "key.pem", tmp_path / "cert.pem", tmp_path / "study.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    for i, cfg in enumerate([render_config(settings(stats_socket=tmp_path / "s.sock")),
                             render_config(settings(tls_cert=pem, tls_port=8443)),
                             (DEPLOY / "haproxy.cfg").read_text()]):
        path = tmp_path / f"{i}.cfg"
        path.write_text(cfg)
        result = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
