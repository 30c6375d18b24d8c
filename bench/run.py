"""Benchmarks of kinesis against boto3 (and aiobotocore), in one command: scripts/bench

By default this builds the module in release mode into its own venv (.venv-bench: maturin, boto3,
moto[server], matplotlib, aws-kinesis-agg and, if it installs cleanly, aiobotocore; then a release wheel
installed there, not an editable install that a development build could replace mid-run),
re-runs itself there with ``--no-build``, starts a local Kinesis server (moto, or kinesis-mock with
``--server kinesis-mock``), runs every workload for our client and for the peer in the same run, prints a
table and writes ``latest.md``, ``latest.json`` and ``ratios.png`` to bench/results (or ``--out DIR``).

The ``threads`` workload runs against bench/canned-server instead (built with cargo on every run, a no-op
when up to date, ``--no-build`` or not): its target is scaling "where the server is not the bottleneck",
and both emulators spend a whole core on fewer put_record calls than one client thread makes. The canned
server answers PutRecord with a fixed shard and a counter on one tokio current-thread runtime, so it uses
one core at most, and little of it per request.

Each client workload runs in a fresh interpreter (bench/worker.py). Client CPU is user + system time of
that process only (``getrusage(RUSAGE_SELF)`` deltas around the measured loop, after warm-up), so the
server, another process, is not counted; wall time and peak RSS are reported too, and so is the CPU the
server used over the measured part, to show when the server is the bottleneck.

Options: ``--quick`` (tiny sizes, for the smoke test), ``--server moto|kinesis-mock``, ``--only NAME``
(repeatable), ``--repeat N`` (runs per client, median reported), ``--no-build`` (of the module and its
venv; the canned server is still built), ``--out DIR``.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import importlib.metadata
import importlib.util
import json
import os
import platform
import pwd
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORKER = BENCH_DIR / "worker.py"
BENCH_VENV = ROOT / ".venv-bench"
KINESIS_MOCK_PREFIX = ROOT / "tests" / "kinesis-mock"
KINESIS_MOCK_DIR = KINESIS_MOCK_PREFIX / "node_modules" / "kinesis-local"
CANNED_SERVER_DIR = BENCH_DIR / "canned-server"
# Workloads run against the canned server, not the emulator, and why (said in the report).
CANNED_WORKLOADS = {"threads"}
CANNED_WHY = (
    "the threads target is scaling where the server is not the bottleneck, and moto and kinesis-mock each"
    " use a whole core answering put_record (server CPU ÷ wall 90 to 104%), so they set the pace, not the clients"
)

ACCESS_KEY_ID = "000000000000"  # the same values as bench/worker.py
SECRET_ACCESS_KEY = "benchsecretkeybenchsecretkey"
REGION = "us-east-1"

PACKAGES = ["maturin", "boto3", "moto[server]", "matplotlib", "aws-kinesis-agg"]
AIOBOTOCORE_SKIP_ENV = "KINESIS_BENCH_AIOBOTOCORE_SKIPPED"  # the reason, passed from the build step
BUILD_ENV = "KINESIS_BENCH_BUILT"  # set when the build step built the module in release mode

WORKLOADS = [
    "startup",
    "put_record",
    "get_records_empty",
    "get_records_bulk",
    "threads",
    "asyncio",
    "reader_deaggregate",
    "producer",
]
# The producer workload's peers: plain boto3 put_records, and aws-kinesis-agg's aggregator + boto3.
PRODUCER_PEERS = {"boto3": "boto3 put_records x500", "agg": "aws-kinesis-agg + boto3"}

# Sizes: moderate, so that the whole suite takes a few minutes on 2 cores; --quick for the smoke test.
FULL = {
    "startup_runs": 5,
    "put_record": {"n": 2000, "warmup": 100},
    "get_records_empty": {"n": 2000, "warmup": 100},
    "get_records_bulk": {"n": 10, "warmup": 1, "records": 10_000, "record_size": 1024},
    # 10,000: against the canned server ours does 2,000 calls in about 0.2 s, too short a window on a
    # shared machine, and the server's CPU (clock ticks of 10 ms) would be known to 5 µs per call only.
    "threads": {"n": 10_000, "warmup": 16, "threads": 8},
    "asyncio": {"n": 2000, "warmup": 100, "concurrency": 100},
    "reader_deaggregate": {"n": 3, "warmup": 1, "records": 100_000, "record_size": 100},
    # vs boto3 put_records: fewer records, since the emulators store each one (kinesis-mock takes minutes
    # for 100,000 single records); the cost per record is what is compared.
    "producer": {"n": 100_000, "n_vs_boto3": 20_000, "warmup": 5000},
}
QUICK = {
    "startup_runs": 2,
    "put_record": {"n": 20, "warmup": 5},
    "get_records_empty": {"n": 20, "warmup": 5},
    "get_records_bulk": {"n": 2, "warmup": 1, "records": 100, "record_size": 1024},
    "threads": {"n": 40, "warmup": 8, "threads": 8},
    "asyncio": {"n": 100, "warmup": 100, "concurrency": 100},
    "reader_deaggregate": {"n": 1, "warmup": 0, "records": 1000, "record_size": 100},
    "producer": {"n": 2000, "n_vs_boto3": 2000, "warmup": 100},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- build ---------------------------------------------------------------------------------------------


def run_checked(cmd: list[str], **kw: Any) -> None:
    log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run(cmd, check=True, **kw)


def build_and_reexec(argv: list[str]) -> None:
    """Create .venv-bench, install the packages, build the module in release mode, run this script there."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        run_checked([shutil.which("python3") or sys.executable, "-m", "venv", str(BENCH_VENV)])
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    skipped = ""
    log(f"$ {' '.join(pip)} {' '.join(PACKAGES)} aiobotocore")
    attempt = subprocess.run([*pip, *PACKAGES, "aiobotocore"], capture_output=True, text=True)
    if attempt.returncode != 0:
        tail = (attempt.stderr or attempt.stdout).strip().splitlines()[-3:]
        skipped = "pip could not install aiobotocore alongside boto3: " + " / ".join(tail)
        log(f"aiobotocore skipped: {skipped}")
        run_checked([*pip, *PACKAGES])
    env = dict(os.environ, VIRTUAL_ENV=str(BENCH_VENV), PATH=f"{BENCH_VENV / 'bin'}{os.pathsep}{os.environ['PATH']}")
    env.pop("CONDA_PREFIX", None)
    # A wheel installed into .venv-bench, not `maturin develop`: an editable install would share
    # python/kinesis/_kinesis*.so with the development venv, so a dev build made there during a run
    # would silently replace the release build being measured.
    wheels = ROOT / "target" / "bench-wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    maturin = str(BENCH_VENV / "bin" / "maturin")
    run_checked([maturin, "build", "--release", "--quiet", "--out", str(wheels)], cwd=ROOT, env=env)
    (wheel,) = wheels.glob("kinesis-*.whl")
    run_checked([*pip, "--force-reinstall", "--no-deps", str(wheel)])
    env[BUILD_ENV] = "1"
    if skipped:
        env[AIOBOTOCORE_SKIP_ENV] = skipped
    log(f"$ {python} {Path(__file__).relative_to(ROOT)} --no-build {' '.join(argv)}")
    os.execve(str(python), [str(python), str(Path(__file__).resolve()), "--no-build", *argv], env)


