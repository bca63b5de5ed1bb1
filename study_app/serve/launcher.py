"""One study on N ``streamlit run`` processes behind HAProxy, started and stopped as one thing.

``Deployment`` is what ``xai-study serve`` runs, what the scale-out tests drive, and what the load-test
benchmark imports. In order, it:

1. checks the database once, before any replica starts: it creates an empty one's tables (replicas
   starting together must not race to create them) and otherwise refuses, naming the backup and upgrade
   commands, whenever a replica would refuse it (:mod:`study_app.serve.refusals`); it never upgrades;
2. starts N replicas on loopback ports (given ones, or free ones) with the *same* cookie secret (Streamlit signs its XSRF cookie with
   it; a participant whose session moves to another replica must still be recognised) and the same
   researcher password (the bundled demo's one-time password is made per process, so with several
   processes a password is generated once and printed);
3. waits until every replica answers ``/_stcore/health``, which a replica does only once it is warm: it
   loads the study, models and maps before it answers anything (:mod:`study_app.ui.warm_start`), so no
   participant pays for a cold start; a study that cannot be opened is repeated here from the replicas' logs;
4. starts ``haproxy -db`` (foreground: the launcher owns it, no daemon to leak) on the public port;
5. on exit, stops the proxy first (no new requests), then the replicas: SIGTERM, a grace period, SIGKILL.

Every child also gets a parent-death signal (Linux), so even a launcher killed with SIGKILL leaves no
orphan serving a stale study.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from study_app.serve.errors import DeploymentError
from study_app.serve.haproxy import (
    COOKIE_NAME,
    HEALTH_PATH,
    Backend,
    ProxySettings,
    render_config,
    replica_names,
)
from study_app.serve.ports import check_replica_ports
from study_app.serve.refusals import database_refusals, study_keys
from study_app.serve.warm_log import warm_failures
from study_app.settings import (
    ENV_PASSWORD,
    ENV_REPLICAS,
    ENV_STUDY_FILE,
    SECRET_PASSWORD,
    Settings,
    SettingsError,
    password_problem,
    resolve,
)
from study_app.store.database import DB_URL_ENV, make_engine
from study_app.store.migrate import SchemaMismatch, ensure_schema

MAIN_SCRIPT = Path(__file__).resolve().parents[1] / "main.py"
ENV_COOKIE_SECRET = "STREAMLIT_SERVER_COOKIE_SECRET"  # noqa: S105 - a name; env, not argv: argv is public

# The participant-safety settings of the project's .streamlit/config.toml, given on the command line so
# that a replica started from any working directory (a pip install has no project config) is just as safe.
SAFE_STREAMLIT_OPTIONS: dict[str, str] = {
    "browser.gatherUsageStats": "false",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "client.showErrorLinks": "false",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "server.headless": "true",
    "server.maxUploadSize": "1",
    "server.enableXsrfProtection": "true",
    "runner.magicEnabled": "false",
    "theme.textColor": "#000000",  # captions readable (contrast 5.7:1, WCAG AA): the axe audit's one finding
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def refuse_shared_sqlite(url: str, replicas: int) -> None:
    """SQLite's lock is per file on one machine and Streamlit processes do not share a connection pool;
    several processes writing one file stall each other and risk corruption on network file systems."""
    if replicas > 1 and is_sqlite(url):
        raise DeploymentError(
            f"{replicas} processes cannot share a SQLite database ({url}). Use PostgreSQL, e.g. "
            "--db postgresql+psycopg://USER:PASSWORD@HOST/DB (deploy/README.md), or serve with --replicas 1.")


HAPROXY_PATHS = ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")  # /usr/sbin is not on a user's PATH


def find_haproxy() -> str:
    found = shutil.which("haproxy") or next((p for p in HAPROXY_PATHS if Path(p).exists()), None)
    if found is None:
        raise DeploymentError("HAProxy is not installed: apt-get install haproxy")
    return found


def prepare_database(url: str, study_file: Path | None = None, *, id_key: str | None = None) -> str:
    """Refuse (:class:`DeploymentError`) a database any replica would refuse (``id_key``: the external-id key
    the replicas will use, from the settings); create an empty one's tables once, so replicas starting at
    once never race to create them. Returns the schema revision."""
    keys = study_keys(study_file) if study_file is not None else None
    problems = database_refusals(url, keys, id_key=id_key)
    if problems:
        raise DeploymentError("\n".join(problems))
    engine = make_engine(url)
    try:
        return str(ensure_schema(engine))
    except SchemaMismatch as exc:  # changed by someone else since the check
        raise DeploymentError(str(exc)) from exc
    finally:
        engine.dispose()


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the launcher dies (PR_SET_PDEATHSIG, Linux only)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _stop(process: subprocess.Popen | None, grace_s: float) -> None:
    """SIGTERM the process group, wait ``grace_s``, then SIGKILL it; reaps the child."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@dataclass
