"""Cold start of the API handler under the CPU share Lambda gives its memory size.

``python -m bench coldstart [--memory 128,256,512,1024,1769,full] [--rounds 3]``

Lambda allocates CPU in proportion to memory: 1,769 MB is one vCPU, so 256 MB is 14.5 % of one.
Every measurement runs in a fresh interpreter (``bench/coldstart_probe.py``) limited to that
share: a cgroup CPU quota (v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``, period 100 ms) when this
process may create one (root), otherwise a SIGSTOP/SIGCONT duty cycle of the same share. The
services the handler calls (moto_server for S3 and Secrets Manager, MariaDB, a Lambda Invoke
stand-in) run unthrottled beside it, as AWS's do.

Rounds are interleaved (every measurement once per round, rounds repeated) and each cell is the
median of its rounds; the baseline (a bare ``import boto3``) runs in the same rounds, so its ratio
to ``import app`` holds even when the shared machine's speed drifts.
"""

from __future__ import annotations

import compileall
import contextlib
import datetime as dt
import http.server
import importlib.metadata
import json
import os
import py_compile
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from devstack import stack
from tools.command_line import exit_status
from tools.stage_config import local_stage_environment

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "bench" / "coldstart_probe.py"
ONE_VCPU_MB = 1769  # Lambda: "at 1,769 MB, a function has the equivalent of one vCPU"
PERIOD_US = 100_000
WARM_REQUESTS = 3
# The documentation's example distribution and key pair id, and a key generated per run: obviously fake.
CLOUDFRONT_DOMAIN = "d111111abcdef8.cloudfront.net"
CLOUDFRONT_KEY_PAIR_ID = "K2JCJMDEHXQW5FBENCH"
CLOUDFRONT_SECRET = "excel-export/local/cloudfront-signing-key"
# The Slack app (issue 16): one secret with the bot token and the signing secret, the one workspace
# served, and the Web API's base URL (pointed at the stand-in below). Names as on that branch.
SLACK_APP_SECRET = "excel-export/local/slack-app"
SLACK_SIGNING_VALUE = "bench-fake-signing-secret"
SLACK_TEAM_ID = "T0BENCH01"
# Its routes: measured when the app has them, else reported as not present.
SLACK_ROUTES = (("slack command", "/slack/commands"),)