# --- environment and machine ---------------------------------------------------------------------------


def hermetic_env(home: str) -> dict[str, str]:
    """This environment without AWS/boto/proxy settings, with placeholder credentials and an empty HOME."""
    scrubbed = {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BOTO_")) and k not in scrubbed}
    env.update(
        HOME=home,
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    env.pop(AIOBOTOCORE_SKIP_ENV, None)
    env.pop(BUILD_ENV, None)
    return env


def version_of(dist: str) -> Optional[str]:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def elf_sections(path: Path) -> set[str]:
    """Section names of a 64-bit little-endian ELF file (empty if it is not one)."""
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            return set()
        shoff = struct.unpack_from("<Q", header, 0x28)[0]
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", header, 0x3A)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        entries = [table[i * shentsize : (i + 1) * shentsize] for i in range(shnum)]
        strtab_offset, strtab_size = struct.unpack_from("<QQ", entries[shstrndx], 0x18)
        f.seek(strtab_offset)
        strtab = f.read(strtab_size)
    names = set()
    for entry in entries:
        start = struct.unpack_from("<I", entry, 0)[0]
        names.add(strtab[start : strtab.index(b"\0", start)].decode(errors="replace"))
    return names


def kinesis_build() -> dict[str, Any]:
    """Which extension module the workers will import, and whether it looks like a release build."""
    spec = importlib.util.find_spec("kinesis")
    if spec is None or not spec.submodule_search_locations:
        return {"path": None, "profile": "not installed"}
    found = sorted(p for loc in spec.submodule_search_locations for p in Path(loc).glob("_kinesis*.so"))
    if not found:
        return {"path": None, "profile": "unknown (no _kinesis*.so found)"}
    path = found[0]
    try:
        sections = elf_sections(path)
    except (OSError, struct.error, ValueError):
        sections = set()
    if ".debug_info" in sections:
        profile = "dev (has debug info)"
    elif sections and ".symtab" not in sections:
        profile = "release (stripped)"
    else:
        profile = "unknown"
    return {"path": str(path), "profile": profile, "size_mib": round(path.stat().st_size / 2**20, 1)}


def machine_info(server: Server, canned: Optional[Server]) -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "server": server.description,
        "canned_server": None if canned is None else canned.description,
        "canned_workloads": [] if canned is None else sorted(CANNED_WORKLOADS),
        "kinesis": version_of("kinesis"),
        "kinesis_build": kinesis_build(),
        "built_by_bench": os.environ.get(BUILD_ENV) == "1",
        "boto3": version_of("boto3"),
        "botocore": version_of("botocore"),
        "aiobotocore": version_of("aiobotocore"),
        "moto": version_of("moto"),
        "interpreter": sys.executable,
    }


# --- the server ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            headers = {"X-Amz-Target": "Kinesis_20131202.ListStreams", "Content-Type": "application/x-amz-json-1.1"}
            conn.request("POST", "/", body=b"{}", headers=headers)
            conn.getresponse().read()
            return True
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):
        return False


