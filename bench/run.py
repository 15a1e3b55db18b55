#!/usr/bin/env python3
"""The scimd benchmark, run by `make bench` after a release build.

It starts the release binary on a fresh database, loads one tenant with --users users (the load
itself is the "POST /Users" measurement, driven by wrk) and one group of --group-size members,
then drives each scenario with wrk and prints req/s, p50 and p99 latency, the ratio to /healthz
(the machine's ceiling) and the target for the backend run (SQLite, or PostgreSQL with a
postgres:// --database-url): first with a static bearer token, then the common reads and a write
again with a JWT access token obtained through the OAuth authorization-code flow, as Okta would.
Then the refresh_token grant: 16 chains at once, each its own grant on its own connection (wrk
-t16 -c16), each presenting the refresh token its previous answer returned (refresh tokens
rotate; a chain's last token is checked to still work afterwards). Last, Okta's full import: one
client pages every user with count=100 from startIndex=1 to totalResults, timed in seconds, and
the distinct ids read are checked against totalResults. The notes give the server's resident
memory (VmRSS) after the load and after the whole bench. The same table, with the machine and
database, is written as Markdown to --out for BENCHMARKS.md.

Needs Python 3.11 (standard library only) and wrk. wrk runs on the same machine as the server, so
the figures are what one box does with both; the report says how much CPU other processes took.

Knobs (flags, or the environment for `make bench`):
  --users        BENCH_USERS        users to load (100000)
  --group-size   BENCH_GROUP_SIZE   members of the big group (50000)
  --duration     BENCH_DURATION     seconds per scenario (10)
  --connections  BENCH_CONNECTIONS  wrk connections (32)
  --threads      BENCH_THREADS      wrk threads (2); neither applies to the 1-connection rows
                                    or to the refresh chains (16 threads, 16 connections)
  --database-url BENCH_DATABASE_URL default: a SQLite file in a temporary directory; a
                                    postgres:// URL must name an empty database
  --out          BENCH_OUT          Markdown report (bench/last-run.md)
  --log-errors                      show why requests failed (status and body of non-2xx)
The server runs with the built-in defaults: SCIMD_* variables and ./scimd.toml are ignored,
except SCIMD_WORKERS and SCIMD_DB_POOL_SIZE, which are passed on and shown in the report. The
rate limits the bench would hit are turned off (SCIM per tenant, the token endpoint per client
and per address, sign-ins per address): the benchmark measures the server, not the limits.
"""

from __future__ import annotations

import argparse
import base64
import collections
import concurrent.futures
import dataclasses
import datetime
import html.parser
import http.client
import http.cookiejar
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WRK_SCRIPT = BENCH_DIR / "scim.lua"

TENANT = "bench"
ADMIN_EMAIL = "bench-admin@example.com"
REDIRECT_URI = "http://127.0.0.1/cb"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# Members per PATCH while building the big group: big enough to load 50k in seconds, small
# enough to stay far below the default 1 MiB body limit.
MEMBERS_PER_PATCH = 1000
# Server settings the developer may tune from the environment; everything else is the default.
PASSED_SETTINGS = ("SCIMD_WORKERS", "SCIMD_DB_POOL_SIZE")
# CPU cores used by other processes above which a figure is flagged as disturbed.
DISTURBED = 0.2
ANSI = re.compile(r"\x1b\[[0-9;]*m")

STARTED = time.monotonic()


class BenchError(Exception):
    """A failure that ends the run with a message rather than a traceback."""


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# Options


def parse_args() -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(
        description="Load scimd with users and a big group, then measure it with wrk.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Knobs" + __doc__.split("Knobs", 1)[1],
    )
    p.add_argument("--users", type=int, default=int(env("BENCH_USERS", "100000")))
    p.add_argument("--group-size", type=int, default=int(env("BENCH_GROUP_SIZE", "50000")))
    p.add_argument("--duration", type=seconds, default=seconds(env("BENCH_DURATION", "10")))
    p.add_argument("--connections", type=int, default=int(env("BENCH_CONNECTIONS", "32")))
    p.add_argument("--threads", type=int, default=int(env("BENCH_THREADS", "2")))
    p.add_argument("--database-url", default=env("BENCH_DATABASE_URL"))
    p.add_argument("--out", type=Path,
                   default=Path(env("BENCH_OUT", str(BENCH_DIR / "last-run.md"))))
    p.add_argument("--binary", type=Path, default=default_binary(),
                   help="the scimd binary (default: the release build)")
    p.add_argument("--log-errors", action="store_true",
                   help="show the status and body of non-2xx responses (costs wrk some CPU)")
    args = p.parse_args()
    if args.threads < 1 or args.connections < args.threads:
        p.error("need at least one thread and one connection per thread")
    # Each wrk thread owns a slice of the non-members for the membership scenario.
    if not 0 < args.group_size <= args.users - 100 * args.threads:
        p.error("--group-size must be positive and leave at least 100 non-members per thread")
    return args


def seconds(text: str) -> int:
    """Parses "10" or "10s"."""
    value = int(text.strip().removesuffix("s"))
    if value < 1:
        raise argparse.ArgumentTypeError("the duration must be at least 1 s")
    return value


def default_binary() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR")
    return (Path(target) if target else REPO / "target") / "release" / "scimd"


# ---------------------------------------------------------------------------------------------
# The server and its CLI