def configured_memory(stage: str = "prod") -> int:
    """The API handler's ``lambda_memory_size`` in .chalice/config.json."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return int(config["stages"][stage]["lambda_functions"]["api_handler"]["lambda_memory_size"])


# CPU share ---------------------------------------------------------------------------------
class Throttle:
    """Limits a child process to ``share`` of one CPU; ``share`` None means no limit."""

    name = "none"

    def __init__(self, share: float | None) -> None:
        self.share = share

    def preexec(self) -> Callable[[], None] | None:
        return None

    def started(self, process: subprocess.Popen[str]) -> None:
        pass

    def close(self) -> None:
        pass


class CgroupThrottle(Throttle):
    """A CFS bandwidth quota: ``share * 100 ms`` of CPU time per 100 ms period, as Lambda enforces it."""

    def __init__(self, share: float, directory: Path, version: int) -> None:
        super().__init__(share)
        self.directory = directory
        self.name = f"cgroup v{version} CPU quota ({round(share * PERIOD_US)} us per {PERIOD_US} us)"
        directory.mkdir(exist_ok=True)
        quota = max(1000, round(share * PERIOD_US))
        if version == 2:
            (directory / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        else:
            (directory / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (directory / "cpu.cfs_quota_us").write_text(str(quota))

    def preexec(self) -> Callable[[], None]:
        procs = str(self.directory / "cgroup.procs")

        def enter() -> None:  # runs in the child between fork and exec: the whole interpreter is throttled
            with open(procs, "w") as file:
                file.write(str(os.getpid()))

        return enter

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.directory.rmdir()


class DutyCycleThrottle(Throttle):
    """Without a writable cgroup: let the child run ``share`` of each 100 ms, stopped the rest (wall time)."""

    name = "SIGSTOP/SIGCONT duty cycle (100 ms period)"

    def started(self, process: subprocess.Popen[str]) -> None:
        assert self.share is not None
        running, stopped = self.share * PERIOD_US / 1e6, (1 - self.share) * PERIOD_US / 1e6

        def cycle() -> None:
            while process.poll() is None:
                time.sleep(running)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGSTOP)
                time.sleep(stopped)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGCONT)

        threading.Thread(target=cycle, daemon=True).start()


def cgroup_root() -> tuple[Path, int] | None:
    """Where a CPU-quota cgroup can be created here, and the cgroup version; None if nowhere."""
    v2 = Path("/sys/fs/cgroup")
    if "cpu" in _read(v2 / "cgroup.controllers").split() and "cpu" in _read(v2 / "cgroup.subtree_control").split():
        return (v2, 2) if os.access(v2, os.W_OK) else None
    v1 = Path("/sys/fs/cgroup/cpu")
    if (v1 / "cpu.cfs_quota_us").exists() and os.access(v1, os.W_OK):
        return v1, 1
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def throttle_for(memory: str, mechanism: str) -> Throttle:
    if memory == "full":
        return Throttle(None)
    share = int(memory) / ONE_VCPU_MB
    if share >= 1:
        return Throttle(None)  # a single-threaded handler cannot use more than one vCPU
    found = cgroup_root() if mechanism in ("auto", "cgroup") else None
    if found is not None:
        root, version = found
        try:
            return CgroupThrottle(share, root / f"excel-export-coldstart-{os.getpid()}-{memory}", version)
        except OSError:
            if mechanism == "cgroup":
                raise
    if mechanism == "cgroup":
        raise SystemExit("no writable cgroup with the cpu controller here (run as root, or --quota duty-cycle)")
    return DutyCycleThrottle(share)


# the local stack ---------------------------------------------------------------------------
class LambdaInvokeStandIn(http.server.BaseHTTPRequestHandler):
    """Answers Lambda's Invoke API like Lambda does for ``InvocationType=Event``: 202, empty body
    (API reference, "Invoke": "For asynchronous invocation ... the status code is 202"). moto
    cannot run a function without Docker; the export it would start is not what is measured.
    Any other POST is a Slack Web API call (``/api/<method>``), answered ``{"ok": true}`` as Slack does."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if "/functions/" in self.path and self.path.endswith("/invocations"):
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class BenchStack:
    config: stack.StackConfig
    lambda_port: int
    environment: dict[str, str] = field(default_factory=dict)
    export_id: str = ""


