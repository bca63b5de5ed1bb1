"""The replicas' ports when they are fixed (``xai-study serve --ports 8501-8504``), e.g. for a firewall or a
proxy of one's own in front of them; otherwise the launcher takes free ones."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from study_app.serve.errors import DeploymentError


def parse_ports(text: str) -> list[int]:
    """``8501-8504`` or ``8501,8502,8510`` (ranges and single ports, comma-separated) as a list of ports."""
    ports: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise DeploymentError(f"--ports {text!r}: expected ports like 8501-8504 or 8501,8502") from None
        if last < first:
            raise DeploymentError(f"--ports {text!r}: the range {part} runs backwards")
        ports += range(first, last + 1)
    return ports


def check_replica_ports(ports: Sequence[int] | None, replicas: int, public: set[int]) -> list[int] | None:
    """Fixed replica ports (``--ports``): one per replica, distinct, valid, not the proxy's, and free now."""
    if not ports:
        return None
    ports = list(ports)
    if len(ports) != replicas:
        raise DeploymentError(f"--ports gives {len(ports)} port(s) for {replicas} replica(s); give one per replica")
    bad = [p for p in ports if not 1 <= p <= 65535]
    if bad or len(set(ports)) != len(ports) or set(ports) & public:
        raise DeploymentError(f"--ports {ports}: each must be a distinct port in 1-65535 other than the "
                              f"proxy's {sorted(public)}")
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as exc:
                raise DeploymentError(f"replica port {port} on 127.0.0.1 is not free ({exc.strerror})") from None
    return ports