class Server:
    """The scimd binary: CLI calls on the benchmark database, and one `serve` process."""

    def __init__(self, binary: Path, database_url: str, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        # An empty config file, so a scimd.toml in the working directory cannot change the run.
        config = workdir / "scimd.toml"
        config.write_text("")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMD_")}
        self.env.update({k: os.environ[k] for k in PASSED_SETTINGS if k in os.environ})
        self.env.update(SCIMD_CONFIG=str(config), SCIMD_DATABASE_URL=database_url,
                        # The benchmark measures the server, not its request budgets: the
                        # refresh chains alone would spend the token endpoint's 600/min at
                        # once, and the sign-ins for their grants the sign-in budget.
                        SCIMD_RATE_LIMIT_SCIM_PER_TENANT="0",
                        SCIMD_RATE_LIMIT_TOKEN_PER_CLIENT="0",
                        SCIMD_RATE_LIMIT_TOKEN_PER_IP="0",
                        SCIMD_RATE_LIMIT_LOGIN_PER_IP="0",
                        # The webhook receiver of the delivery measurement is on loopback.
                        SCIMD_ALLOW_PRIVATE_WEBHOOK_TARGETS="1")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "server.log"
        self.log_read = 0

    def cli(self, *args: str, stdin: str | None = None) -> dict[str, Any]:
        done = subprocess.run([str(self.binary), "--json", *args], input=stdin, text=True,
                              capture_output=True, env=self.env, cwd=self.workdir)
        try:
            out = json.loads(done.stdout)
        except json.JSONDecodeError:
            out = {"error": (done.stdout + done.stderr).strip()}
        if done.returncode != 0 or "error" in out:
            raise BenchError(f"scimd {' '.join(args)}: {out.get('error')}")
        return out

    def start(self) -> None:
        env = dict(self.env, SCIMD_BIND=f"127.0.0.1:{self.port}")
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen([str(self.binary), "serve"], env=env,
                                            cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise BenchError("the server did not start listening within 60 s")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def check_alive(self) -> None:
        if self.process and self.process.poll() is not None:
            raise BenchError(f"the server exited with {self.process.returncode}:\n"
                             + self.log_tail())

    def problems(self) -> list[str]:
        """The WARN and ERROR lines the server logged since the last call."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_read)
                text = f.read().decode(errors="replace")
                self.log_read = f.tell()
        except OSError:
            return []
        lines = (ANSI.sub("", line) for line in text.splitlines())
        return [line for line in lines if " ERROR " in line or " WARN " in line]

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if not self.process or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """A keep-alive SCIM client; one per thread (http.client connections are not shared)."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.token = token
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: Any = None,
             expect: tuple[int, ...] = (200,)) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/scim+json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/scim+json"
        # The server drops idle keep-alive connections, and this client idles through every wrk
        # run: a request that fails on a stale connection is sent once more on a new one.
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        if response.status not in expect:
            raise BenchError(f"{method} {path} answered {response.status}: {raw[:500]!r}")
        return json.loads(raw) if raw else None


def user_body(user_name: str, display: str, external_id: str) -> dict[str, Any]:
    """Okta's create body, the same as scim.lua sends."""
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Bench", "familyName": display},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": display,
        "externalId": external_id,
        "active": True,
    }


# ---------------------------------------------------------------------------------------------
# wrk


@dataclasses.dataclass
class WrkResult:
    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    # With --log-errors: "status body" of each non-2xx response.
    error_responses: list[str] = dataclasses.field(default_factory=list)
    # refresh_token only: each chain's last refresh token and how many answers moved it on.
    chains: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class Wrk:
    """Runs scim.lua scenarios; their settings travel as BENCH_* environment variables."""

    def __init__(self, args: argparse.Namespace, port: int, tag: str, workdir: Path):
        self.args = args
        self.url = f"http://127.0.0.1:{port}"
        self.tag = tag
        self.error_log = workdir / "wrk-errors.log" if args.log_errors else None
        self.scenario_env: dict[str, str] = {}

    def start(self, scenario: str, token: str | None, duration: int,
              connections: int | None = None, threads: int | None = None,
              **env: Any) -> subprocess.Popen[str]:
        connections = connections or self.args.connections
        threads = min(threads or self.args.threads, connections)
        cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s",
               # Slow responses are measured, not dropped as timeouts.
               "--timeout", "30s", "-s", str(WRK_SCRIPT),
               "-H", "Content-Type: application/scim+json"]
        if token:
            cmd += ["-H", f"Authorization: Bearer {token}"]
        cmd.append(self.url)
        # None of our caller's BENCH_* variables may reach scim.lua.
        wrk_env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
        wrk_env.update(self.scenario_env)
        wrk_env.update(
            BENCH_SCENARIO=scenario,
            BENCH_THREADS=str(threads),
            # A tag per wrk run keeps the userNames of the load and of the POST scenario apart.
            BENCH_TAG=f"{self.tag}{secrets.token_hex(2)}",
            **{k: str(v) for k, v in env.items()},
        )
        if self.error_log:
            self.error_log.unlink(missing_ok=True)
            wrk_env["BENCH_ERROR_LOG"] = str(self.error_log)
        return subprocess.Popen(cmd, env=wrk_env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def run(self, scenario: str, token: str | None, connections: int | None = None,
            threads: int | None = None, **env: Any) -> WrkResult:
        return self.finish(self.start(scenario, token, self.args.duration, connections, threads,
                                      **env))

    def finish(self, process: subprocess.Popen[str]) -> WrkResult:
        try:
            out, err = process.communicate()
        except BaseException:
            process.kill()  # interrupted: don't leave wrk running against a stopped server
            raise
        chains = [json.loads(line.removeprefix("BENCH_CHAINS "))
                  for line in out.splitlines() if line.startswith("BENCH_CHAINS ")]
        for line in out.splitlines():
            if line.startswith("BENCH_RESULT "):
                r = json.loads(line.removeprefix("BENCH_RESULT "))
                return WrkResult(
                    requests=r["requests"],
                    seconds=r["duration_us"] / 1e6,
                    non2xx=r["non2xx"],
                    socket_errors=sum(r[k] for k in ("connect_errors", "read_errors",
                                                     "write_errors", "timeouts")),
                    p50_ms=r["p50_us"] / 1000,
                    p99_ms=r["p99_us"] / 1000,
                    error_responses=self.error_responses(),
                    chains=chains[0] if chains else [],
                )
        raise BenchError(f"wrk gave no result (exit {process.returncode}):\n{out}\n{err}")

    def error_responses(self) -> list[str]:
        try:
            return self.error_log.read_text().splitlines() if self.error_log else []
        except FileNotFoundError:
            return []


class CpuMeter:
    """CPU used on this machine by other processes than the benchmark's (server, wrk, this script,
    and on a PostgreSQL on this machine the backends connected to the bench's database).

    wrk and the server share the machine, so a build or test running beside them lowers every
    figure: this measures by how much, in cores, between `start()` and `other_cores()`.
    """

    def __init__(self) -> None:
        self.server_pid: int | None = None
        # The bench's database on a local PostgreSQL: its backends work for the server.
        self.postgres_database: str | None = None
        self.tick = os.sysconf("SC_CLK_TCK")
        self.mark = self.snapshot()

    def snapshot(self) -> tuple[float, float, float]:
        """(wall time, CPU seconds busy on the machine, CPU seconds of ours), from /proc."""
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
        busy = (user + nice + system + irq + softirq + steal) / self.tick
        ours = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):  # wrk once reaped
            usage = resource.getrusage(who)
            ours += usage.ru_utime + usage.ru_stime
        if self.server_pid:  # not reaped until the end, so not among RUSAGE_CHILDREN yet
            try:
                stat = Path(f"/proc/{self.server_pid}/stat").read_text().rsplit(")", 1)[1].split()
                ours += (int(stat[11]) + int(stat[12])) / self.tick
            except (OSError, IndexError):
                pass
        if self.postgres_database:
            ours += self.postgres_seconds(self.postgres_database)
        return time.monotonic(), busy, ours

    def postgres_seconds(self, database: str) -> float:
        """CPU seconds of the PostgreSQL backends connected to `database`, found by their process
        title ("postgres: [cluster:] user database host(port) state"). The pool keeps its
        connections, so backends seldom come and go between two snapshots."""
        total = 0.0
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if (proc / "comm").read_text().strip() != "postgres":
                    continue
                title = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().split()
                if not any(word == database and ("(" in after or after == "[local]")
                           for word, after in zip(title, title[1:])):
                    continue
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                total += (int(stat[11]) + int(stat[12])) / self.tick
            except (OSError, IndexError, ValueError):
                continue
        return total

    def start(self) -> None:
        self.mark = self.snapshot()

    def other_cores(self) -> float:
        (t0, busy0, ours0), (t1, busy1, ours1) = self.mark, self.snapshot()
        if t1 <= t0:
            return 0.0
        return max(0.0, ((busy1 - busy0) - (ours1 - ours0)) / (t1 - t0))


