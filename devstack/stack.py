"""Start, set up and stop the local stack; every process is owned by a PID file under the stack dir.

Ports and the data folder come from environment variables so a test run can use its own stack
beside a developer's: STACK_DIR, DB_PORT, S3_PORT, SLACK_PORT, API_PORT.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
BUCKET = "exports-local"
REGION = "ap-northeast-2"
# Local-only, obviously fake credentials for a database that listens on 127.0.0.1 only.
READONLY_USER, READONLY_PASSWORD = "exporter_ro", "local-readonly-password"
ADMIN_USER, ADMIN_PASSWORD = "demo_admin", "local-admin-password"
DATABASE = "demo"
DB_SECRET = "excel-export/local/db"
SLACK_SECRET = "excel-export/local/slack-webhook"
# The local Slack app (docs/slack-app.md): obviously fake credentials, one fake workspace.
SLACK_APP_SECRET = "excel-export/local/slack-app"
SLACK_BOT_TOKEN = "xoxb-local-fake-bot-token"
SLACK_SIGNING_SECRET = "local-fake-signing-secret"
SLACK_TEAM_ID = "T0LOCAL01"


class StackError(RuntimeError):
    pass


@dataclass(frozen=True)
class StackConfig:
    directory: Path
    db_port: int
    s3_port: int
    slack_port: int
    api_port: int
    s3_fault_proxy_port: int | None = None  # when set, the API reaches S3 through a fault-injecting proxy
    log_level: str = "INFO"  # the API's LOG_LEVEL; the tests run it at DEBUG to prove no secret is logged even then
    # The API's HEARTBEAT_SECONDS and STALE_SECONDS when set: the tests shorten them so a killed
    # worker is found in seconds, not the two minutes a deployment waits.
    heartbeat_seconds: int | None = None
    stale_seconds: int | None = None

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> StackConfig:
        env = dict(os.environ if env is None else env)
        return cls(
            directory=Path(env.get("STACK_DIR", ROOT / ".stack" / "local")).resolve(),
            db_port=int(env.get("DB_PORT", "3307")),
            s3_port=int(env.get("S3_PORT", "5000")),
            slack_port=int(env.get("SLACK_PORT", "9000")),
            api_port=int(env.get("API_PORT", "8000")),
            s3_fault_proxy_port=int(env["S3_FAULT_PROXY_PORT"]) if env.get("S3_FAULT_PROXY_PORT") else None,
            log_level=env.get("LOG_LEVEL", "INFO"),
            heartbeat_seconds=int(env["HEARTBEAT_SECONDS"]) if env.get("HEARTBEAT_SECONDS") else None,
            stale_seconds=int(env["STALE_SECONDS"]) if env.get("STALE_SECONDS") else None,
        )

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{self.slack_port}"

    @property
    def api_log(self) -> Path:
        """Everything the API process (chalice local and its worker threads) printed."""
        return self.directory / "logs" / "api.log"

    @property
    def socket_path(self) -> Path:
        return self.directory / "mariadb.sock"

    def aws_environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "AWS_ACCESS_KEY_ID": "local-fake-key",
            "AWS_SECRET_ACCESS_KEY": "local-fake-secret",
            "AWS_DEFAULT_REGION": REGION,
        }


def log(message: str) -> None:
    print(f"[stack] {message}", flush=True)


# processes -----------------------------------------------------------------------------------
def _pid_file(config: StackConfig, name: str) -> Path:
    return config.directory / "pids" / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running_pid(config: StackConfig, name: str) -> int | None:
    path = _pid_file(config, name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
    except ValueError:
        return None
    return pid if _alive(pid) else None


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_port(name: str, port: int, pid: int, log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        if not _alive(pid):
            break
        time.sleep(0.1)
    tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
    raise StackError(f"{name} did not start on port {port}; its log ({log_path.name}) ends with:\n{tail}")


def _start(config: StackConfig, name: str, command: list[str], port: int, env: dict[str, str] | None = None) -> None:
    if _running_pid(config, name) is not None and _port_open(port):
        log(f"{name} already running on 127.0.0.1:{port}")
        return
    if _port_open(port):
        raise StackError(f"port {port} for {name} is taken by another process; set another port")
    logs = config.directory / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    with open(log_path, "ab") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    _pid_file(config, name).parent.mkdir(parents=True, exist_ok=True)
    _pid_file(config, name).write_text(str(process.pid))
    _wait_for_port(name, port, process.pid, log_path)
    log(f"{name} started on 127.0.0.1:{port} (pid {process.pid})")


def stop_process(config: StackConfig, name: str, timeout: float = 15.0, *, kill: bool = False) -> None:
    """Stop a stack process (SIGTERM; with ``kill``, SIGKILL at once, as a crash would)."""
    pid = _running_pid(config, name)
    if pid is None:
        _pid_file(config, name).unlink(missing_ok=True)
        return
    first_signal = signal.SIGKILL if kill else signal.SIGTERM
    try:
        os.killpg(pid, first_signal)
    except (ProcessLookupError, PermissionError):
        os.kill(pid, first_signal)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.1)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
    _reap(pid)
    _pid_file(config, name).unlink(missing_ok=True)
    log(f"{name} stopped")


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


# MariaDB -------------------------------------------------------------------------------------
def _find_binary(name: str) -> str | None:
    return shutil.which(name) or next((str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None)


def ensure_mariadb_installed() -> None:
    if _find_binary("mariadbd") and _find_binary("mariadb-install-db"):
        return
    if os.geteuid() != 0:
        raise StackError("MariaDB is not installed: run `sudo apt-get install -y mariadb-server` (Debian/Ubuntu) and retry")
    log("installing mariadb-server from Debian packages (once)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "mariadb-server"], check=True, env=env, stdout=subprocess.DEVNULL)


def _mariadb_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def start_mariadb(config: StackConfig) -> None:
    ensure_mariadb_installed()
    data = config.directory / "mariadb"
    if not (data / "mysql").exists():
        data.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                _find_binary("mariadb-install-db") or "mariadb-install-db",
                "--no-defaults",
                f"--datadir={data}",
                f"--user={_mariadb_user()}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    command = [
        _find_binary("mariadbd") or "mariadbd",
        "--no-defaults",
        f"--datadir={data}",
        f"--socket={config.socket_path}",
        f"--pid-file={config.directory / 'mariadb.pid'}",
        f"--port={config.db_port}",
        "--bind-address=127.0.0.1",
        f"--user={_mariadb_user()}",
        "--skip-name-resolve",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci",
        "--innodb-buffer-pool-size=256M",
        "--innodb-flush-log-at-trx-commit=2",
        "--general-log=0",
        f"--general-log-file={config.directory / 'logs' / 'general.log'}",
    ]
    _start(config, "mariadb", command, config.db_port)
    _wait_for_mariadb(config)
    _create_database_and_users(config)


def _wait_for_mariadb(config: StackConfig) -> None:
    admin = _find_binary("mariadb-admin") or "mariadb-admin"
    for _ in range(100):
        if subprocess.run([admin, "--no-defaults", f"--socket={config.socket_path}", "-uroot", "ping"], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    raise StackError("MariaDB did not answer ping")


def root_sql(config: StackConfig, sql: str) -> str:
    client = _find_binary("mariadb") or "mariadb"
    result = subprocess.run(
        [client, "--no-defaults", f"--socket={config.socket_path}", "-uroot", "-N", "-B", "-e", sql],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"SQL as root failed: {result.stderr.strip()}")
    return result.stdout


def _create_database_and_users(config: StackConfig) -> None:
    root_sql(
        config,
        f"""
        CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
        CREATE USER IF NOT EXISTS '{READONLY_USER}'@'127.0.0.1' IDENTIFIED BY '{READONLY_PASSWORD}';
        GRANT SELECT, SHOW VIEW ON {DATABASE}.* TO '{READONLY_USER}'@'127.0.0.1';
        CREATE USER IF NOT EXISTS '{ADMIN_USER}'@'127.0.0.1' IDENTIFIED BY '{ADMIN_PASSWORD}';
        GRANT ALL PRIVILEGES ON {DATABASE}.* TO '{ADMIN_USER}'@'127.0.0.1';
        FLUSH PRIVILEGES;
        """,
    )


def admin_connection(config: StackConfig) -> Any:
    import pymysql

    return pymysql.connect(
        host="127.0.0.1",
        port=config.db_port,
        user=ADMIN_USER,
        password=ADMIN_PASSWORD,
        database=DATABASE,
        charset="utf8mb4",
        autocommit=True,
    )


# moto_server: S3 and Secrets Manager -------------------------------------------------------
def start_moto(config: StackConfig) -> None:
    _start(config, "moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(config.s3_port)], config.s3_port)
    setup_aws(config)


def aws_client(config: StackConfig, service: str) -> Any:
    import boto3

    env = config.aws_environment()
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=REGION,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def setup_aws(config: StackConfig) -> None:
    s3 = aws_client(config, "s3")
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if BUCKET not in existing:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    db_secret = json.dumps(
        {
            "engine": "mariadb",
            "host": "127.0.0.1",
            "port": config.db_port,
            "username": READONLY_USER,
            "password": READONLY_PASSWORD,
            "dbname": DATABASE,
        }
    )
    put_secret(config, DB_SECRET, db_secret)
    put_secret(config, SLACK_SECRET, json.dumps({"url": f"{config.slack_url}/hook"}))
    put_secret(config, SLACK_APP_SECRET, json.dumps({"bot_token": SLACK_BOT_TOKEN, "signing_secret": SLACK_SIGNING_SECRET}))
    publish_templates(config)


def put_secret(config: StackConfig, name: str, value: str) -> None:
    secrets = aws_client(config, "secretsmanager")
    try:
        secrets.create_secret(Name=name, SecretString=value)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=name, SecretString=value)


def publish_templates(config: StackConfig, folder: Path = ROOT / "reports") -> list[str]:
    """Upload the templates through the CLI's publish path, so the local stack gets the same checks
    as ``excel-export reports publish``: a template that fails them is refused, not uploaded.

    Returns the names refused (their problems are printed); the others are uploaded.
    """
    from chalicelib.storage import ExportStorage
    from chalicelib.templating.sources import FolderTemplateSource
    from tools.cli.publishing import publish_templates as publish

    source = FolderTemplateSource(folder, shown_as=str(folder.relative_to(ROOT)) if folder.is_relative_to(ROOT) else str(folder))
    storage = ExportStorage(aws_client(config, "s3"), BUCKET, templates_prefix="templates/", exports_prefix="exports/", status_prefix="status/")
    summary = publish(source, storage, source.names())
    refused = [outcome for outcome in summary.outcomes if outcome.state == "refused"]
    for outcome in refused:
        log(f"refused {outcome.name}: " + "; ".join(str(problem) for problem in outcome.problems))
    published = [outcome.name for outcome in summary.outcomes if outcome.state != "refused"]
    log(f"published {len(published)} report templates ({summary.count('new') + summary.count('changed')} uploaded): {', '.join(published)}")
    return [outcome.name for outcome in refused]


# Slack receiver and the API ----------------------------------------------------------------
def start_slack(config: StackConfig) -> None:
    command = [sys.executable, "-m", "devstack.slack_receiver", "--port", str(config.slack_port), "--bot-token", SLACK_BOT_TOKEN]
    _start(config, "slack", command, config.slack_port)


def start_fault_proxy(config: StackConfig) -> None:
    if config.s3_fault_proxy_port is None:
        return
    command = [sys.executable, "-m", "devstack.fault_proxy", "--port", str(config.s3_fault_proxy_port), "--upstream-port", str(config.s3_port)]
    _start(config, "s3proxy", command, config.s3_fault_proxy_port)


def api_environment(config: StackConfig) -> dict[str, str]:
    tmp = config.directory / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    environment = {**config.aws_environment(), "EXPORT_TMP_DIR": str(tmp), "PYTHONUNBUFFERED": "1", "LOG_LEVEL": config.log_level}
    environment["SLACK_API_URL"] = f"{config.slack_url}/api/"  # the Web API stand-in (devstack/slack_web_api.py)
    if config.s3_fault_proxy_port is not None:
        environment["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{config.s3_fault_proxy_port}"
    if config.heartbeat_seconds is not None:
        environment["HEARTBEAT_SECONDS"] = str(config.heartbeat_seconds)
    if config.stale_seconds is not None:
        environment["STALE_SECONDS"] = str(config.stale_seconds)
    return environment


def start_api(config: StackConfig) -> None:
    command = [
        str(VENV_BIN / "chalice"),
        "local",
        "--no-autoreload",
        "--stage",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(config.api_port),
    ]
    _start(config, "api", command, config.api_port, env=api_environment(config))


def up(config: StackConfig) -> None:
    config.directory.mkdir(parents=True, exist_ok=True)
    start_mariadb(config)
    start_slack(config)
    start_moto(config)
    start_fault_proxy(config)
    start_api(config)
    log(f"stack is up: API {config.api_url}, S3 {config.s3_endpoint}, Slack {config.slack_url}, MariaDB 127.0.0.1:{config.db_port}")


def down(config: StackConfig) -> None:
    for name in ("api", "s3proxy", "moto", "slack", "mariadb"):
        stop_process(config, name)


def status(config: StackConfig) -> dict[str, int | None]:
    return {name: _running_pid(config, name) for name in ("mariadb", "moto", "slack", "api")}


def http_json(method: str, url: str, body: Any = None, timeout: float = 30.0, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _decode(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _decode(exc.read())


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode("utf-8", "replace")