class Replica:
    """One ``streamlit run`` process; ``name`` is its HAProxy server name and affinity-cookie value."""

    name: str
    port: int
    log_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Deployment:
    """N replicas + HAProxy; a context manager. ``url`` is the address participants open."""

    def __init__(self, study_file: str | Path | None, db_url: str, replicas: int = 2, port: int = 0,
                 env: dict[str, str] | None = None, log_dir: str | Path | None = None, *,
                 replica_ports: Sequence[int] | None = None,
                 bind_address: str = "127.0.0.1", tls_cert: str | Path | None = None, tls_port: int = 443,
                 researcher_password: str | None = None, check_interval_ms: int = 1000,
                 startup_timeout: float = 180.0, cwd: str | Path | None = None, quiet: bool = False,
                 settings: Settings | None = None):
        if replicas < 1:
            raise DeploymentError("--replicas must be at least 1")
        refuse_shared_sqlite(db_url, replicas)
        self.study_file = Path(study_file).resolve() if study_file else None
        self.db_url = db_url
        self.port = port or free_port()
        host = "127.0.0.1" if bind_address in ("*", "0.0.0.0", "") else bind_address  # noqa: S104
        self.url = f"http://{host}:{self.port}"
        self.tls_cert = Path(tls_cert).resolve() if tls_cert else None
        self.tls_port = tls_port
        self.https_url = f"https://{host}:{tls_port}" if self.tls_cert else None
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="xai-serve-"))
        self.cwd = Path(cwd) if cwd else Path.cwd()
        self.cookie_secret = secrets.token_hex(32)
        self._quiet = quiet
        self._startup_timeout = startup_timeout
        self._bind_address = bind_address
        self._check_interval_ms = check_interval_ms
        self._socket_dir = Path(tempfile.mkdtemp(prefix="xai-haproxy-"))  # short path: unix sockets cap at 107
        self.stats_socket = self._socket_dir / "stats.sock"
        ports = check_replica_ports(replica_ports, replicas, {self.port, *([tls_port] if tls_cert else [])})
        self.replicas = [Replica(name, ports[i] if ports else free_port(), self.log_dir / f"{name}.log")
                         for i, name in enumerate(replica_names(replicas))]
        self.proxy: subprocess.Popen | None = None
        self.proxy_log = self.log_dir / "haproxy.log"
        self.config_path = self.log_dir / "haproxy.cfg"
        self.settings = settings or self._settings(env or {}, replicas)
        self.researcher_password, self.password_generated = self._password(researcher_password)
        self._env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg",
                     DB_URL_ENV: db_url, ENV_REPLICAS: str(replicas), ENV_COOKIE_SECRET: self.cookie_secret}
        if self.study_file is not None:
            self._env[ENV_STUDY_FILE] = str(self.study_file)
        if self.researcher_password:
            self._env[ENV_PASSWORD] = self.researcher_password
        self._logs: list = []
        self.schema = ""
        self.warm_failures: list[str] = []  # why the replicas could not open the study, once started

    # -- configuration -------------------------------------------------------------------------------
    def _settings(self, env: dict[str, str], replicas: int) -> Settings:
        """What the replicas will resolve (their environment and working directory), for a caller that
        passed no settings."""
        try:
            return resolve(study=self.study_file, db=self.db_url, replicas=replicas, env={**os.environ, **env},
                           cwd=self.cwd)
        except SettingsError as exc:
            raise DeploymentError(str(exc)) from exc

    def _password(self, given: str | None) -> tuple[str | None, bool]:
        """The researcher password all replicas share: given, else configured (the settings), else
        generated when there are several replicas (one process's demo password would not open another). A
        password ``xai-study check`` refuses (an example, under 12 characters) stops the launch."""
        configured = given or self.settings.researcher_password
        if problem := password_problem(configured):
            raise DeploymentError(f"researcher password not set properly: {problem} ({SECRET_PASSWORD} in "
                                  f"secrets.toml or ${ENV_PASSWORD})")
        if given:
            return given, False
        if configured or len(self.replicas) == 1:
            return configured, False
        return secrets.token_urlsafe(12), True

    def proxy_settings(self) -> ProxySettings:
        return ProxySettings(
            backends=[Backend(r.name, r.port) for r in self.replicas], port=self.port,
            bind_address=self._bind_address, tls_cert=self.tls_cert, tls_port=self.tls_port,
            stats_socket=self.stats_socket, check_interval_ms=self._check_interval_ms)

    def _say(self, message: str) -> None:
        if not self._quiet:
            print(message, flush=True)  # noqa: T201 - the launcher talks to the researcher's terminal

    # -- lifecycle ------------------------------------------------------------------------------------
    def __enter__(self) -> Deployment:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        haproxy = find_haproxy()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        study = self.study_file or self.settings.study_file
        self.schema = prepare_database(self.db_url, study, id_key=self.settings.id_key.value)
        for replica in self.replicas:
            self._start_replica(replica)
        for replica in self.replicas:
            self._wait_healthy(replica.url, replica)
        self._report_warm_failures()
        self.config_path.write_text(render_config(self.proxy_settings()), encoding="utf-8")
        check = subprocess.run([haproxy, "-c", "-q", "-f", str(self.config_path)], capture_output=True, text=True,
                               check=False)
        if check.returncode != 0:
            raise DeploymentError(f"haproxy rejected {self.config_path}:\n{check.stdout}{check.stderr}")
        log = self.proxy_log.open("ab")
        self._logs.append(log)
        self.proxy = subprocess.Popen([haproxy, "-db", "-f", str(self.config_path)], stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True,
                                      preexec_fn=_die_with_parent)  # noqa: PLW1509 - prctl only, no locks
        self._wait_healthy(f"https://127.0.0.1:{self.tls_port}" if self.tls_cert else self.url, None)
        if self.password_generated:
            self._say(f"Researcher password for this deployment (all replicas): {self.researcher_password}")

    def _start_replica(self, replica: Replica) -> None:
        log = replica.log_path.open("ab")
        self._logs.append(log)
        options = [arg for key, value in SAFE_STREAMLIT_OPTIONS.items() for arg in (f"--{key}", value)]
        cmd = [sys.executable, "-m", "streamlit", "run", str(MAIN_SCRIPT),
               "--server.port", str(replica.port), "--server.address", "127.0.0.1", *options]
        replica.process = subprocess.Popen(cmd, cwd=self.cwd, env=self._env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True,
                                           preexec_fn=_die_with_parent)  # noqa: PLW1509 - prctl only

    def _wait_healthy(self, base_url: str, replica: Replica | None) -> None:
        deadline = time.monotonic() + self._startup_timeout
        process = replica.process if replica else self.proxy
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                what = f"replica {replica.name}" if replica else "haproxy"
                log = replica.log_text() if replica else self.proxy_log.read_text(errors="replace")
                raise DeploymentError(f"{what} exited with {process.returncode}:\n{log[-4000:]}")
            try:
                # Only "is it up": the certificate names the public host, not 127.0.0.1.
                context = ssl._create_unverified_context() if base_url.startswith("https") else None  # noqa: S323
                with urllib.request.urlopen(f"{base_url}{HEALTH_PATH}", timeout=2, context=context) as resp:  # noqa: S310
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise DeploymentError(f"{base_url} not healthy after {self._startup_timeout:.0f} s")

    def _report_warm_failures(self) -> None:
        """A replica that cannot open the study still starts (its researcher area shows why); the researcher
        at the terminal is told at once, in the replicas' own words, once per distinct reason."""
        found = [line for replica in self.replicas for line in warm_failures(replica.log_text())]
        self.warm_failures = list(dict.fromkeys(found))
        for line in self.warm_failures:
            self._say(f"replicas started, but {line.removeprefix('warm: ')}")

    def stop(self, grace_s: float = 15.0) -> None:
        """Proxy first, so no request reaches a replica that is shutting down; then every replica."""
        _stop(self.proxy, grace_s=5.0)
        for replica in self.replicas:
            with contextlib.suppress(ProcessLookupError):
                if replica.alive():
                    os.killpg(replica.process.pid, signal.SIGTERM)
        for replica in self.replicas:
            _stop(replica.process, grace_s)
        for log in self._logs:
            log.close()
        self._logs.clear()
        shutil.rmtree(self._socket_dir, ignore_errors=True)

    # -- operations (tests, the CLI's supervisor) ------------------------------------------------------
    def replica_for_cookie(self, value: str) -> Replica:
        """The replica that a browser's ``XAISRV`` cookie value pins it to."""
        for replica in self.replicas:
            if replica.name == value:
                return replica
        raise KeyError(f"no replica named {value!r} (cookie {COOKIE_NAME}); replicas: "
                       f"{[r.name for r in self.replicas]}")

    def kill_replica(self, name: str, sig: int = signal.SIGKILL) -> None:
        replica = self.replica_for_cookie(name)
        os.kill(replica.pid, sig)
        replica.process.wait(timeout=30)

    def restart_replica(self, name: str) -> None:
        """Start a dead replica again on its port; HAProxy's health check takes it back in."""
        replica = self.replica_for_cookie(name)
        _stop(replica.process, grace_s=10.0)
        self._start_replica(replica)
        self._wait_healthy(replica.url, replica)

    def server_states(self) -> dict[str, str]:
        """``{replica name: HAProxy status}`` (``UP``, ``DOWN``, ``UP 1/2`` …) from the stats socket."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.stats_socket))
            sock.sendall(b"show stat\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        lines = b"".join(chunks).decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        names = {r.name for r in self.replicas}
        return {row["svname"]: row["status"] for row in rows
                if row.get("pxname") == "streamlit" and row.get("svname") in names}