def closes_connections(port: int) -> bool:
    """True if the server closes the connection after an answer (so every call opens a new one)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {"X-Amz-Target": "Kinesis_20131202.ListStreams", "Content-Type": "application/x-amz-json-1.1"}
        conn.request("POST", "/", body=b"{}", headers=headers)
        response = conn.getresponse()
        response.read()
        return bool(response.will_close)
    finally:
        conn.close()


@dataclass
class Server:
    name: str
    description: str
    endpoint_url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def wait_until_it_answers(self, port_if_answering: Callable[[], Optional[int]], timeout: float) -> None:
        """Poll until ``port_if_answering()`` gives the port the server answers on (None: not yet); then
        set the endpoint and say whether it keeps connections open. Exits if it dies or times out."""
        deadline = time.monotonic() + timeout
        while (port := port_if_answering()) is None:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.process.returncode} on start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"{self.name} did not answer within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.05)
        self.endpoint_url = f"http://127.0.0.1:{port}"
        if closes_connections(port):
            self.description += "; it closes the connection after every answer, so each call opens a new one"
        else:
            self.description += "; keep-alive"

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def start_server(name: str, workdir: Path, env: dict[str, str]) -> Server:
    port = free_port()
    env = dict(env)
    if name == "moto":
        if importlib.util.find_spec("moto") is None:
            raise SystemExit("moto is not installed in this interpreter: pip install 'moto[server]'")
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        cwd = str(workdir)
        description = f"moto {version_of('moto')} (python -m moto.server: werkzeug, threaded, one process)"
    else:
        if not (KINESIS_MOCK_DIR / "main.js").exists():
            run_checked(["npm", "ci", "--prefix", str(KINESIS_MOCK_PREFIX), "--no-audit", "--no-fund"])
        node = shutil.which("node")
        if node is None:
            raise SystemExit("kinesis-mock needs node on PATH")
        cmd = [node, "main.js"]
        cwd = str(KINESIS_MOCK_DIR)  # it reads server.json (its TLS certificate) from the working directory
        for action in (
            "CREATE_STREAM",
            "DELETE_STREAM",
            "REGISTER_STREAM_CONSUMER",
            "DEREGISTER_STREAM_CONSUMER",
            "START_STREAM_ENCRYPTION",
            "STOP_STREAM_ENCRYPTION",
            "MERGE_SHARDS",
            "SPLIT_SHARD",
            "UPDATE_SHARD_COUNT",
            "UPDATE_STREAM_MODE",
        ):
            env[f"{action}_DURATION"] = "10ms"
        env.update(
            KINESIS_MOCK_PLAIN_PORT=str(port),
            KINESIS_MOCK_TLS_PORT=str(free_port()),
            SHARD_LIMIT="10000",
            ON_DEMAND_STREAM_COUNT_LIMIT="1000",
            LOG_LEVEL="ERROR",
            ROOT_LOG_LEVEL="ERROR",
            SHOULD_PERSIST_DATA="false",
            LOAD_DATA_IF_EXISTS="false",
            AWS_ACCOUNT_ID=ACCESS_KEY_ID,
        )
        try:
            package = json.loads((KINESIS_MOCK_DIR / "package.json").read_text())
            version = package.get("version", "?")
        except (OSError, ValueError):
            version = "?"
        node_version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
        description = f"kinesis-mock (npm kinesis-local {version}, node {node_version}, plain HTTP)"
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(name, description, "", process, log_path)
    server.wait_until_it_answers(lambda: port if answers(port) else None, timeout=90)
    return server


def cargo_env() -> dict[str, str]:
    """This environment, with rustup's and cargo's homes pinned to the account's own if HOME was changed
    (the test suite runs with an empty HOME, where rustup would find no toolchain)."""
    env = dict(os.environ)
    try:
        account_home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        return env
    for variable, directory in (("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")):
        if variable not in env and (account_home / directory).is_dir():
            env[variable] = str(account_home / directory)
    return env


def build_canned_server() -> Path:
    """Build bench/canned-server in release mode (a no-op when up to date); return the binary."""
    cargo = shutil.which("cargo")
    if cargo is None:
        raise SystemExit("the threads workload needs cargo on PATH, to build bench/canned-server")
    manifest = CANNED_SERVER_DIR / "Cargo.toml"
    run_checked([cargo, "build", "--release", "--quiet", "--manifest-path", str(manifest)], env=cargo_env())
    return CANNED_SERVER_DIR / "target" / "release" / "canned-server"


def start_canned_server(binary: Path, workdir: Path) -> Server:
    """Start the canned server on a port of its choosing (printed as its first line of output)."""
    out_path = workdir / "canned-server.out"
    log_path = workdir / "canned-server.log"
    with open(out_path, "wb") as out, open(log_path, "wb") as err:
        process = subprocess.Popen(
            [str(binary), "0"], stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
        )
    description = (
        "bench/canned-server (Rust, hyper 1, one tokio current-thread runtime: one core at most;"
        " canned answers, nothing stored)"
    )
    server = Server("canned-server", description, "", process, log_path)

    def port_if_answering() -> Optional[int]:
        first = out_path.read_bytes().split(b"\n", 1)
        return int(first[0]) if len(first) == 2 and answers(int(first[0])) else None

    server.wait_until_it_answers(port_if_answering, timeout=30)
    return server


# --- streams (set up through boto3, not measured) ------------------------------------------------------


def setup_client(endpoint_url: str):
    import boto3

    return boto3.client(
        "kinesis",
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


def create_stream(client, name: str, shards: int = 1) -> str:
    client.create_stream(StreamName=name, ShardCount=shards)
    deadline = time.monotonic() + 60
    while client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise SystemExit(f"stream {name} did not become ACTIVE")
        time.sleep(0.05)
    return name


def prefill(client, stream: str, records: int, size: int) -> None:
    """``records`` records of ``size`` bytes of ASCII text, with put_records in batches of 500."""
    line = b"".join(bytes([0x61 + (i % 26)]) for i in range(size))  # 'abc...'
    for start in range(0, records, 500):
        batch = [
            {"Data": (b"%08d " % i + line)[:size], "PartitionKey": f"k{i}"}
            for i in range(start, min(records, start + 500))
        ]
        result = client.put_records(StreamName=stream, Records=batch)
        if result.get("FailedRecordCount"):
            raise SystemExit(f"prefill: {result['FailedRecordCount']} records failed")


def prefill_aggregated(client, stream: str, records: int, size: int, per_aggregate: int = 400) -> None:
    """``records`` user records of ``size`` bytes packed ``per_aggregate`` to a KPL aggregate (about
    the KPL's 51,200-byte default for 100-byte records), put with put_records."""
    from kinesis.aggregation import aggregate

    line = bytes(0x61 + (i % 26) for i in range(size))
    aggregates = []
    for start in range(0, records, per_aggregate):
        users = [
            (f"k{i % 1000}", (b"%08d " % i + line)[:size]) for i in range(start, min(records, start + per_aggregate))
        ]
        aggregates.append({"Data": aggregate(users), "PartitionKey": "a"})
    for start in range(0, len(aggregates), 50):
        result = client.put_records(StreamName=stream, Records=aggregates[start : start + 50])
        if result.get("FailedRecordCount"):
            raise SystemExit(f"prefill: {result['FailedRecordCount']} aggregates failed")


# --- running the workers -------------------------------------------------------------------------------


@dataclass
class Run:
    """One worker process's measurement, or its failure."""

    result: Optional[dict[str, Any]]
    process_wall_s: float
    error: str = ""


@dataclass
class Bench:
    server: Server
    env: dict[str, str]
    sizes: dict[str, Any]
    repeat: int
    peer_skipped: dict[str, str]
    canned: Optional[Server] = None
    runs: dict[str, dict[str, list[Run]]] = field(default_factory=dict)
    served_by: dict[str, str] = field(default_factory=dict)  # run key -> the server's name
    failures: list[str] = field(default_factory=list)

    def server_for(self, workload: str) -> Server:
        return self.canned if self.canned is not None and workload in CANNED_WORKLOADS else self.server

    def worker(self, workload: str, client: str, **options: Any) -> Run:
        cmd = [sys.executable, str(WORKER), workload, client, self.server_for(workload).endpoint_url]
        cmd += [f"{k}={v}" for k, v in options.items()]
        started = time.perf_counter()
        try:
            done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            return Run(None, time.perf_counter() - started, "timed out after 900 s")
        process_wall = time.perf_counter() - started
        if done.returncode != 0:
            return Run(None, process_wall, f"exit {done.returncode}: {done.stderr.strip()[-2000:]}")
        try:
            return Run(json.loads(done.stdout.strip().splitlines()[-1]), process_wall)
        except (ValueError, IndexError):
            return Run(None, process_wall, f"no result: {done.stdout[-500:]} {done.stderr[-1500:]}")

    def measure(
        self, key: str, workload: str, clients: list[str], runs: int, first_run: int = 0, **options: Any
    ) -> None:
        """``runs`` runs per client, alternating which client goes first (``first_run``: runs made before)."""
        slot = self.runs.setdefault(key, {c: [] for c in ("ours", "peer")})
        self.served_by[key] = self.server_for(workload).name
        for i in range(first_run, first_run + runs):
            for client in clients if i % 2 == 0 else clients[::-1]:
                run = self.worker(workload, client, **options)
                slot[client].append(run)
                if run.error:
                    self.failures.append(f"{key} ({client}): {run.error}")
                    log(f"  {key} {client}: FAILED {run.error}")
                else:
                    r = run.result or {}
                    log(
                        f"  {key} {client}: cpu {r['cpu_s'] * 1e3:.1f} ms, wall {r['wall_s'] * 1e3:.1f} ms "
                        f"for {r['ops']} ops; peak RSS {r['maxrss_kib'] / 1024:.0f} MiB"
                    )

    def clients(self, workload: str) -> list[str]:
        return ["ours"] if workload in self.peer_skipped else ["ours", "peer"]


def run_all(bench: Bench, only: list[str], streams) -> None:
    sizes = bench.sizes
    pid = bench.server.process.pid
    if "startup" in only:
        log("startup: import + connect in a fresh interpreter")
        bench.worker("startup", "ours")  # untimed: writes bytecode caches and warms the page cache
        bench.worker("startup", "peer")
        bench.measure("startup", "startup", bench.clients("startup"), sizes["startup_runs"])
    for name in ("put_record", "get_records_empty", "get_records_bulk", "reader_deaggregate"):
        if name in only:
            log(f"{name}:")
            opts = {k: v for k, v in sizes[name].items() if k != "record_size"}
            bench.measure(name, name, bench.clients(name), bench.repeat, stream=streams(name), server_pid=pid, **opts)
    if "threads" in only:
        size = sizes["threads"]
        # 1 and N threads interleaved, run by run: the ratio of the two is the result, and on a shared
        # machine the load drifts; one block of 1-thread runs then one of N-thread runs would skew it.
        for i, count in ((i, c) for i in range(bench.repeat) for c in (1, size["threads"])):
            log(f"threads: {count} thread(s), against {bench.server_for('threads').name}")
            bench.measure(
                f"threads-{count}",
                "threads",
                bench.clients("threads"),
                1,
                first_run=i,
                stream=streams("threads"),
                server_pid=bench.server_for("threads").process.pid,
                n=size["n"],
                warmup=size["warmup"],
                threads=count,
            )
    if "asyncio" in only:
        log("asyncio:")
        bench.measure(
            "asyncio",
            "asyncio",
            bench.clients("asyncio"),
            bench.repeat,
            stream=streams("asyncio"),
            server_pid=pid,
            **sizes["asyncio"],
        )
    if "producer" in only:
        size = sizes["producer"]
        for peer, label in PRODUCER_PEERS.items():
            log(f"producer: 100-byte records, aggregated, vs {label}")
            bench.measure(
                f"producer-{peer}",
                "producer",
                bench.clients("producer"),
                bench.repeat,
                stream=streams("producer"),
                server_pid=pid,
                n=size["n_vs_boto3" if peer == "boto3" else "n"],
                warmup=size["warmup"],
                peer=peer,
            )


# --- summarising ---------------------------------------------------------------------------------------


def ok_results(bench: Bench, key: str, client: str) -> list[dict[str, Any]]:
    return [r.result for r in bench.runs.get(key, {}).get(client, []) if r.result is not None]


def median_of(bench: Bench, key: str, client: str, metric) -> Optional[float]:
    values = [metric(r) for r in ok_results(bench, key, client)]
    return statistics.median(values) if values else None


def per_op(name: str):
    return lambda r: r[name] / r["ops"]


def throughput(r: dict[str, Any]) -> float:
    return r["ops"] / r["wall_s"]


@dataclass
class Row:
    workload: str
    unit: str
    ours: Optional[float]
    peer: Optional[float]
    scale: float  # the unit's multiplier from seconds (1e6 for µs, ...)
    target: str
    met: Optional[bool]
    note: str = ""
    chart: str = ""  # "cost": a ratio where lower is better; "scaling": threads
    target_ratio: Optional[float] = None
    short: str = ""  # the chart's label

    @property
    def ratio(self) -> Optional[float]:
        if self.ours is None or self.peer is None or self.peer == 0:
            return None
        return self.ours / self.peer

    def cells(self) -> list[str]:
        def fmt(value: Optional[float]) -> str:
            if value is None:
                return "—"
            shown = value * self.scale
            digits = 0 if shown >= 100 else 1 if shown >= 10 else 2
            return f"{shown:,.{digits}f}{'' if self.unit == 'x' else ' '}{self.unit}".strip()

        ratio = self.ratio
        met = "—" if self.met is None else ("yes" if self.met else "**no**")
        peer = fmt(self.peer) if self.peer is not None or not self.note else self.note
        return [
            self.workload,
            fmt(self.ours),
            peer,
            "—" if ratio is None else f"{ratio:.3f}",
            self.target,
            met,
        ]


def summarise(bench: Bench) -> list[Row]:
    rows: list[Row] = []
    skipped = bench.peer_skipped

    def cost_rows(
        key: str, label: str, short: str, unit: str, scale: float, target: Optional[float], per: str = "call"
    ) -> None:
        if key not in bench.runs:
            return
        note = f"skipped: {skipped[key]}" if key in skipped else ""
        cpu_ours = median_of(bench, key, "ours", per_op("cpu_s"))
        cpu_peer = median_of(bench, key, "peer", per_op("cpu_s"))
        ratio = None if cpu_ours is None or cpu_peer is None else cpu_ours / cpu_peer
        rows.append(
            Row(
                f"{label}: client CPU per {per}",
                unit,
                cpu_ours,
                cpu_peer,
                scale,
                "—" if target is None else f"ratio ≤ {target}",
                None if target is None or ratio is None else ratio <= target,
                note,
                "cost",
                target,
                f"{short}\nCPU per {per}",
            )
        )
        rows.append(
            Row(
                f"{label}: wall time per {per}",
                unit,
                median_of(bench, key, "ours", per_op("wall_s")),
                median_of(bench, key, "peer", per_op("wall_s")),
                scale,
                "—",
                None,
                note,
            )
        )

    if "startup" in bench.runs:
        ours = median_of(bench, "startup", "ours", lambda r: r["wall_s"])
        rows.append(
            Row(
                "start-up: import + connect, wall (median)",
                "ms",
                ours,
                median_of(bench, "startup", "peer", lambda r: r["wall_s"]),
                1e3,
                "ours ≤ 20 ms",
                None if ours is None else ours <= 0.020,
                chart="cost",
                short="start-up\nwall",
            )
        )
    cost_rows("put_record", "put_record (100 B)", "put_record", "µs", 1e6, 0.1)
    cost_rows("get_records_empty", "get_records, empty shard", "get_records\nempty shard", "µs", 1e6, 0.1)
    if "get_records_bulk" in bench.runs:
        size = bench.sizes["get_records_bulk"]
        returned = sorted(
            {r["records_per_call"] for c in ("ours", "peer") for r in ok_results(bench, "get_records_bulk", c)}
        )
        kib = size["record_size"] // 1024
        label = f"get_records, {size['records']:,} x {kib} KiB"
        short = f"get_records\n{size['records']:,} x {kib} KiB"
        if returned and returned != [size["records"]]:
            got = "/".join(f"{n:,}" for n in returned)
            label = f"get_records, limit {size['records']:,}, {got} x {kib} KiB returned"
            short = f"get_records\n{got} x {kib} KiB"
        cost_rows("get_records_bulk", label, short, "ms", 1e3, 0.05)
    count = bench.sizes["threads"]["threads"]
    if "reader_deaggregate" in bench.runs:
        records = bench.sizes["reader_deaggregate"]["records"]
        label = f"reader: {records:,} aggregated records read + de-aggregated, vs boto3 + aws-kinesis-agg"
        short = f"reader\n{records:,} aggregated"
        cost_rows("reader_deaggregate", label, short, "µs", 1e6, 0.1, per="record")
    if "threads-1" in bench.runs and f"threads-{count}" in bench.runs:
        against = "" if bench.served_by["threads-1"] != "canned-server" else " (canned server)"
        scaling = {}
        for client in ("ours", "peer"):
            one = median_of(bench, "threads-1", client, throughput)
            many = median_of(bench, f"threads-{count}", client, throughput)
            scaling[client] = None if one is None or many is None else many / one
        rows.append(
            Row(
                f"threads: put_record throughput, {count} threads ÷ 1 thread{against}",
                "x",
                scaling["ours"],
                scaling["peer"],
                1,
                "ours ≥ 1.7x",
                None if scaling["ours"] is None else scaling["ours"] >= 1.7,
                chart="scaling",
            )
        )
        label = f"threads: put_record, {count} threads{against}"
        cost_rows(f"threads-{count}", label, f"put_record\n{count} threads", "µs", 1e6, None, per="record")
    if "asyncio" in bench.runs:
        width = bench.sizes["asyncio"]["concurrency"]
        label = f"asyncio: {width} concurrent put_record"
        short = f"asyncio put_record x{width}\nvs aiobotocore"
        cost_rows("asyncio", label, short, "µs", 1e6, None, per="record")
    # The producer: client CPU per record; targets ≥ 500,000 records/s per core (≤ 2 µs) and ≥ 20x
    # aws-kinesis-agg + boto3 (a cost ratio ≤ 0.05).
    if "producer-boto3" in bench.runs:
        cost_rows(
            "producer-boto3",
            "producer, 100 B aggregated, vs boto3 put_records",
            "Producer\nvs boto3",
            "µs",
            1e6,
            None,
            per="record",
        )
    if "producer-agg" in bench.runs:
        cost_rows(
            "producer-agg",
            "producer, 100 B aggregated, vs aws-kinesis-agg + boto3",
            "Producer\nvs kinesis-agg",
            "µs",
            1e6,
            0.05,
            per="record",
        )
        ours = median_of(bench, "producer-agg", "ours", lambda r: r["ops"] / r["cpu_s"])
        rows.append(
            Row(
                "producer: records per client CPU second",
                "rec/s",
                ours,
                median_of(bench, "producer-agg", "peer", lambda r: r["ops"] / r["cpu_s"]),
                1,
                "ours ≥ 500,000",
                None if ours is None else ours >= 500_000,
                note="",
            )
        )
    return rows


def markdown_table(header: list[str], lines: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return "\n".join(out)


def details_table(bench: Bench) -> str:
    lines = []
    for key, by_client in bench.runs.items():
        for client, runs in by_client.items():
            results = ok_results(bench, key, client)
            if not runs:
                continue
            peer_name = "aiobotocore" if key == "asyncio" else "boto3"
            if key.startswith("producer-"):
                peer_name = PRODUCER_PEERS[key.split("-", 1)[1]]
            name = {"ours": "kinesis", "peer": peer_name}[client]
            if not results:
                lines.append([key, name, bench.served_by.get(key, ""), "failed", "", "", "", "", "", "", "", ""])
                continue
            ops = results[0]["ops"]
            cpu = statistics.median(r["cpu_s"] for r in results)
            wall = statistics.median(r["wall_s"] for r in results)
            server = statistics.median(r["server_cpu_s"] for r in results)
            rss = max(r["maxrss_kib"] for r in results) / 1024
            process_wall = statistics.median(r.process_wall_s for r in runs if r.result is not None)
            busy = "—" if key == "startup" or not wall or server != server else f"{server / wall:.0%}"
            server_per_op = "—" if key == "startup" or server != server else f"{server / ops * 1e6:,.1f}"
            lines.append(
                [
                    key,
                    name,
                    bench.served_by.get(key, bench.server.name),
                    str(len(results)),
                    f"{ops:,}",
                    f"{cpu * 1e3:,.1f}",
                    f"{wall * 1e3:,.1f}",
                    f"{cpu / wall:.0%}" if wall else "—",
                    busy,
                    server_per_op,
                    f"{rss:,.0f}",
                    f"{process_wall:.2f}",
                ]
            )
    header = [
        "workload",
        "client",
        "server",
        "runs",
        "ops/run",
        "client CPU ms",
        "wall ms",
        "client CPU ÷ wall",
        "server CPU ÷ wall",
        "server CPU µs per op",
        "peak RSS MiB",
        "process s",
    ]
    return markdown_table(header, lines)


def command_line(argv: list[str]) -> str:
    """The command as the user typed it: scripts/bench (which builds, then re-runs with --no-build) or run.py."""
    if os.environ.get(BUILD_ENV) == "1" and argv[:1] == ["--no-build"]:
        return " ".join(["scripts/bench", *argv[1:]])
    return " ".join(["bench/run.py", *argv])


def render_markdown(bench: Bench, rows: list[Row], info: dict[str, Any], argv: list[str]) -> str:
    build = info["kinesis_build"]
    built = "built by this run (release wheel)" if info["built_by_bench"] else "as installed (--no-build)"
    machine = [
        f"- date: {info['date']}",
        f"- CPU: {info['cpu_model']}, {info['cores']} cores ({info['usable_cores']} usable)",
        f"- Python: {info['python']} ({info['platform']})",
        f"- server: {info['server']}, on the same machine",
    ]
    if info["canned_server"]:
        workloads = ", ".join(info["canned_workloads"])
        machine.append(f"- server for the {workloads} rows instead: {info['canned_server']}, because {CANNED_WHY}")
    machine += [
        f"- kinesis {info['kinesis']}: {build['profile']} build, {built}",
        f"- peers: boto3 {info['boto3']}, botocore {info['botocore']}, aiobotocore {info['aiobotocore'] or '—'}",
        f"- command: `{command_line(argv)}`",
    ]
    notes = [
        "Ratio = ours ÷ peer (for the threads row: our scaling ÷ boto3's). Client CPU is user + system time of",
        "the client process alone (getrusage deltas around the measured loop, after warm-up); each client runs",
        "in a fresh interpreter, and the server is another process. Start-up is the wall time of",
        "`import kinesis` + `connect_to_region` vs `import boto3` + `boto3.client('kinesis')` inside a fresh",
        "interpreter (median of several runs). Wall times include the local server's own time.",
        f"Each other workload ran {bench.repeat} time(s) per client, alternating which client went first;",
        "the medians are shown. The peer is boto3, except for asyncio, where it is aiobotocore.",
    ]
    if info["canned_server"]:
        notes += [
            "",
            "The threads rows (marked canned server) ran against bench/canned-server, not the emulator the other",
            f"rows ran against: {CANNED_WHY}. It answers PutRecord with a fixed shard and an increasing sequence",
            "number from one tokio current-thread runtime; its CPU ÷ wall and CPU per request are in the table below.",
        ]
    parts = [
        "# Benchmark results: kinesis vs boto3",
        "",
        *machine,
        "",
        markdown_table(["workload", "ours", "peer", "ratio", "target", "met?"], [r.cells() for r in rows]),
        "",
        *notes,
        "",
        "## Per run (medians over runs)",
        "",
        details_table(bench),
        "",
        "Server CPU ÷ wall near 100% (or above, for node's extra threads) means the server was the bottleneck:",
        "moto's Python cannot use more than about one core, kinesis-mock's event loop runs on one, and so does",
        "the canned server's (server CPU per op: the server process's CPU over the measured part ÷ ops).",
    ]
    if bench.peer_skipped:
        parts += ["", *(f"- {k}: peer skipped: {v}" for k, v in bench.peer_skipped.items())]
    if bench.failures:
        parts += ["", "## Failures", "", *(f"- {f}" for f in bench.failures)]
    return "\n".join(parts) + "\n"


def draw_chart(rows: list[Row], path: Path, title: str) -> str:
    """Bar chart of the ratios; returns why it was not drawn, or ''."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        return f"matplotlib is not available ({err})"
    costs = [r for r in rows if r.chart == "cost" and r.ratio is not None]
    scaling = [r for r in rows if r.chart == "scaling" and r.ours is not None]
    if not costs and not scaling:
        return "no ratios to draw"
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [3, 1]})
    left, right = axes
    labels = [r.short or r.workload for r in costs]
    ratios = [r.ratio or 0.0 for r in costs]
    bars = left.bar(range(len(costs)), ratios, color="tab:blue")
    for i, row in enumerate(costs):
        target = row.target_ratio
        if target is None and row.workload.startswith("start-up") and row.peer:
            target = 0.020 / row.peer  # 20 ms as a ratio of boto3's start-up
        if target is not None:
            left.hlines(target, i - 0.4, i + 0.4, colors="tab:red", linestyles="--")
    left.bar_label(bars, labels=[f"{v:.3f}" for v in ratios], fontsize=8)
    left.axhline(1.0, color="grey", linewidth=0.8)
    left.set_yscale("log")
    left.set_xticks(range(len(costs)), labels, fontsize=8)
    left.set_ylabel("ours ÷ peer (log scale, lower is better)")
    left.set_title("cost ratios (red dashes: target)")
    names = ["kinesis", "boto3"]
    for row in scaling:
        values = [row.ours or 0.0, row.peer or 0.0]
        bars = right.bar(names, values, color=["tab:blue", "tab:orange"])
        right.bar_label(bars, labels=[f"{v:.2f}x" for v in values], fontsize=8)
        right.axhline(1.7, color="tab:red", linestyle="--")
        right.set_title(row.workload.split(",")[-1].strip(), fontsize=9)
    right.set_ylabel("throughput scaling (higher is better)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return ""


# --- main ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test, numbers meaningless)")
    parser.add_argument("--server", choices=["moto", "kinesis-mock"], default="moto")
    parser.add_argument("--only", action="append", choices=WORKLOADS, metavar="NAME", help=", ".join(WORKLOADS))
    parser.add_argument(
        "--repeat", type=int, help="fresh worker runs per client and workload, median reported (default 3; 1 quick)"
    )
    parser.add_argument(
        "--no-build",
        action="store_true",
        help="use this interpreter and its kinesis as they are (bench/canned-server is still built, if stale)",
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="where results are written")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    if not args.no_build:
        build_and_reexec(argv)  # does not return
    only = args.only or WORKLOADS
    sizes = QUICK if args.quick else FULL
    peer_skipped: dict[str, str] = {}
    if "asyncio" in only and importlib.util.find_spec("aiobotocore") is None:
        peer_skipped["asyncio"] = os.environ.get(AIOBOTOCORE_SKIP_ENV) or "aiobotocore is not installed here"
        log(f"asyncio: the aiobotocore side is skipped: {peer_skipped['asyncio']}")
    if importlib.util.find_spec("boto3") is None:
        raise SystemExit("boto3 is not installed in this interpreter")
    args.out.mkdir(parents=True, exist_ok=True)
    canned_binary = build_canned_server() if CANNED_WORKLOADS.intersection(only) else None

    with tempfile.TemporaryDirectory(prefix="kinesis-bench-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = hermetic_env(str(home))
        log(f"starting {args.server} ...")
        server = start_server(args.server, Path(tmp), env)
        canned: Optional[Server] = None
        try:
            log(f"{args.server} at {server.endpoint_url} (pid {server.process.pid})")
            if canned_binary is not None:
                canned = start_canned_server(canned_binary, Path(tmp))
                log(
                    f"canned-server at {canned.endpoint_url} (pid {canned.process.pid}), for {sorted(CANNED_WORKLOADS)}"
                )
            setup = setup_client(server.endpoint_url)
            canned_setup = None if canned is None else setup_client(canned.endpoint_url)
            made: dict[str, str] = {}

            def streams(name: str) -> str:
                if name not in made:
                    client = canned_setup if canned_setup is not None and name in CANNED_WORKLOADS else setup
                    made[name] = create_stream(client, f"bench-{name.replace('_', '-')}")
                    if name == "get_records_bulk":
                        size = sizes[name]
                        log(f"prefilling {made[name]} with {size['records']:,} records of {size['record_size']} B")
                        prefill(setup, made[name], size["records"], size["record_size"])
                    if name == "reader_deaggregate":
                        size = sizes[name]
                        log(
                            f"prefilling {made[name]} with {size['records']:,} aggregated records"
                            f" of {size['record_size']} B"
                        )
                        prefill_aggregated(setup, made[name], size["records"], size["record_size"])
                return made[name]

            repeat = args.repeat or (1 if args.quick else 3)
            bench = Bench(server, env, sizes, repeat, peer_skipped, canned)
            started = time.monotonic()
            run_all(bench, only, streams)
            elapsed = time.monotonic() - started
            info = machine_info(server, canned)
        finally:
            if canned is not None:
                canned.stop()
            server.stop()

    rows = summarise(bench)
    markdown = render_markdown(bench, rows, info, argv)
    print()
    print(markdown)
    (args.out / "latest.md").write_text(markdown, encoding="utf-8")
    payload = {
        "machine": info,
        "argv": argv,
        "sizes": sizes,
        "repeat": bench.repeat,
        "served_by": bench.served_by,
        "elapsed_s": round(elapsed, 1),
        "summary": [
            {
                "workload": r.workload,
                "unit": r.unit,
                "ours": None if r.ours is None else r.ours * r.scale,
                "peer": None if r.peer is None else r.peer * r.scale,
                "ratio": r.ratio,
                "target": r.target,
                "met": r.met,
                "note": r.note,
            }
            for r in rows
        ],
        "runs": {
            key: {
                client: [{"result": r.result, "process_wall_s": r.process_wall_s, "error": r.error} for r in runs]
                for client, runs in by_client.items()
            }
            for key, by_client in bench.runs.items()
        },
        "peer_skipped": peer_skipped,
        "failures": bench.failures,
    }
    (args.out / "latest.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    chart = args.out / "ratios.png"
    why_not = draw_chart(rows, chart, f"kinesis vs boto3 — {info['server']} — {info['date']}")
    if why_not:
        chart.unlink(missing_ok=True)
        log(f"no chart: {why_not}")
    written = ", ".join(str(p) for p in (args.out / "latest.md", args.out / "latest.json", chart) if p.exists())
    log(f"wrote {written} ({elapsed:.0f} s of workloads)")
    if bench.failures:
        log(f"{len(bench.failures)} worker(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
