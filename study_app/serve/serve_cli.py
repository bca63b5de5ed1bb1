"""``xai-study serve``: one study on several processes behind HAProxy, until Ctrl+C or SIGTERM.

    xai-study serve --replicas 4 --db postgresql+psycopg://xai:PASSWORD@127.0.0.1/study --study my_study.toml
    xai-study serve --replicas 4 --db ... --tls-cert /etc/haproxy/certs/study.pem   # HTTPS on 443

One Streamlit process uses about one CPU core at a time (script runs hold the GIL), so a study with many
participants at once runs one replica per core. The launcher supervises: a replica that dies is started
again on its port (its participants move to the others meanwhile, and come back only as new sessions);
if the proxy dies, everything stops with an error, because nothing would reach the replicas.
See deploy/README.md for PostgreSQL, HTTPS and systemd.
"""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path

from study_app.serve.launcher import Deployment, DeploymentError
from study_app.settings import read_secrets_file, resolve_settings
from study_app.store import resolve_db_url

SUPERVISE_EVERY_S = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replicas", type=int, default=2, help="streamlit processes (default: %(default)s)")
    parser.add_argument("--db", default=None,
                        help="database URL shared by all replicas; PostgreSQL when --replicas > 1 "
                             "(default: as the app resolves it: $XAI_STUDY_DB_URL, secrets.toml, SQLite)")
    parser.add_argument("--study", type=Path, default=None,
                        help="study file (default: $XAI_STUDY_FILE, secrets.toml study_file, else the demo)")
    parser.add_argument("--port", type=int, default=8080, help="public HTTP port (default: %(default)s)")
    parser.add_argument("--host", default="*", help="address the proxy binds (default: all interfaces)")
    parser.add_argument("--tls-cert", type=Path, default=None,
                        help="PEM with certificate chain and private key: HTTPS on --tls-port, HTTP redirects")
    parser.add_argument("--tls-port", type=int, default=443, help="HTTPS port (default: %(default)s)")
    parser.add_argument("--log-dir", type=Path, default=Path("serve-logs"),
                        help="replica and proxy logs, rendered haproxy.cfg (default: %(default)s)")


def _resolve(args: argparse.Namespace) -> tuple[Path | None, str]:
    study = args.study.resolve() if args.study else None
    settings = resolve_settings(read_secrets_file())
    return study, resolve_db_url(args.db, study_path=study or settings.study_file)


def _terminate(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def supervise(deployment: Deployment) -> int:
    """Keep the deployment whole: restart a dead replica; stop everything if the proxy dies."""
    while True:
        time.sleep(SUPERVISE_EVERY_S)
        if deployment.proxy is not None and deployment.proxy.poll() is not None:
            print(f"haproxy exited with {deployment.proxy.returncode}; see {deployment.proxy_log}")  # noqa: T201
            return 1
        for replica in deployment.replicas:
            if not replica.alive():
                code = replica.process.returncode if replica.process else None
                print(f"replica {replica.name} (port {replica.port}) exited with {code}; restarting it")  # noqa: T201
                try:
                    deployment.restart_replica(replica.name)
                except DeploymentError as exc:
                    print(f"replica {replica.name} did not come back: {exc}")  # noqa: T201


def run(args: argparse.Namespace) -> int:
    try:
        study, db_url = _resolve(args)
        deployment = Deployment(study, db_url, replicas=args.replicas, port=args.port, log_dir=args.log_dir,
                                bind_address=args.host, tls_cert=args.tls_cert, tls_port=args.tls_port)
    except DeploymentError as exc:
        print(f"xai-study serve: {exc}")  # noqa: T201
        return 2
    signal.signal(signal.SIGTERM, _terminate)  # systemd / docker stop: shut down like Ctrl+C
    try:
        with deployment:
            print(f"database: {deployment.schema}")  # noqa: T201
            for r in deployment.replicas:
                print(f"replica {r.name}: 127.0.0.1:{r.port} (pid {r.pid}), log {r.log_path}")  # noqa: T201
            print(f"Study at {deployment.https_url or deployment.url} "  # noqa: T201
                  f"({len(deployment.replicas)} replicas behind HAProxy); Ctrl+C stops everything.")
            return supervise(deployment)
    except DeploymentError as exc:
        print(f"xai-study serve: {exc}")  # noqa: T201
        return 1
    except KeyboardInterrupt:
        print("stopped: proxy and replicas shut down")  # noqa: T201
        return 0
