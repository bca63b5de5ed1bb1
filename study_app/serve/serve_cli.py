"""``xai-study serve``: one study on several processes behind HAProxy, until Ctrl+C or SIGTERM.

    xai-study serve --replicas 4 --db postgresql+psycopg://xai:PASSWORD@127.0.0.1/study --study my_study.toml
    xai-study serve --replicas 4 --db ... --ports 8501-8504          # fixed replica ports (default: free ones)
    xai-study serve --replicas 4 --db ... --host 0.0.0.0 --tls-cert /etc/haproxy/certs/study.pem  # HTTPS on 443

The proxy listens on the loopback interface unless ``--host`` says otherwise: behind a web server or proxy
of one's own that is all it needs, and nothing is exposed by accident. ``--host 0.0.0.0`` (or an address)
makes it the public front, e.g. with ``--tls-cert``. The database is decided as the app decides it
(``--db``, ``$XAI_STUDY_DB_URL``, ``secrets.toml``, else beside the study file) and printed; a database the
replicas would refuse (another schema revision, a study begun before revision 0002 without
``id_key = "database"``) stops the start with the commands that fix it: serve never upgrades a schema.

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
from study_app.serve.ports import parse_ports
from study_app.settings import Settings, SettingsError, resolve

LOOPBACK = "127.0.0.1"

SUPERVISE_EVERY_S = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replicas", type=int, default=2, help="streamlit processes (default: %(default)s)")
    parser.add_argument("--db", default=None,
                        help="database URL shared by all replicas; PostgreSQL when --replicas > 1 "
                             "(default: as the app resolves it: $XAI_STUDY_DB_URL, secrets.toml, SQLite)")
    parser.add_argument("--study", type=Path, default=None,
                        help="study file (default: $XAI_STUDY_FILE, secrets.toml study_file, else the demo)")
    parser.add_argument("--port", type=int, default=8080, help="public HTTP port (default: %(default)s)")
    parser.add_argument("--host", default=LOOPBACK,
                        help="address the proxy binds (default: %(default)s, loopback only, for a web server or "
                             "proxy in front; 0.0.0.0 or * listens on every interface)")
    parser.add_argument("--ports", default=None,
                        help="fixed loopback ports for the replicas, one each, e.g. 8501-8504 or 8501,8502 "
                             "(default: free ports)")
    parser.add_argument("--tls-cert", type=Path, default=None,
                        help="PEM with certificate chain and private key: HTTPS on --tls-port, HTTP redirects")
    parser.add_argument("--tls-port", type=int, default=443, help="HTTPS port (default: %(default)s)")
    parser.add_argument("--log-dir", type=Path, default=Path("serve-logs"),
                        help="replica and proxy logs, rendered haproxy.cfg (default: %(default)s)")


def _resolve(args: argparse.Namespace) -> tuple[Path | None, Settings]:
    """``--study`` (``None``: the replicas find the study as the app does) and the settings, decided once."""
    study = args.study.resolve() if args.study else None
    try:
        return study, resolve(study=study, db=args.db, replicas=args.replicas)
    except SettingsError as exc:
        raise DeploymentError(str(exc)) from exc


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
        study, settings = _resolve(args)
        print(settings.database_choice.describe())  # noqa: T201
        deployment = Deployment(study, settings.db_url, replicas=args.replicas, port=args.port, log_dir=args.log_dir,
                                bind_address=args.host, tls_cert=args.tls_cert, tls_port=args.tls_port,
                                replica_ports=parse_ports(args.ports) if args.ports else None, settings=settings)
    except DeploymentError as exc:
        print(f"xai-study serve: {exc}")  # noqa: T201
        return 2
    signal.signal(signal.SIGTERM, _terminate)  # systemd / docker stop: shut down like Ctrl+C
    try:
        with deployment:
            print(f"schema revision: {deployment.schema}")  # noqa: T201
            for r in deployment.replicas:
                print(f"replica {r.name}: 127.0.0.1:{r.port} (pid {r.pid}), log {r.log_path}")  # noqa: T201
            state = "study not opened, see above" if deployment.warm_failures else "each warm: study, models, maps"
            print(f"Study at {deployment.https_url or deployment.url} "  # noqa: T201
                  f"({len(deployment.replicas)} replicas behind HAProxy, {state}); Ctrl+C stops everything.")
            if args.host == LOOPBACK:
                print(f"listening on {LOOPBACK} only: put your web server in front, or pass --host 0.0.0.0 "  # noqa: T201
                      "to listen on every interface")
            return supervise(deployment)
    except DeploymentError as exc:
        print(f"xai-study serve: {exc}")  # noqa: T201
        return 1
    except KeyboardInterrupt:
        print("stopped: proxy and replicas shut down")  # noqa: T201
        return 0
