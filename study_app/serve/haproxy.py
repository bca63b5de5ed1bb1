"""The HAProxy configuration that puts one study on several ``streamlit run`` processes.

Why each part is there:

* **HTTP mode with a cookie** (``XAISRV``): Streamlit keeps a session, and the images (``/media/...``) its
  script run produced, in the memory of the process that ran it. The cookie sends the websocket *and* the
  image requests of one browser to one process. Source-IP hashing would not do: participants behind one
  university NAT would all land on one process.
* **Health checks** on ``/_stcore/health`` with a short ``inter``: a dead process leaves the rotation
  within a few seconds, and ``option redispatch`` + ``retries`` move its participants to a live one at
  once (a refused connection is retried elsewhere instead of shown as an error). The participant's token
  is in the URL and all progress is in the database, so any process can continue any participant.
* **``timeout tunnel``**: a participant's websocket is idle while they think; the default client/server
  timeouts would cut it after a minute.
* **A cache for Streamlit's ``/static/`` files** (``cache static``): each new browser loads about 5 MB of
  content-hashed JavaScript, CSS and fonts, which Streamlit sends with ``Cache-Control: public, immutable,
  max-age=31536000``. The proxy keeps them in its memory after the first fetch, so a crowd's page loads do
  not cost the replicas' cores (benchmarks/load_test.py measures it). ``max-object-size`` holds the largest
  file Streamlit ships (4.7 MB in 1.67); ``index.html`` is ``no-cache`` and is never stored.
* **TLS** (optional): the proxy terminates HTTPS with one PEM file (certificate + key, e.g. certbot's
  ``fullchain.pem`` and ``privkey.pem`` concatenated); plain HTTP then only redirects. The replicas listen
  on loopback and never see TLS.

Plain Python with no dependency, so ``deploy/haproxy.cfg`` is rendered by the same function and a test
keeps the committed example equal to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

COOKIE_NAME = "XAISRV"
HEALTH_PATH = "/_stcore/health"
STATIC_PATH = "/static/"  # Streamlit's bundled frontend files, content-hashed
STATIC_CACHE_MB = 64  # all of Streamlit's static folder is ~26 MB; a participant's pages use ~5 MB of it
STATIC_OBJECT_MAX_BYTES = 8 * 2**20  # each file, with its headers; at most half of the cache
STATIC_MAX_AGE_S = 86_400  # file names change with every Streamlit release, which restarts the proxy anyway


@dataclass(frozen=True)
class Backend:
    """One ``streamlit run`` process: its HAProxy server name (also its cookie value) and address."""

    name: str
    port: int
    host: str = "127.0.0.1"  # a host name (compose service) may not resolve yet when the proxy starts


@dataclass(frozen=True)
class ProxySettings:
    """What varies between deployments; everything else in the template is a considered default."""

    backends: Sequence[Backend]
    port: int = 8080
    bind_address: str = "*"  # every interface; tests use 127.0.0.1
    tls_cert: Path | None = None  # PEM with certificate chain and private key
    tls_port: int = 443
    stats_socket: Path | None = None  # admin socket: "show stat" tells which replicas are up
    check_interval_ms: int = 2000  # health check period; a dead replica is out after fall * inter
    check_fall: int = 2
    check_rise: int = 2
    maxconn: int = 2000  # each participant holds one websocket


def replica_names(n: int) -> list[str]:
    """``r1 … rN``: short, stable server names, which are also the cookie values browsers carry."""
    return [f"r{i}" for i in range(1, n + 1)]


def _global_section(s: ProxySettings) -> list[str]:
    lines = [
        "global",
        "    # Runs in the foreground (haproxy -db) under the launcher; the log goes to its stdout.",
        "    log stdout format raw local0 info",
        f"    maxconn {s.maxconn}",
    ]
    if s.stats_socket is not None:
        lines.append(f"    stats socket {s.stats_socket} mode 600 level admin")
    if s.tls_cert is not None:
        lines.append("    ssl-default-bind-options ssl-min-ver TLSv1.2")
    return lines


def _defaults_section() -> list[str]:
    return [
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option dontlognull",
        "    option forwardfor",
        "    # A refused connection to a dead replica is retried, the last time on another replica.",
        "    option redispatch",
        "    retries 3",
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 15s",
        "    # A participant's websocket stays open, idle, while they look at a trial.",
        "    timeout tunnel 1h",
        "    timeout client-fin 30s",
    ]


def _frontend_section(s: ProxySettings) -> list[str]:
    lines = ["", "frontend study", f"    bind {s.bind_address}:{s.port}"]
    tls_suffix = "" if s.tls_port == 443 else f":{s.tls_port}"
    if s.tls_cert is not None:
        lines += [
            f"    bind {s.bind_address}:{s.tls_port} ssl crt {s.tls_cert} alpn http/1.1",
            "    # Plain HTTP only redirects; answers travel encrypted. (Host without its port, then the TLS port.)",
            f"    http-request redirect location https://%[req.hdr(host),field(1,:)]{tls_suffix}%[capture.req.uri]"
            " code 301 unless { ssl_fc }",
            "    http-request set-header X-Forwarded-Proto https if { ssl_fc }",
            '    http-response set-header Strict-Transport-Security "max-age=31536000"',
        ]
    lines.append("    default_backend streamlit")
    return lines


def _backend_section(s: ProxySettings) -> list[str]:
    secure = " secure" if s.tls_cert is not None else ""
    lines = [
        "",
        "backend streamlit",
        "    balance leastconn",
        "    # One browser, one replica: its websocket and its /media/ images (held in that replica's memory).",
        f"    cookie {COOKIE_NAME} insert indirect nocache httponly{secure}",
        f"    option httpchk GET {HEALTH_PATH}",
        "    http-check expect status 200",
        f"    default-server check inter {s.check_interval_ms}ms fall {s.check_fall} rise {s.check_rise}"
        + (" init-addr libc,none" if any(not b.host[:1].isdigit() for b in s.backends) else ""),
    ]
    lines += [
        "    # Streamlit's static files come from the proxy's memory after the first fetch (see the cache below).",
        f"    http-request set-var(txn.static) bool(true) if {{ path_beg {STATIC_PATH} }}",
        "    http-request cache-use static if { var(txn.static) -m bool }",
        "    http-response cache-store static if { var(txn.static) -m bool }",
    ]
    lines += [f"    server {b.name} {b.host}:{b.port} cookie {b.name}" for b in s.backends]
    return lines


def _cache_section() -> list[str]:
    return [
        "",
        "cache static",
        f"    total-max-size {STATIC_CACHE_MB}",
        f"    max-object-size {STATIC_OBJECT_MAX_BYTES}",
        f"    max-age {STATIC_MAX_AGE_S}",
    ]


def render_config(settings: ProxySettings) -> str:
    """The complete ``haproxy.cfg`` text for ``settings``."""
    if not settings.backends:
        raise ValueError("at least one replica is needed")
    names = [b.name for b in settings.backends]
    if len(set(names)) != len(names):
        raise ValueError(f"replica names must be unique: {names}")
    header = [
        "# HAProxy in front of several `streamlit run` processes serving one study (xai-study serve).",
        "# Rendered by study_app/serve/haproxy.py; check it with: haproxy -c -f haproxy.cfg",
        "",
    ]
    body = (_global_section(settings) + _defaults_section() + _frontend_section(settings)
            + _backend_section(settings) + _cache_section())
    return "\n".join(header + body) + "\n"


def example_config(replicas: int = 2, first_port: int = 8501) -> str:
    """The committed ``deploy/haproxy.cfg``: N replicas on consecutive loopback ports, public port 8080."""
    backends = [Backend(name, first_port + i) for i, name in enumerate(replica_names(replicas))]
    return render_config(ProxySettings(backends=backends, port=8080))


def compose_config(replicas: int = 2, port: int = 8501) -> str:
    """The committed ``deploy/compose-haproxy.cfg``: replicas are compose services named ``r1 … rN``."""
    backends = [Backend(name, port, host=name) for name in replica_names(replicas)]
    return render_config(ProxySettings(backends=backends, port=8080))


EXAMPLES = {"haproxy.cfg": example_config, "compose-haproxy.cfg": compose_config}  # deploy/<name> -> renderer