@contextlib.contextmanager
def running_stack(db_port: int, s3_port: int, lambda_port: int) -> Iterator[BenchStack]:
    config = stack.StackConfig(directory=ROOT / ".stack" / "coldstart", db_port=db_port, s3_port=s3_port, slack_port=0, api_port=0)
    config.directory.mkdir(parents=True, exist_ok=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", lambda_port), LambdaInvokeStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        stack.start_mariadb(config)
        from devstack.seed import seed

        seed(config, 2000)
        stack.start_moto(config)
        bench = BenchStack(config, lambda_port)
        stack.put_secret(config, CLOUDFRONT_SECRET, signing_key_pem(config.directory))
        stack.put_secret(config, SLACK_APP_SECRET, json.dumps({"bot_token": "xoxb-bench-fake-token", "signing_secret": SLACK_SIGNING_VALUE}))
        bench.environment = probe_environment(config, lambda_port)
        bench.export_id = finished_export(bench.environment)
        yield bench
    finally:
        server.shutdown()
        if not os.environ.get("KEEP_BENCH_STACK"):
            stack.stop_process(config, "moto")
            stack.stop_process(config, "mariadb")


def signing_key_pem(directory: Path) -> str:
    key = directory / "cloudfront-bench-key.pem"
    if not key.exists():
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    return key.read_text()


def probe_environment(config: stack.StackConfig, lambda_port: int) -> dict[str, str]:
    """The API handler's environment in prod (.chalice/config.json), pointed at the local stack."""
    variables = local_stage_environment()
    tmp = config.directory / "tmp"
    tmp.mkdir(exist_ok=True)
    variables.update(
        config.aws_environment(),
        DISPATCH_MODE="lambda",
        AWS_ENDPOINT_URL_LAMBDA=f"http://127.0.0.1:{lambda_port}",
        CLOUDFRONT_DOMAIN=CLOUDFRONT_DOMAIN,
        CLOUDFRONT_KEY_PAIR_ID=CLOUDFRONT_KEY_PAIR_ID,
        CLOUDFRONT_KEY_SECRET_NAME=CLOUDFRONT_SECRET,
        SLACK_APP_SECRET_NAME=SLACK_APP_SECRET,
        SLACK_TEAM_ID=SLACK_TEAM_ID,
        SLACK_API_URL=f"http://127.0.0.1:{lambda_port}/api/",
        EXPORT_TMP_DIR=str(tmp),
        LOG_LEVEL="INFO",
    )
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")
    return {**{name: os.environ[name] for name in keep if name in os.environ}, **variables, "PYTHONPATH": str(ROOT)}


def finished_export(environment: dict[str, str]) -> str:
    """One export run to the end (unthrottled, in the foreground), for GET /exports/{id} to link to."""
    script = (
        "from chalicelib.runtime import build_jobs; from chalicelib.settings import get_settings; "
        "jobs = build_jobs(get_settings()); "
        "queued = jobs.submit({'report': 'orders_range', 'requested_by': 'bench', 'refresh': True}, dispatch=False).body; "
        "print(jobs.run(queued['export_id'], notify=False).export_id)"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:  # say why: a traceback hidden behind CalledProcessError cost a debugging round
        raise SystemExit(f"could not prepare a finished export for GET /exports/{{id}}:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


# the deployment package ----------------------------------------------------------------------
def build_package(directory: Path, *, bytecode: bool) -> Path:
    """The API's code laid out as ``chalice package`` zips it: app.py, chalicelib/, chalice's
    app.py and __init__.py (chalice/deploy/packager.py ``_iter_app_filenames``) and the
    requirements.txt distributions with their dependencies; boto3/botocore come with the runtime.

    Without ``bytecode`` there is no .pyc, as in the zip Chalice builds: Lambda's /var/task is
    read-only, so every cold start compiles every module of ours it imports. With it, each module
    has an unchecked-hash .pyc beside it (what ``infra.bytecode`` adds to the deployment zip).
    """
    import chalice

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copy2(ROOT / "app.py", directory / "app.py")
    shutil.copytree(ROOT / "chalicelib", directory / "chalicelib", ignore=ignore)
    (directory / "chalice").mkdir()
    for name in ("__init__.py", "app.py"):
        shutil.copy2(Path(chalice.__file__).parent / name, directory / "chalice" / name)
    for distribution in _distributions(ROOT / "requirements.txt"):
        for file in distribution.files or []:
            source = Path(str(distribution.locate_file(file)))
            # Entries outside site-packages ("../../../bin/...": console scripts) are not in the zip either.
            if ".." in file.parts or "__pycache__" in file.parts or file.suffix == ".pyc" or ".dist-info" in str(file) or not source.is_file():
                continue
            target = directory / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    if bytecode:
        compileall.compile_dir(str(directory), quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return directory


def _distributions(requirements: Path) -> list[importlib.metadata.Distribution]:
    pending = [re.split(r"[=<>!~;\[ ]", line.strip(), maxsplit=1)[0] for line in requirements.read_text().splitlines()]
    pending = [name for name in pending if name and not name.startswith("#")]
    found: dict[str, importlib.metadata.Distribution] = {}
    while pending:
        name = pending.pop().lower().replace("_", "-")
        if name in found or name in ("boto3", "botocore"):
            continue
        distribution = importlib.metadata.distribution(name)
        found[name] = distribution
        for requirement in distribution.requires or []:
            if "extra ==" not in requirement:
                pending.append(re.split(r"[=<>!~;\[ (]", requirement.strip(), maxsplit=1)[0])
    return list(found.values())


# measurements ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    """One measurement: a probe mode and, for ``requests``, what to send."""

    label: str
    mode: str
    requests: Callable[[int], list[dict[str, Any]]] | None = None


def post_exports(serial: int) -> list[dict[str, Any]]:
    """New exports (distinct parameters: no cache hit, no joined flight), first cold then warm."""
    requests = []
    for offset in range(WARM_REQUESTS + 1):
        day = dt.date(2000, 1, 1) + dt.timedelta(days=serial * (WARM_REQUESTS + 1) + offset)
        params = {"date_from": day.isoformat(), "date_to": (day + dt.timedelta(days=1)).isoformat()}
        body = json.dumps({"report": "orders_range", "params": params, "requested_by": "bench"})
        requests.append({"method": "POST", "resource": "/exports", "path": "/exports", "body": body, "headers": {"Content-Type": "application/json"}})
    return requests


def get_export(export_id: str) -> Callable[[int], list[dict[str, Any]]]:
    def requests(_serial: int) -> list[dict[str, Any]]:
        request = {"method": "GET", "resource": "/exports/{export_id}", "path": f"/exports/{export_id}", "path_params": {"export_id": export_id}}
        return [request] * (WARM_REQUESTS + 1)

    return requests


def get_reports(_serial: int) -> list[dict[str, Any]]:
    return [{"method": "GET", "resource": "/reports", "path": "/reports"}] * (WARM_REQUESTS + 1)


def slack_requests(path: str) -> Callable[[int], list[dict[str, Any]]]:
    """A signed ``/export <report> name=value ...`` with complete parameters (it runs at once, the
    most an acknowledgement does), form-encoded and signed as Slack sends it (api.slack.com,
    "Slash commands" payload fields and "Verifying requests from Slack")."""

    def requests(serial: int) -> list[dict[str, Any]]:
        from devstack.slack_client import FakeSlackUser, command_body, sign

        user = FakeSlackUser("U0BENCH", "bench", team_id=SLACK_TEAM_ID, channel_id="C0BENCH")
        result = []
        for offset in range(WARM_REQUESTS + 1):
            day = dt.date(2030, 1, 1) + dt.timedelta(days=serial * (WARM_REQUESTS + 1) + offset)
            text = f"orders_range date_from={day.isoformat()} date_to={(day + dt.timedelta(days=1)).isoformat()}"
            body = command_body(text, user, trigger=f"{serial}.{offset}.bench-fake").decode()
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": sign(SLACK_SIGNING_VALUE, timestamp, body.encode()),
            }
            result.append({"method": "POST", "resource": path, "path": path, "body": body, "headers": headers})
        return result

    return requests


@dataclass(frozen=True)
class Run:
    memory: str
    kind: str
    steps: dict[str, Any]


def probe(kind: Kind, serial: int, memory: str, bench: BenchStack, mechanism: str) -> Run:
    arguments = [sys.executable, str(PROBE), kind.mode]
    if kind.requests is not None:
        arguments.append(json.dumps(kind.requests(serial)))
    throttle = throttle_for(memory, mechanism)
    # Lambda sets this in every function's environment.
    environment = {**bench.environment, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(configured_memory() if memory == "full" else memory)}
    try:
        process = subprocess.Popen(
            arguments, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=throttle.preexec()
        )
        throttle.started(process)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        throttle.close()
    if process.returncode != 0:
        raise SystemExit(f"{kind.label} at {memory} MB failed (exit {process.returncode}):\n{stderr[-3000:]}")
    return Run(memory, kind.label, json.loads(stdout.strip().splitlines()[-1]))


def app_routes(bench: BenchStack) -> dict[str, list[str]]:
    result = subprocess.run([sys.executable, str(PROBE), "routes"], cwd=ROOT, env=bench.environment, capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1])["routes"])


def kinds_for(bench: BenchStack, routes: dict[str, list[str]]) -> tuple[list[Kind], list[str]]:
    kinds = [
        Kind("import boto3 (baseline)", "boto3"),
        Kind("import botocore.session", "botocore"),
        Kind("import app", "import"),
        Kind("first-request setup", "setup"),
        Kind("POST /exports", "requests", post_exports),
        Kind("GET /exports/{id}", "requests", get_export(bench.export_id)),
        Kind("GET /reports", "requests", get_reports),
    ]
    absent = []
    for label, path in SLACK_ROUTES:
        if "POST" in routes.get(path, []):
            kinds.append(Kind(f"{label} (POST {path})", "requests", slack_requests(path)))
        else:
            absent.append(f"{label} (POST {path})")
    return kinds, absent


# report ------------------------------------------------------------------------------------
def median_of(runs: list[Run], memory: str, kind: str, step: str) -> float | None:
    values = [run.steps[step] for run in runs if run.memory == memory and run.kind == kind and step in run.steps]
    flat = [statistics.median(value) if isinstance(value, list) else value for value in values]
    return statistics.median(flat) if flat else None


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def answer_table(runs: list[Run], memories: list[str], kinds: list[Kind], absent: list[str]) -> str:
    header = "| measurement (median seconds) | " + " | ".join(_memory_label(memory) for memory in memories) + " |"
    lines = [header, "|---|" + "---:|" * len(memories)]

    def row(label: str, kind: str, step: str, plus_import: bool = False) -> None:
        cells = []
        for memory in memories:
            value = median_of(runs, memory, kind, step)
            if plus_import and value is not None:
                value = _median_sum(runs, memory, kind, ("import", step))
            cells.append(seconds(value))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("bare `import boto3` (baseline)", "import boto3 (baseline)", "import")
    row("bare `import botocore.session`", "import botocore.session", "import")
    row("`import app`", "import app", "import")
    lines.append("| `import app` / bare `import boto3` | " + " | ".join(_ratio(runs, memory) for memory in memories) + " |")
    for kind in kinds:
        if kind.mode != "requests":
            continue
        row(f"{kind.label}: cold, import + first answer", kind.label, "cold", plus_import=True)
        row(f"{kind.label}: first answer (after import)", kind.label, "cold")
        row(f"{kind.label}: warm answer", kind.label, "warm")
    lines.extend(f"| {label} | " + " | ".join("not present" for _ in memories) + " |" for label in absent)
    return "\n".join(lines)


def setup_table(runs: list[Run], memories: list[str]) -> str:
    steps = [step for run in runs if run.kind == "first-request setup" for step in run.steps if step not in ("process",)]
    ordered = list(dict.fromkeys(steps))
    lines = ["| first-request setup step (median seconds) | " + " | ".join(_memory_label(memory) for memory in memories) + " |"]
    lines.append("|---|" + "---:|" * len(memories))
    for step in ordered:
        lines.append(f"| {step} | " + " | ".join(seconds(median_of(runs, memory, "first-request setup", step)) for memory in memories) + " |")
    return "\n".join(lines)


def _median_sum(runs: list[Run], memory: str, kind: str, steps: tuple[str, ...]) -> float | None:
    totals = [sum(_flat(run.steps[step]) for step in steps) for run in runs if run.memory == memory and run.kind == kind]
    return statistics.median(totals) if totals else None


def _flat(value: Any) -> float:
    return float(statistics.median(value)) if isinstance(value, list) else float(value)


def _ratio(runs: list[Run], memory: str) -> str:
    """Per round, app over the baseline of the same round; then the median of those ratios."""
    app = [run.steps["import"] for run in runs if run.memory == memory and run.kind == "import app"]
    base = [run.steps["import"] for run in runs if run.memory == memory and run.kind == "import boto3 (baseline)"]
    ratios = [a / b for a, b in zip(app, base, strict=False) if b > 0]
    return f"{statistics.median(ratios):.2f}x" if ratios else "-"


def _memory_label(memory: str) -> str:
    if memory == "full":
        return "full CPU"
    share = min(int(memory) / ONE_VCPU_MB, 1.0)
    configured = ", configured" if int(memory) == configured_memory() else ""
    return f"{memory} MB ({share:.3f} vCPU{configured})"


@click.command("coldstart", help="Cold start of the API handler under the CPU share Lambda gives its memory size.")
@click.option("--memory", default="256,512,1024,1769,full", show_default=True, help="comma-separated memory sizes in MB, or 'full' (no limit)")
@click.option("--rounds", type=int, default=3, show_default=True, help="interleaved rounds; every cell is the median of its rounds")
@click.option("--only", default="", help="comma-separated measurement labels to run (default: all)")
@click.option("--quota", type=click.Choice(["auto", "cgroup", "duty-cycle"]), default="auto", show_default=True, help="how the CPU share is enforced")
@click.option(
    "--package",
    type=click.Choice(["bytecode", "source", "tree"]),
    default="bytecode",
    show_default=True,
    help="the code as deployed (with unchecked-hash .pyc), as Chalice zips it (no .pyc), or this working tree (.pyc cached)",
)
@click.option("--out", default=str(ROOT / ".stack" / "coldstart" / "results.md"), show_default=True)
def cli(**options: Any) -> None:
    click.get_current_context().exit(run(SimpleNamespace(**options)))


def main(argv: list[str] | None = None) -> int:
    return exit_status(cli, argv, "python -m bench coldstart")


def run(arguments: SimpleNamespace) -> int:
    memories = arguments.memory.split(",")
    db_port = int(os.environ.get("COLDSTART_DB_PORT", "13318"))
    s3_port = int(os.environ.get("COLDSTART_S3_PORT", "13319"))
    lambda_port = int(os.environ.get("COLDSTART_LAMBDA_PORT", "13320"))
    with running_stack(db_port, s3_port, lambda_port) as bench:
        kinds, absent = kinds_for(bench, app_routes(bench))
        if arguments.package != "tree":
            package = build_package(bench.config.directory / f"package-{arguments.package}", bytecode=arguments.package == "bytecode")
            bench.environment = {**bench.environment, "PYTHONPATH": str(package), "PYTHONDONTWRITEBYTECODE": "1"}
        if arguments.only:
            wanted = arguments.only.split(",")
            kinds = [kind for kind in kinds if any(kind.label.startswith(label) for label in wanted)]
        mechanism = throttle_for(str(configured_memory()), arguments.quota)
        print(f"[coldstart] CPU share: {mechanism.name}; code: {arguments.package}; absent routes: {', '.join(absent) or 'none'}", flush=True)
        mechanism.close()
        probe(Kind("compile byte code", "import"), 0, "full", bench, arguments.quota)  # as in a Lambda package, .pyc exist
        runs: list[Run] = []
        serial = 0
        for round_number in range(1, arguments.rounds + 1):
            for memory in memories:
                for kind in kinds:
                    serial += 1
                    run = probe(kind, serial, memory, bench, arguments.quota)
                    shown = {key: (round(value, 3) if isinstance(value, float) else value) for key, value in run.steps.items()}
                    shown["warm"] = [round(value, 3) for value in run.steps.get("warm", [])]
                    print(f"[coldstart] round {round_number} {memory:>5} {kind.label}: {json.dumps(shown)}", flush=True)
                    runs.append(run)
    report = f"{answer_table(runs, memories, kinds, absent)}\n\n{setup_table(runs, memories)}\n"
    Path(arguments.out).parent.mkdir(parents=True, exist_ok=True)
    Path(arguments.out).write_text(report)
    print(f"\n{report}\n[coldstart] written to {arguments.out}")
    return 0