class StandInAutovacuum:
    """ANALYZE every few seconds while the tenant loads, when PostgreSQL's autovacuum is off (as
    on CI's server): without statistics, the plans cached for the server's prepared statements
    stay those made while the tables were empty, and the load measures that instead of the
    server (creates fell from 520/s to 320/s within 24 000 users). Needs psql; without it the
    report says the figures ran without statistics."""

    EVERY = 5.0

    def __init__(self, database_url: str):
        self.url = database_url
        self.stop_flag = threading.Event()
        self.thread: threading.Thread | None = None
        self.runs = 0

    def psql(self, sql: str) -> str | None:
        try:
            done = subprocess.run(["psql", self.url, "-XAtqc", sql], capture_output=True,
                                  text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    def needed(self) -> bool | None:
        """True when autovacuum is off; None when psql cannot tell."""
        setting = self.psql("SHOW autovacuum")
        return None if setting is None else setting == "off"

    def analyze(self) -> None:
        if self.psql("ANALYZE") is not None:
            self.runs += 1

    def start(self) -> None:
        def loop() -> None:
            while not self.stop_flag.wait(self.EVERY):
                self.analyze()
        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()

    def finish(self) -> None:
        """Stops the loop and analyzes once more, as autovacuum would after the load."""
        self.stop_flag.set()
        if self.thread:
            self.thread.join()
        self.analyze()


# ---------------------------------------------------------------------------------------------
# Loading the tenant


def load_users(server: Server, api: Api, wrk: Wrk, token: str, total: int, tag: str,
               workdir: Path) -> WrkResult:
    """Creates `total` users with wrk, which makes the load the POST /Users measurement.

    Each wrk thread stops after its share and leaves a file in `done`, but wrk itself sleeps for
    its whole -d: we interrupt it (wrk reports on SIGINT) once every thread is done. The last
    requests a stopping thread had in flight may never reach the server; a top-up replaces them.
    """
    threads = wrk.args.threads
    done = workdir / "load-done"
    done.mkdir()
    cap = max(120, total // 100)  # a floor of 100 creates/s before we give up on wrk
    process = wrk.start("create_user", token, cap,
                        BENCH_QUOTA=total // threads, BENCH_DONE_DIR=done)
    try:
        while process.poll() is None:
            time.sleep(0.05)
            if len(list(done.iterdir())) == threads:
                process.send_signal(signal.SIGINT)
                break
            server.check_alive()
    except BaseException:
        process.kill()
        raise
    result = wrk.finish(process)
    missing = total - settled_user_count(api)
    if missing > 0:
        log(f"  topping up {missing} users without wrk")
        top_up(server.port, token, missing, tag)
    if (count := user_count(api)) != total:
        raise BenchError(f"the tenant has {count} users, expected {total}")
    return result


def user_count(api: Api) -> int:
    return api.call("GET", "/scim/v2/Users?count=0")["totalResults"]


def settled_user_count(api: Api) -> int:
    """The user count once the creates wrk left in flight have landed."""
    count = user_count(api)
    while True:
        time.sleep(1)
        if (again := user_count(api)) == count:
            return count
        count = again


def top_up(port: int, token: str, missing: int, tag: str) -> None:
    local = threading.local()

    def create(i: int) -> None:
        if not hasattr(local, "api"):
            local.api = Api(port, token)
        name = f"bench-{tag}-topup-{i}@example.com"
        body = user_body(name, f"Topup {i}", f"{tag}-topup-{i}")
        local.api.call("POST", "/scim/v2/Users", body, expect=(201,))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(missing)))


def fetch_users(api: Api, total: int, path: Path) -> list[tuple[str, str]]:
    """Every user's id and userName, in creation order, also written to `path` for scim.lua."""
    users: list[tuple[str, str]] = []
    while len(users) < total:
        page = api.call("GET", f"/scim/v2/Users?startIndex={len(users) + 1}&count=1000"
                               "&attributes=id,userName")
        if not page["Resources"]:
            break
        users += [(r["id"], r["userName"]) for r in page["Resources"]]
    path.write_text("".join(f"{i} {n}\n" for i, n in users))
    return users


@dataclasses.dataclass
class GroupLoad:
    group_id: str
    seconds: float
    patch_p50_ms: float
    patch_max_ms: float
    projection_honoured: bool


def build_group(api: Api, members: list[str]) -> GroupLoad:
    """One group holding `members`, added MEMBERS_PER_PATCH at a time as an IdP's push would."""
    started = time.monotonic()
    body = {"schemas": [GROUP_SCHEMA], "displayName": "Bench big group", "members": []}
    gid = api.call("POST", "/scim/v2/Groups", body, expect=(201,))["id"]
    timings, honoured = [], True
    for i in range(0, len(members), MEMBERS_PER_PATCH):
        add = [{"value": m} for m in members[i:i + MEMBERS_PER_PATCH]]
        body = {"schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "add", "path": "members", "value": add}]}
        t = time.monotonic()
        answer = api.call("PATCH", f"/scim/v2/Groups/{gid}?excludedAttributes=members", body)
        timings.append((time.monotonic() - t) * 1000)
        honoured = honoured and "members" not in answer
    timings.sort()
    return GroupLoad(gid, time.monotonic() - started, timings[len(timings) // 2], timings[-1],
                     honoured)


def members_of_group(api: Api, gid: str) -> tuple[int, float]:
    """The group's member count, and how long the full GET of its members took (ms)."""
    t = time.monotonic()
    group = api.call("GET", f"/scim/v2/Groups/{gid}?attributes=members")
    return len(group.get("members", [])), (time.monotonic() - t) * 1000


def okta_style_patch(api: Api, gid: str, user_id: str) -> tuple[float, int]:
    """Adds and removes one member as Okta does, without excludedAttributes=members, so each
    answer carries the whole group: the mean time (ms) and the size of the answer (bytes)."""
    took, size = 0.0, 0
    for op in ({"op": "add", "path": "members", "value": [{"value": user_id}]},
               {"op": "remove", "path": f'members[value eq "{user_id}"]'}):
        t = time.monotonic()
        answer = api.call("PATCH", f"/scim/v2/Groups/{gid}",
                          {"schemas": [PATCH_SCHEMA], "Operations": [op]})
        took += (time.monotonic() - t) * 1000
        size = len(json.dumps(answer))
    return took / 2, size


def okta_import(port: int, token: str) -> tuple[WrkResult, int, int]:
    """Reads every user as Okta's import does: one client, one keep-alive connection, pages of
    100 from startIndex=1 until totalResults (that of the first page) are read. The timing (as
    a WrkResult: pages, wall time, per-page latency), the first page's totalResults and the
    number of distinct ids read. A failed page is counted and asked again, as Okta retries."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/scim+json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    ids: set[str] = set()
    total: int | None = None
    start, pages, failed, lost = 1, 0, 0, 0
    latencies: list[float] = []
    started = time.monotonic()
    while total is None or start <= total:
        t = time.monotonic()
        try:
            conn.request("GET", f"/scim/v2/Users?startIndex={start}&count=100", headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            lost += 1
            if lost > 10:
                raise
            continue
        latencies.append((time.monotonic() - t) * 1000)
        pages += 1
        if response.status != 200:
            failed += 1
            if failed > 10:
                raise BenchError(f"import: GET startIndex={start} answered {response.status}: "
                                 f"{raw[:300]!r}")
            continue
        page = json.loads(raw)
        if total is None:
            total = page["totalResults"]
        resources = page.get("Resources") or []
        if not resources:
            break
        ids.update(r["id"] for r in resources)
        start += len(resources)
    seconds = time.monotonic() - started
    conn.close()
    result = WrkResult(requests=pages, seconds=seconds, non2xx=failed, socket_errors=lost,
                       p50_ms=percentile(latencies, 0.5), p99_ms=percentile(latencies, 0.99))
    return result, total or 0, len(ids)


def resident_mib(pid: int | None) -> tuple[float, float]:
    """The process's resident memory and its peak (VmRSS, VmHWM), in MiB; NaN if unknown."""
    found = {"VmRSS": float("nan"), "VmHWM": float("nan")}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in found:
                found[key] = int(value.split()[0]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return found["VmRSS"], found["VmHWM"]


# ---------------------------------------------------------------------------------------------
# OAuth: a JWT access token, and refresh tokens, the way Okta gets them


class _Forms(html.parser.HTMLParser):
    """The forms of a page: (action, {input name: value}); attribute values come unescaped."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        elif tag in ("input", "button") and self.forms and "name" in a:
            self.forms[-1][1].setdefault(a["name"], a.get("value", ""))


def forms_of(page: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Each hop is checked (and the last one goes to a redirect URI nobody listens on).
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def client_basic(client_id: str, client_secret: str) -> str:
    """The client's `Authorization: Basic` credentials (RFC 6749 §2.3.1: each part form-encoded)."""
    return base64.b64encode(
        f"{urllib.parse.quote(client_id)}:{urllib.parse.quote(client_secret)}".encode()).decode()


def jwt_access_token(base: str, client_id: str, client_secret: str, password: str) -> str:
    return authorization_code_grant(base, client_id, client_secret, password)["access_token"]


def authorization_code_grant(base: str, client_id: str, client_secret: str,
                             password: str) -> dict[str, Any]:
    """Signs in as the tenant admin, clicks Allow and redeems the code (client_secret_basic):
    the token response of a new grant (its access token and its first refresh token)."""
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect())

    def fetch(path: str, form: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(urllib.parse.urljoin(base, path), data=data,
                                         headers=headers or {})
        try:
            with browser.open(request, timeout=60) as r:
                return r.status, r.read().decode(), r.headers.get("Location", "")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace"), e.headers.get("Location", "")

    def expect(got: tuple[int, str, str], status: int, step: str) -> tuple[int, str, str]:
        if got[0] != status:
            raise BenchError(f"OAuth {step}: expected {status}, got {got[0]}: {got[1][:500]}")
        return got

    state = secrets.token_urlsafe(8)
    query = urllib.parse.urlencode({"response_type": "code", "client_id": client_id,
                                    "redirect_uri": REDIRECT_URI,
                                    "scope": "scim:read scim:write", "state": state})
    _, page, _ = expect(fetch(f"/oauth/authorize?{query}"), 200, "authorize")
    action, fields = forms_of(page)[0]
    login = dict(fields, email=ADMIN_EMAIL, password=password)
    _, _, consent_url = expect(fetch(action, login), 303, "login")
    _, page, _ = expect(fetch(consent_url), 200, "consent page")
    action, fields = forms_of(page)[0]
    allow = {"csrf": fields["csrf"], "decision": "allow"}
    _, _, callback = expect(fetch(action, allow), 303, "allow")
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)
    if params.get("state") != [state] or "code" not in params:
        raise BenchError(f"OAuth callback without code or with a wrong state: {callback}")
    basic = client_basic(client_id, client_secret)
    redeem = {"grant_type": "authorization_code", "code": params["code"][0],
              "redirect_uri": REDIRECT_URI}
    _, body, _ = expect(fetch("/oauth/token", redeem, {"Authorization": f"Basic {basic}"}),
                        200, "token")
    return json.loads(body)


def refresh(base: str, basic: str, refresh_token: str) -> tuple[int, str]:
    """One refresh_token grant (client_secret_basic): the status and the body."""
    form = urllib.parse.urlencode({"grant_type": "refresh_token",
                                   "refresh_token": refresh_token}).encode()
    request = urllib.request.Request(urllib.parse.urljoin(base, "/oauth/token"), data=form,
                                     headers={"Authorization": f"Basic {basic}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


# ---------------------------------------------------------------------------------------------
# Webhook delivery: a receiver on loopback, and writes whose events it times


class Receiver:
    """A webhook receiver: answers 204 at once and notes when each user's user.created came."""

    def __init__(self) -> None:
        import http.server

        arrivals: dict[str, float] = {}
        self.arrivals = arrivals
        self.count = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(204)
                self.end_headers()
                try:
                    event = json.loads(body)
                except ValueError:
                    return
                receiver.count += 1
                name = (event.get("data") or {}).get("user_name")
                if event.get("type") == "user.created" and isinstance(name, str):
                    arrivals.setdefault(name, time.monotonic())

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()


def probe_writes(port: int, token: str, tag: str, stop: threading.Event,
                 sent: dict[str, float]) -> None:
    """POSTs a user every 20 ms until `stop`, noting when each got its 2xx."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    n = 0
    while not stop.is_set():
        name = f"probe-{tag}-{n}@bench.example.com"
        body = json.dumps(user_body(name, f"Probe {n}", f"probe-{tag}-{n}"))
        conn.request("POST", "/scim/v2/Users", body, {"Authorization": f"Bearer {token}",
                                                      "Content-Type": "application/scim+json"})
        response = conn.getresponse()
        response.read()
        if 200 <= response.status < 300:
            sent[name] = time.monotonic()
        n += 1
        time.sleep(0.02)
    conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# ---------------------------------------------------------------------------------------------
# Scenarios, targets and the report


SQLITE, POSTGRES = "SQLite", "PostgreSQL"


@dataclasses.dataclass(frozen=True)
class Target:
    """What a row is judged on, and the bound on each backend (issue 13's targets for 2 cores)."""
    measure: str  # "share": req/s as a fraction of /healthz's; "rate": req/s; "p99": ms;
    #               "seconds": the run's wall time
    sqlite: float
    postgres: float

    def bound(self, backend: str) -> float:
        return self.postgres if backend == POSTGRES else self.sqlite

    def text(self, backend: str) -> str:
        b = self.bound(backend)
        return {"share": f"≥{b:.0%} of /healthz", "rate": f"≥{b:.0f}/s",
                "p99": f"p99 <{b:g} ms", "seconds": f"≤{b:g} s"}[self.measure]

    def met(self, r: WrkResult, ceiling: float, backend: str) -> bool:
        b = self.bound(backend)
        return {"share": lambda: r.rps >= b * ceiling, "rate": lambda: r.rps >= b,
                "p99": lambda: r.p99_ms < b, "seconds": lambda: r.seconds <= b}[self.measure]()


READS = Target("share", 0.30, 0.10)
PAGES = Target("rate", 2000, 1000)
CREATES = Target("rate", 6000, 3000)
MEMBERS = Target("rate", 8000, 3000)
REFRESHES = Target("rate", 3000, 2000)
IMPORT = Target("seconds", 10, 15)
# The 1-connection rows: what one request costs, without the queueing of 32 clients.
LATENCY_LOOKUP = Target("p99", 10, 10)
LATENCY_MEMBERS = Target("p99", 20, 20)
# Independent refresh chains, each on its own grant and its own connection (and wrk thread).
REFRESH_CHAINS = 16


@dataclasses.dataclass
class Scenario:
    name: str  # BENCH_SCENARIO in scim.lua
    label: str
    target: Target | None = None
    env: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Fewer connections than --connections: one connection shows what a request costs without
    # the queueing that 32 concurrent clients on 2 cores add to every latency.
    connections: int | None = None
    threads: int | None = None  # wrk threads, if not --threads


CEILING = Scenario("healthz", "GET /healthz (ceiling)")
STATIC_SCENARIOS = [
    Scenario("get_user", "GET /Users/{id}", READS),
    Scenario("filter_user", 'GET /Users?filter=userName eq "…"', READS),
    Scenario("filter_user", 'GET /Users?filter=userName eq "…", 1 connection', LATENCY_LOOKUP,
             connections=1),
    Scenario("list_users", "GET /Users?startIndex=<random>&count=100", PAGES),
    Scenario("create_user", "POST /Users", CREATES),
    Scenario("deactivate_user", "PATCH /Users/{id} active=false", env={"BENCH_PASS": 0}),
    Scenario("group_member", "PATCH /Groups/{big} add or remove 1 member", MEMBERS),
    Scenario("group_member", "PATCH /Groups/{big} add or remove 1 member, 1 connection",
             LATENCY_MEMBERS, env={"BENCH_PASS": 1}, connections=1),
    Scenario("replace_user", "PUT /Users/{id}"),
]
# The second walk over the users deactivates ones the static pass left alone.
JWT_SCENARIOS = [
    Scenario("get_user", "GET /Users/{id}", READS),
    Scenario("filter_user", 'GET /Users?filter=userName eq "…"', READS),
    Scenario("deactivate_user", "PATCH /Users/{id} active=false", env={"BENCH_PASS": 1}),
]


@dataclasses.dataclass
class Row:
    scenario: str
    auth: str
    result: WrkResult
    target: Target | None = None
    other_cores: float = 0.0  # CPU used by other processes meanwhile (see CpuMeter)


def columns(backend: str) -> list[str]:
    return ["scenario", "auth", "req/s", "p50 ms", "p99 ms", "% of /healthz", "non-2xx",
            f"target (2-core {backend})", "met"]


NUMERIC = {2, 3, 4, 5, 6}


def table_cells(rows: list[Row], backend: str) -> list[list[str]]:
    ceiling = rows[0].result.rps
    cells = []
    for row in rows:
        r = row.result
        errors = f"{r.non2xx}" + (f" (+{r.socket_errors} socket errors)" if r.socket_errors else "")
        met = ("" if row.target is None
               else "yes" if row.target.met(r, ceiling, backend) else "**no**")
        cells.append([row.scenario, row.auth, f"{r.rps:,.0f}", f"{r.p50_ms:.2f}",
                      f"{r.p99_ms:.2f}", f"{100 * r.rps / ceiling:.0f}%", errors,
                      row.target.text(backend) if row.target else "", met])
    return cells


def text_table(rows: list[Row], backend: str) -> str:
    header = columns(backend)
    cells = [header] + [[c.replace("**", "") for c in line] for line in table_cells(rows, backend)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = []
    for n, line in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if i in NUMERIC else c.ljust(w)
                               for i, (c, w) in enumerate(zip(line, widths))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[Row], backend: str) -> str:
    header = columns(backend)
    align = ["---:" if i in NUMERIC else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for line in table_cells(rows, backend):
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in line) + " |")
    return "\n".join(lines)


def machine() -> str:
    model, ram = "unknown CPU", "unknown RAM"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), {ram}, Linux {platform.release()}"


def filesystem_of(path: Path) -> str:
    """The type of the filesystem holding `path` (SQLite on tmpfs would flatter the writes)."""
    best, kind = Path("/"), "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            mount, fstype = line.split()[1:3]
            if path.is_relative_to(mount) and len(mount) >= len(str(best)):
                best, kind = Path(mount), fstype
    except OSError:
        pass
    return kind


def database_url(given: str | None, workdir: Path) -> str:
    """The URL to benchmark on; a relative SQLite path is made absolute, because the server
    runs in `workdir`."""
    if not given:
        return f"sqlite://{workdir / 'bench.db'}"
    if given.startswith(("postgres://", "postgresql://")):
        return given
    return f"sqlite://{sqlite_path(given)}"


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite://").removeprefix("sqlite:")).resolve()


def describe_database(url: str) -> str:
    if url.startswith(("postgres://", "postgresql://")):
        parts = urllib.parse.urlsplit(url)
        return f"PostgreSQL at {parts.hostname}:{parts.port or 5432}{parts.path}"
    return f"SQLite (embedded), file on {filesystem_of(sqlite_path(url).parent)}"


def version_of(binary: Path) -> str:
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    return version.stdout.strip() + (f" ({commit})" if commit else "")


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return (out.stdout or out.stderr).split(" [", 1)[0].strip() or "wrk"


# ---------------------------------------------------------------------------------------------
# The run


class Bench:
    """One run: set up the tenant, load it, measure every scenario, report."""

    def __init__(self, args: argparse.Namespace, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.database_url = database_url(args.database_url, workdir)
        self.server = Server(args.binary, self.database_url, workdir)
        self.meter = CpuMeter()
        self.tag = secrets.token_hex(3)
        self.backend = POSTGRES if self.database_url.startswith(("postgres://",
                                                                 "postgresql://")) else SQLITE
        if self.backend == POSTGRES:
            parts = urllib.parse.urlsplit(self.database_url)
            if (parts.hostname or "localhost") in ("localhost", "127.0.0.1", "::1"):
                self.meter.postgres_database = urllib.parse.unquote(parts.path.lstrip("/"))
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.rss_started = float("nan")

    def run(self) -> int:
        """Runs everything; the number of requests that failed (non-2xx or socket errors)."""
        time.sleep(1)  # for the CPU meter
        busy_before = self.meter.other_cores()
        if busy_before > DISTURBED:
            log(f"WARNING: other processes are using {busy_before:.1f} CPU cores: "
                "they will skew the figures")
        log(f"setting up tenant '{TENANT}' on {describe_database(self.database_url)}")
        token, password, client = self.set_up_tenant()
        try:
            self.server.start()
            self.meter.server_pid = self.server.pid
            self.rss_started = resident_mib(self.server.pid)[0]
            self.measure_all(token, password, client)
        finally:
            self.server.stop()
        self.report(busy_before)
        return sum(row.result.non2xx + row.result.socket_errors for row in self.rows)

    def set_up_tenant(self) -> tuple[str, str, dict[str, str]]:
        """The tenant, its static token, an admin who can consent and an OAuth client."""
        cli = self.server.cli
        cli("migrate")
        if cli("tenant", "list")["tenants"]:
            raise BenchError("the database already holds tenants; "
                             "point --database-url at an empty database")
        cli("tenant", "create", TENANT, "--name", "Bench")
        token = cli("token", "issue", "--tenant", TENANT, "--label", "bench")["token"]
        password = secrets.token_urlsafe(18)
        cli("admin", "create", "--tenant", TENANT, "--email", ADMIN_EMAIL, "--password-stdin",
            stdin=password + "\n")
        client = cli("client", "create", "--name", "Bench", "--redirect-uri", REDIRECT_URI)
        return token, password, client

    def measure_all(self, token: str, password: str, client: dict[str, str]) -> None:
        args, server = self.args, self.server
        api = Api(server.port, token)
        wrk = Wrk(args, server.port, self.tag, self.workdir)
        started = time.monotonic()

        autovacuum = None
        if self.backend == POSTGRES:
            autovacuum = StandInAutovacuum(self.database_url)
            match autovacuum.needed():
                case True:
                    log(f"  autovacuum is off: ANALYZE every {autovacuum.EVERY:.0f} s "
                        "while loading, once after")
                    autovacuum.start()
                case None:
                    self.notes.append("**PostgreSQL's autovacuum setting could not be read "
                                      "(no psql): if it is off, no table was analyzed.**")
                    autovacuum = None
                case False:
                    autovacuum = None
        log(f"creating {args.users:,} users with wrk (the POST /Users load measurement)")
        self.meter.start()
        loaded = load_users(server, api, wrk, token, args.users, self.tag, self.workdir)
        self.record(f"POST /Users (load, 0→{args.users:,} users)", "static", loaded, CREATES)
        users_file = self.workdir / "users.txt"
        t = time.monotonic()
        users = fetch_users(api, args.users, users_file)
        fetch_seconds = time.monotonic() - t
        log(f"  read back {len(users):,} ids in {fetch_seconds:.1f} s")

        log(f"building a group of {args.group_size:,} members, {MEMBERS_PER_PATCH} per PATCH")
        group = build_group(api, [uid for uid, _ in users[:args.group_size]])
        if (size := members_of_group(api, group.group_id)[0]) != args.group_size:
            raise BenchError(f"the group has {size} members, expected {args.group_size}")
        log(f"  done in {group.seconds:.1f} s (PATCH of {MEMBERS_PER_PATCH}: p50 "
            f"{group.patch_p50_ms:.0f} ms, max {group.patch_max_ms:.0f} ms)")
        if not group.projection_honoured:
            log("  WARNING: PATCH ignored excludedAttributes=members: answers carry the group")
        if autovacuum:
            autovacuum.finish()
            self.notes.append(f"PostgreSQL's autovacuum is off on this server: the bench ran "
                              f"ANALYZE every {autovacuum.EVERY:.0f} s during the load and once "
                              f"after it ({autovacuum.runs} runs), standing in for it.")
        load_seconds = time.monotonic() - started
        rss_loaded = resident_mib(server.pid)[0]
        log(f"  server resident memory {rss_loaded:.0f} MiB")

        started = time.monotonic()
        wrk.scenario_env = {"BENCH_USER_FILE": str(users_file),
                            "BENCH_MEMBERS": str(args.group_size),
                            "BENCH_GROUP_ID": group.group_id}
        self.measure(wrk, CEILING, "none", None)
        self.rows.insert(0, self.rows.pop())  # the ceiling leads the table; the load ran first
        for scenario in STATIC_SCENARIOS:
            self.measure(wrk, scenario, "static", token)
        self.measure_webhooks(wrk, token)
        jwt = jwt_access_token(f"http://127.0.0.1:{server.port}", client["client_id"],
                               client["client_secret"], password)
        for scenario in JWT_SCENARIOS:
            self.measure(wrk, scenario, "JWT", jwt)
        self.measure_refresh(wrk, client, password)
        self.measure_import(token)
        scenarios_seconds = time.monotonic() - started

        final_size, full_get_ms = members_of_group(api, group.group_id)
        okta_ms, okta_bytes = okta_style_patch(api, group.group_id, users[-1][0])
        rss_end, rss_peak = resident_mib(server.pid)
        self.notes[:0] = [
            f"Load: {args.users:,} users created by wrk in {loaded.seconds:.0f} s, their ids "
            f"read back in pages of 1000 ({fetch_seconds:.1f} s), then {args.group_size:,} "
            f"members added {MEMBERS_PER_PATCH} per PATCH in {group.seconds:.1f} s (p50 "
            f"{group.patch_p50_ms:.0f} ms, max {group.patch_max_ms:.0f} ms per PATCH): "
            f"{load_seconds:.0f} s in all.",
            f"Scenarios: {scenarios_seconds:.0f} s. Afterwards the tenant had "
            f"{user_count(api):,} users and the big group {final_size:,} members (the "
            f"membership scenario's last adds stay); GET of the group with all its members took "
            f"{full_get_ms:.0f} ms, and a one-member PATCH as Okta sends it (without "
            f"excludedAttributes, so the answer is the whole group, {okta_bytes / 1e6:.1f} MB) "
            f"{okta_ms:.0f} ms.",
            "PATCH on the group honoured excludedAttributes=members." if group.projection_honoured
            else "**PATCH on the group ignored excludedAttributes=members: each answer carried "
                 "the whole group.**",
            f"Server memory (VmRSS): {self.rss_started:.0f} MiB once started, {rss_loaded:.0f} MiB "
            f"after the load (users and group), {rss_end:.0f} MiB after the whole bench; peak "
            f"(VmHWM) {rss_peak:.0f} MiB.",
        ]

    def measure_webhooks(self, wrk: Wrk, token: str) -> None:
        """POST /Users again with a webhook endpoint subscribed to every user event, while a
        probe writer times how long its users' events take from the SCIM 2xx to the receiver."""
        receiver = Receiver()
        try:
            self.server.cli("webhook", "create", "--url",
                            f"http://127.0.0.1:{receiver.port}/hook", "--tenant", TENANT,
                            "--events", "user.*")
            scenario = Scenario("create_user", "POST /Users, webhook endpoint subscribed", CREATES)
            sent: dict[str, float] = {}
            stop = threading.Event()
            probe = threading.Thread(target=probe_writes,
                                     args=(self.server.port, token, self.tag, stop, sent))
            probe.start()
            self.measure(wrk, scenario, "static", token)
            stop.set()
            probe.join()
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and any(n not in receiver.arrivals for n in sent):
                time.sleep(0.2)
            lags = [(receiver.arrivals[n] - t) * 1000 for n, t in sent.items()
                    if n in receiver.arrivals]
            missing = len(sent) - len(lags)
            without = next((r for r in self.rows if r.scenario == "POST /Users"), None)
            with_hooks = self.rows[-1]
            ratio = (f"{100 * with_hooks.result.rps / without.result.rps:.0f}% of the run "
                     "without an endpoint") if without and without.result.rps else ""
            self.notes.append(
                f"Webhooks: with an endpoint subscribed to user.* (a loopback receiver answering "
                f"204), POST /Users ran at {with_hooks.result.rps:,.0f}/s ({ratio}). End-to-end "
                f"lag from the SCIM 2xx to the receiver for {len(lags)} probe users written "
                f"during that load: p50 {percentile(lags, 0.5):.0f} ms, p99 "
                f"{percentile(lags, 0.99):.0f} ms"
                + (f"; **{missing} never arrived within 180 s**" if missing else "")
                + f"; {receiver.count:,} deliveries in all.")
        finally:
            receiver.stop()

    def measure_refresh(self, wrk: Wrk, client: dict[str, str], password: str) -> None:
        """REFRESH_CHAINS refresh chains at once, each its own grant (its own consent) on its own
        connection: a chain presents the refresh token its previous answer returned, as one
        provisioning client does. Afterwards each chain's last token must refresh once more: a
        chain broken by reuse detection would have its grant revoked."""
        base = f"http://127.0.0.1:{self.server.port}"
        log(f"consenting {REFRESH_CHAINS} grants for the refresh chains")
        tokens = []
        for _ in range(REFRESH_CHAINS):
            answer = authorization_code_grant(base, client["client_id"], client["client_secret"],
                                              password)
            if "refresh_token" not in answer:
                raise BenchError(f"the code grant returned no refresh token: {sorted(answer)}")
            tokens.append(answer["refresh_token"])
        basic = client_basic(client["client_id"], client["client_secret"])
        scenario = Scenario(
            "refresh_token",
            f"POST /oauth/token grant_type=refresh_token, {REFRESH_CHAINS} chains "
            f"(-t{REFRESH_CHAINS} -c{REFRESH_CHAINS})",
            REFRESHES, env={"BENCH_REFRESH_TOKENS": " ".join(tokens),
                            "BENCH_CLIENT_BASIC": basic},
            connections=REFRESH_CHAINS, threads=REFRESH_CHAINS)
        self.measure(wrk, scenario, "client Basic", None)
        result = self.rows[-1].result
        moved = [chain["refreshed"] for chain in result.chains]
        if len(moved) != REFRESH_CHAINS:
            raise BenchError(f"wrk reported {len(moved)} refresh chains, not {REFRESH_CHAINS}")
        broken = []
        for n, chain in enumerate(result.chains):
            status, body = refresh(base, basic, chain["token"])
            if status != 200:
                broken.append(f"chain {n}: {status} {body[:200]}")
        answered = result.requests - result.non2xx
        note = (f"Refresh chains: {REFRESH_CHAINS} grants, one connection and one wrk thread "
                f"each, {min(moved):,}–{max(moved):,} refreshes per chain "
                f"({sum(moved):,} in all); each chain's last refresh token was refreshed once more "
                f"afterwards: {REFRESH_CHAINS - len(broken)} of {REFRESH_CHAINS} answered 200.")
        if sum(moved) != answered:
            note += (f" **{answered - sum(moved)} of the {answered:,} 2xx answers carried no "
                     "refresh token.**")
        if broken:
            note += " **Broken: " + "; ".join(broken[:3]) + ".**"
        log(f"  {note.replace('**', '')}")
        self.notes.append(note)

    def measure_import(self, token: str) -> None:
        """Okta's full import: one client reads every user, 100 per page."""
        log("Okta full import: one connection pages all users, count=100 (static)")
        self.meter.start()
        result, total, distinct = okta_import(self.server.port, token)
        self.server.check_alive()
        label = (f"Okta full import (count=100, 1 connection): {total:,} users in "
                 f"{result.seconds:.1f} s")
        self.record(label, "static", result, IMPORT)
        log(f"  {total:,} users, {result.requests:,} pages in {result.seconds:.1f} s; "
            f"{distinct:,} distinct ids")
        if distinct != total:
            self.notes.append(f"**Okta full import: {distinct:,} distinct ids read, but "
                              f"totalResults was {total:,}.**")
        else:
            self.notes.append(f"Okta full import: {result.requests:,} pages in "
                              f"{result.seconds:.1f} s ({result.rps:,.0f} pages/s), "
                              f"{distinct:,} distinct ids, as many as totalResults.")

    def measure(self, wrk: Wrk, scenario: Scenario, auth: str, bearer: str | None) -> None:
        log(f"{scenario.label} ({auth}), {self.args.duration} s")
        self.meter.start()
        result = wrk.run(scenario.name, bearer, scenario.connections, scenario.threads,
                         **scenario.env)
        self.server.check_alive()
        self.record(scenario.label, auth, result, scenario.target)

    def record(self, label: str, auth: str, result: WrkResult, target: Target | None) -> None:
        """Adds a row, and notes on why requests failed, the server complained or others ran."""
        other = self.meter.other_cores()
        self.rows.append(Row(label, auth, result, target, other))
        log(f"  {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
            f"non-2xx {result.non2xx}, socket errors {result.socket_errors}")
        found = []
        if other > DISTURBED:
            found.append(f"other processes used {other:.1f} CPU cores meanwhile: figures are low")
        if result.error_responses:
            counts = collections.Counter(result.error_responses).most_common(3)
            found.append("non-2xx responses: "
                         + "; ".join(f"{n}× {text[:200]}" for text, n in counts))
        elif result.non2xx and not self.args.log_errors:
            found.append(f"{result.non2xx} non-2xx responses; run with --log-errors to see them")
        if problems := self.server.problems():
            # Distinct messages, without their timestamps: a startup warning must not hide the
            # others.
            distinct = list(dict.fromkeys(line.split(None, 1)[-1][:250] for line in problems))
            found.append(f"the server logged {len(problems)} warnings or errors: "
                         + " | ".join(distinct[:3])
                         + (f" | and {len(distinct) - 3} more" if len(distinct) > 3 else ""))
        for finding in found:
            log(f"  {finding}")
            self.notes.append(f"**{label} ({auth}): {finding}.**")

    def report(self, busy_before: float) -> None:
        args = self.args
        settings = ", ".join(f"{k}={os.environ[k]}" for k in PASSED_SETTINGS if k in os.environ)
        header = [
            f"{datetime.date.today().isoformat()}: {version_of(args.binary)}, release build",
            f"Machine: {machine()}; other processes used {busy_before:.1f} CPU cores before the "
            f"run and up to {max(row.other_cores for row in self.rows):.1f} during a measurement",
            f"Database: {describe_database(self.database_url)}; "
            + (f"server settings {settings}" if settings else "default server settings")
            + "; rate limits off",
            f"Load: {wrk_version()} -t{args.threads} -c{args.connections} (unless the row says "
            f"otherwise), {args.duration} s per scenario, on the same machine; {args.users:,} "
            f"users, one group of {args.group_size:,} members",
            f"Targets: issue 13's for {self.backend} on 2 cores",
        ]
        print()
        print("\n".join(header))
        print()
        print(text_table(self.rows, self.backend))
        print()
        print("\n".join(n.replace("**", "") for n in self.notes))
        markdown = [f"## {header[0]}", "", *(f"- {line}" for line in header[1:]), "",
                    markdown_table(self.rows, self.backend), "", *(f"- {n}" for n in self.notes), ""]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(markdown))
        log(f"wrote {args.out}; total {time.monotonic() - STARTED:.0f} s")


def main() -> int:
    args = parse_args()
    if not args.binary.is_file():
        print(f"bench: {args.binary} does not exist; build it with "
              "`cargo build --release --bin scimd` (make bench does)", file=sys.stderr)
        return 1
    if not shutil.which("wrk"):
        print("bench: wrk is not installed (apt install wrk)", file=sys.stderr)
        return 1
    # make and service managers stop with SIGTERM: unwind like Ctrl-C so the server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="scimd-bench-"))
    try:
        if failed := Bench(args, workdir).run():
            # The figures are printed all the same, but a run with failures is not a result.
            print(f"bench: {failed} requests failed; see the notes", file=sys.stderr)
            return 2
        return 0
    except (BenchError, OSError) as e:  # OSError: mostly the server going away under us
        print(f"bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
