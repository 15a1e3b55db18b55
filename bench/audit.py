#!/usr/bin/env python3
"""The audit-log benchmark, run by `make bench-audit` after a release build.

Does the console's audit page stay fast at a million events? This creates a fresh database (a
SQLite file in a temporary directory; with --postgres also a fresh PostgreSQL database, dropped
afterwards), runs `scimd migrate`, creates 20 tenants and an operator with the CLI, then inserts
--events audit events directly (SQLite: one executemany in one transaction; PostgreSQL: COPY
through psql): token and SCIM-auth events make ~60 %, tenant.disabled and token.reuse_detected
~0.01 % each, over 90 days up to now, with UUIDv7 ids, a few thousand grants and the actors the
server writes (admin:<uuid>, client:<id>, operator:<uuid>, anonymous). Then it starts the release
server, signs in to the console as the operator and times each shape of GET /admin/audit (median
and p95 of --runs requests, one at a time, wall clock from this script), walks 100 pages deep
through the "Older" links, times a page near the oldest end with a cursor read from the database,
and exports one tenant as JSON lines. Each shape's query is shown with EXPLAIN QUERY PLAN (SQLite)
or EXPLAIN ANALYZE (PostgreSQL), and timed alone in the database ("query ms").

The server reads the database with its own bundled SQLite; the plans and "query ms" on SQLite
come from Python's sqlite3 module (its version is printed), which plans these queries the same way.
Nothing runs ANALYZE on SQLite (the server never does, so neither does this); on PostgreSQL the
load is followed by VACUUM ANALYZE, which autovacuum would do within a minute of such an insert.

Needs Python 3.11 (standard library only) and, for --postgres, psql.

Knobs (flags, or the environment for `make bench-audit`):
  --events       BENCH_AUDIT_EVENTS   events to insert (1000000)
  --runs         BENCH_AUDIT_RUNS     timed requests per page shape (20)
  --postgres     BENCH_POSTGRES=1     also run on a fresh PostgreSQL database at --pg-url
  --pg-url       BENCH_PG_URL         PostgreSQL server (postgres://postgres@127.0.0.1); the
                                      database is created there and dropped afterwards
  --no-sqlite                         skip the SQLite run
  --seed         BENCH_SEED           random seed of the generated events (1)
  --out          BENCH_AUDIT_OUT      Markdown report (bench/last-audit-run.md)
The server runs with the built-in defaults (SCIMD_* variables and ./scimd.toml are ignored, except
SCIMD_WORKERS and SCIMD_DB_POOL_SIZE), plus SCIMD_RATE_LIMIT_LOGIN_PER_IP=0.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import html
import http.cookiejar
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator

# The SCIM benchmark's server wrapper, CPU meter and helpers (bench/ is this script's directory).
from run import (DISTURBED, BenchError, CpuMeter, Server, _NoRedirect, filesystem_of, forms_of,
                 log, machine, version_of)

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent

TENANTS = 20
OPERATOR_EMAIL = "ops@bench.test"
PAGE_SIZE = 100  # src/http/console/audit.rs
EXPORT_BATCH = 2_000
DEEP_PAGES = 100
DAY_MS = 86_400_000
SPAN_DAYS = 90
COLUMNS = ("id", "at", "tenant_id", "event", "actor", "client_id", "grant_id", "ip", "detail")

# Relative frequencies. The three token/SCIM-auth events make ~60 %; the two rare ones that a
# security review looks for first make ~0.01 % each.
COMMON_EVENT = "token.refreshed"
RARE_EVENT = "token.reuse_detected"
EVENT_WEIGHTS = {
    "token.refreshed": 30.0,
    "scim.auth_failed": 18.0,
    "token.issued": 12.0,
    "code.issued": 5.0,
    "code.redeemed": 5.0,
    "login.succeeded": 5.0,
    "consent.granted": 4.0,
    "login.failed": 4.0,
    "login.logout": 3.0,
    "client.auth_failed": 3.0,
    "token.refresh_retried": 2.0,
    "token.refresh_rejected": 2.0,
    "grant.revoked": 1.5,
    "static_token.issued": 1.5,
    "static_token.revoked": 1.0,
    "consent.denied": 0.5,
    "code.rejected": 0.5,
    "admin.created": 0.5,
    "admin.password_reset": 0.3,
    "code.reused": 0.1,
    "client.created": 0.02,
    "key.rotated": 0.01,
    "tenant.enabled": 0.01,
    "tenant.disabled": 0.01,
    "token.reuse_detected": 0.01,
}
GRANT_EVENTS = {"token.refreshed", "token.issued", "code.issued", "code.redeemed",
                "consent.granted", "token.refresh_retried", "token.refresh_rejected",
                "grant.revoked", "code.rejected", "code.reused", "token.reuse_detected"}
CLIENT_ACTOR_EVENTS = {"token.refreshed", "token.issued", "code.redeemed",
                       "token.refresh_retried", "token.refresh_rejected", "code.rejected",
                       "code.reused", "token.reuse_detected"}
ADMIN_ACTOR_EVENTS = {"code.issued", "consent.granted", "consent.denied", "login.succeeded",
                      "login.logout"}
OPERATOR_EVENTS = {"static_token.issued", "static_token.revoked", "admin.created",
                   "admin.password_reset", "tenant.enabled", "tenant.disabled", "client.created",
                   "key.rotated"}
UNTENANTED = {"client.auth_failed", "client.created", "key.rotated"}
# Tenants get events in proportion to 1/rank^0.8: the biggest ~20 %, the smallest ~2 %.
TENANT_SKEW = 0.8
GRANTS = 3_000
CLIENTS = 8
ADMINS_PER_TENANT = 15
OPERATORS = 4


# ---------------------------------------------------------------------------------------------
# Options


def parse_args() -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(
        description="Load a million audit events and time the console's audit page shapes.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Knobs" + __doc__.split("Knobs", 1)[1],
    )
    p.add_argument("--events", type=int, default=int(env("BENCH_AUDIT_EVENTS", "1000000")))
    p.add_argument("--runs", type=int, default=int(env("BENCH_AUDIT_RUNS", "20")))
    p.add_argument("--postgres", action="store_true", default=env("BENCH_POSTGRES", "") == "1")
    p.add_argument("--pg-url", default=env("BENCH_PG_URL", "postgres://postgres@127.0.0.1"))
    p.add_argument("--no-sqlite", action="store_true")
    p.add_argument("--seed", type=int, default=int(env("BENCH_SEED", "1")))
    p.add_argument("--out", type=Path,
                   default=Path(env("BENCH_AUDIT_OUT", str(BENCH_DIR / "last-audit-run.md"))))
    p.add_argument("--binary", type=Path, default=default_binary(),
                   help="the scimd binary (default: the release build)")
    args = p.parse_args()
    args.binary = args.binary.resolve()  # the server runs in a temporary directory
    if args.events < 100 * (DEEP_PAGES + 1) or args.runs < 1:
        p.error(f"need at least {100 * (DEEP_PAGES + 1)} events and one run")
    if args.no_sqlite and not args.postgres:
        p.error("--no-sqlite leaves nothing to do without --postgres")
    return args


def default_binary() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR")
    return (Path(target) if target else REPO / "target") / "release" / "scimd"


# ---------------------------------------------------------------------------------------------
# The events


def uuid7(at: int, rng: random.Random) -> str:
    """A UUIDv7: the millisecond timestamp in the first 48 bits, so ids sort by time."""
    a, b = rng.getrandbits(12), rng.getrandbits(62)
    return (f"{at >> 16:08x}-{at & 0xFFFF:04x}-7{a:03x}-"
            f"{0x8000 | (b >> 48):04x}-{b & 0xFFFF_FFFF_FFFF:012x}")


@dataclasses.dataclass
class World:
    """Who the events are about: tenants, their admins and grants, clients, operators."""
    tenant_ids: list[str]
    tenant_weights: list[float]
    admins: list[list[str]]  # per tenant
    grants: list[list[tuple[str, str, str]]]  # per tenant: (grant id, client id, admin id)
    clients: list[str]
    operators: list[str]
    ips: list[str]


def make_world(tenant_ids: list[str], seed: int) -> World:
    rng = random.Random(seed)
    weights = [1 / (rank + 1) ** TENANT_SKEW for rank in range(len(tenant_ids))]
    admins = [[str(uuid_from(rng)) for _ in range(ADMINS_PER_TENANT)] for _ in tenant_ids]
    clients = [f"scimd_ci_{secrets_like(rng, 22)}" for _ in range(CLIENTS)]
    grants: list[list[tuple[str, str, str]]] = [[] for _ in tenant_ids]
    for _ in range(GRANTS):
        t = rng.choices(range(len(tenant_ids)), weights)[0]
        grants[t].append((str(uuid_from(rng)), rng.choice(clients), rng.choice(admins[t])))
    for t, own in enumerate(grants):  # every tenant has at least one grant
        if not own:
            own.append((str(uuid_from(rng)), rng.choice(clients), rng.choice(admins[t])))
    operators = [str(uuid_from(rng)) for _ in range(OPERATORS)]
    ips = [f"203.0.113.{i}" for i in range(1, 255)] + [f"198.51.100.{i}" for i in range(1, 255)]
    return World(tenant_ids, weights, admins, grants, clients, operators, ips)


def uuid_from(rng: random.Random) -> str:
    """A UUIDv7-shaped id for an admin, grant or operator created some time ago."""
    return uuid7(rng.randrange(1_700_000_000_000, 1_790_000_000_000), rng)


def secrets_like(rng: random.Random, n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(n))


def events(world: World, total: int, now: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """`total` rows of audit_events in time order over the SPAN_DAYS before `now`, the same for
    the same seed and world. One event in twenty shares its millisecond with the previous one (a
    reuse detection and the revocation it causes are written together), so paging meets ties."""
    rng = random.Random(seed + 1)
    start = now - SPAN_DAYS * DAY_MS
    stamps = sorted(rng.randrange(start, now) for _ in range(total))
    for i in range(1, total):
        if rng.random() < 0.05:
            stamps[i] = stamps[i - 1]
    kinds = rng.choices(list(EVENT_WEIGHTS), list(EVENT_WEIGHTS.values()), k=total)
    tenants = rng.choices(range(len(world.tenant_ids)), world.tenant_weights, k=total)
    for at, kind, t in zip(stamps, kinds, tenants):
        tenant: str | None = world.tenant_ids[t]
        client = grant = None
        ip: str | None = rng.choice(world.ips)
        if kind in GRANT_EVENTS:
            grant, client, admin = rng.choice(world.grants[t])
        else:
            admin = rng.choice(world.admins[t])
        if kind in CLIENT_ACTOR_EVENTS:
            actor = f"client:{client}"
            detail = (f'{{"jti":"{rng.getrandbits(64):016x}","access_expires_at":{at + 3_600_000},'
                      f'"refresh_token_id":"{uuid7(at, rng)}"}}')
        elif kind in ADMIN_ACTOR_EVENTS:
            actor, detail = f"admin:{admin}", "{}"
        elif kind in OPERATOR_EVENTS:
            actor, detail, ip = f"operator:{rng.choice(world.operators)}", "{}", None
        elif kind == "grant.revoked":
            actor, detail = f"admin:{admin}", '{"reason":"revoked by an admin"}'
        elif kind == "client.auth_failed":
            actor = f"client:{rng.choice(world.clients)}"
            detail = '{"reason":"invalid client secret"}'
        elif kind == "login.failed":
            actor, detail = "anonymous", '{"reason":"incorrect password"}'
        else:  # scim.auth_failed
            actor = "anonymous"
            detail = '{"reason":"the token is invalid","path":"/scim/v2/Users"}'
            if rng.random() < 0.1:
                tenant = None  # the token named no tenant we know
        if kind in UNTENANTED:
            tenant = None
        yield (uuid7(at, rng), at, tenant, kind, actor, client, grant, ip, detail)


# ---------------------------------------------------------------------------------------------
# The databases


def pg_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def bind(sql: str, params: list[Any]) -> str:
    """`?` placeholders replaced by PostgreSQL literals (for psql, which takes no parameters)."""
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        raise BenchError(f"{len(params)} parameters for {len(parts) - 1} placeholders: {sql}")
    return "".join(p + (pg_literal(v) if i < len(params) else "")
                   for i, (p, v) in enumerate(zip(parts, params + [None])))


class Sqlite:
    name = "SQLite"

    def __init__(self, path: Path):
        self.path = path
        self.url = f"sqlite://{path}"
        self.conn: sqlite3.Connection | None = None

    def connect(self) -> sqlite3.Connection:
        if self.conn is None:
            self.conn = sqlite3.connect(self.path, isolation_level=None)
            self.conn.execute("PRAGMA case_sensitive_like = ON")
        return self.conn

    def describe(self) -> str:
        return (f"a fresh file on {filesystem_of(self.path.parent)} (plans and query ms from "
                f"Python's sqlite3 {sqlite3.sqlite_version})")

    def load(self, rows: Iterator[tuple[Any, ...]]) -> None:
        conn = self.connect()
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB, for this connection's load only
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO audit_events ({', '.join(COLUMNS)}) "
                         f"VALUES ({', '.join('?' * len(COLUMNS))})", rows)
        conn.execute("COMMIT")
        conn.execute("PRAGMA cache_size = -2000")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def size(self) -> int:
        return self.path.stat().st_size

    def query(self, sql: str, params: list[Any] = ()) -> list[tuple[Any, ...]]:
        return self.connect().execute(sql, list(params)).fetchall()

    def plan(self, sql: str, params: list[Any]) -> list[str]:
        rows = self.query("EXPLAIN QUERY PLAN " + sql, params)
        depth = {0: 0}
        out = []
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, 0) + 1
            out.append("  " * (depth[node] - 1) + detail)
        return out

    def time_query(self, sql: str, params: list[Any], runs: int = 7) -> float:
        """Median ms of the query alone, rows fetched."""
        conn = self.connect()
        conn.execute(sql, list(params)).fetchall()
        took = []
        for _ in range(runs):
            t = time.perf_counter()
            conn.execute(sql, list(params)).fetchall()
            took.append((time.perf_counter() - t) * 1000)
        return statistics.median(took)

    def close(self) -> None:
        if self.conn:
            self.conn.close()
            self.conn = None


class Postgres:
    name = "PostgreSQL"

    def __init__(self, server_url: str):
        parts = urllib.parse.urlsplit(server_url)
        self.dbname = f"scimd_auditbench_{os.getpid()}_{secrets.token_hex(2)}"
        self.admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
        self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.dbname}"))
        self.created = False
        self.server_version = ""

    def psql(self, sql: str, url: str | None = None, stdin: Any = None) -> str:
        cmd = ["psql", url or self.url, "-X", "-q", "-A", "-t", "-F", "\t",
               "-v", "ON_ERROR_STOP=1", "-c", sql]
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"psql: {done.stderr.strip()}")
        return done.stdout

    def create(self) -> None:
        self.psql(f"CREATE DATABASE {self.dbname}", self.admin_url)
        self.created = True
        self.server_version = self.psql("SHOW server_version").strip()

    def drop(self) -> None:
        if self.created:
            self.psql(f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)", self.admin_url)
            self.created = False

    def describe(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        return (f"version {self.server_version.split()[0]} at "
                f"{parts.hostname}:{parts.port or 5432}, a fresh database")

    def load(self, rows: Iterator[tuple[Any, ...]]) -> None:
        def line(row: tuple[Any, ...]) -> str:
            # COPY's text format: tabs between fields, \N for NULL; no field holds a tab,
            # newline or backslash.
            return "\t".join("\\N" if v is None else str(v) for v in row) + "\n"

        cmd = ["psql", self.url, "-X", "-q", "-v", "ON_ERROR_STOP=1",
               "-c", f"COPY audit_events ({', '.join(COLUMNS)}) FROM STDIN"]
        with tempfile.TemporaryFile("w+") as err:
            process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       stderr=err, text=True)
            assert process.stdin
            try:
                batch: list[str] = []
                for row in rows:
                    batch.append(line(row))
                    if len(batch) == 10_000:
                        process.stdin.write("".join(batch))
                        batch.clear()
                process.stdin.write("".join(batch))
                process.stdin.close()
            except BrokenPipeError:
                pass  # psql stopped: its message says why
            except BaseException:
                process.kill()
                raise
            if process.wait() != 0:
                err.seek(0)
                raise BenchError(f"psql COPY: {err.read().strip()}")
        # What autovacuum does soon after a bulk insert: statistics, and the visibility map that
        # index-only scans need.
        self.psql("VACUUM ANALYZE audit_events")

    def size(self) -> int:
        return int(self.psql("SELECT pg_total_relation_size('audit_events')").strip())

    def query(self, sql: str, params: list[Any] = ()) -> list[tuple[Any, ...]]:
        out = self.psql(bind(sql, list(params)))
        rows = []
        for line in out.splitlines():
            rows.append(tuple(int(v) if re.fullmatch(r"-?\d+", v) else v
                              for v in line.split("\t")))
        return rows

    def plan(self, sql: str, params: list[Any]) -> list[str]:
        out = self.psql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + bind(sql, list(params)))
        return [line for line in out.splitlines() if line.strip()]

    def time_query(self, sql: str, params: list[Any], runs: int = 7) -> float:
        """Median server-side execution time (ms) of the query alone, from EXPLAIN ANALYZE
        without per-node timing."""
        statement = "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) " + bind(sql, list(params)) + ";"
        out = self.psql(statement * (runs + 1))
        took = [float(m) for m in re.findall(r"Execution Time: ([\d.]+) ms", out)][1:]
        return statistics.median(took) if took else math.nan

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# The query, as src/db/repo/audit.rs builds it (diesel's SQL, give or take parentheses)


@dataclasses.dataclass
class Filter:
    tenant_id: str | None = None
    event: str | None = None
    actor: str | None = None
    grant_id: str | None = None
    since: int | None = None
    until: int | None = None


def page_sql(f: Filter, cursor: tuple[int, str] | None, newest_first: bool,
             limit: int) -> tuple[str, list[Any]]:
    where, params = [], []
    for column, value in (("tenant_id", f.tenant_id), ("event", f.event), ("actor", f.actor),
                          ("grant_id", f.grant_id)):
        if value is not None:
            where.append(f"audit_events.{column} = ?")
            params.append(value)
    if f.since is not None:
        where.append("audit_events.at >= ?")
        params.append(f.since)
    if f.until is not None:
        where.append("audit_events.at < ?")
        params.append(f.until)
    op, order = ("<", "DESC") if newest_first else (">", "ASC")
    if cursor:
        # Mirrors repo::audit::page: strictly before (or after) the key (at, id), as a bound
        # on `at` the indexes can range-scan and the tie within that millisecond broken by id.
        where.append(f"audit_events.at {op}= ? AND (audit_events.at {op} ? "
                     f"OR audit_events.id {op} ?)")
        params += [cursor[0], cursor[0], cursor[1]]
    sql = (f"SELECT {', '.join('audit_events.' + c for c in COLUMNS)} FROM audit_events"
           + (" WHERE " + " AND ".join(where) if where else "")
           + f" ORDER BY audit_events.at {order}, audit_events.id {order} LIMIT ?")
    return sql, params + [limit]


def count_sql(f: Filter) -> tuple[str, list[Any]]:
    sql, params = page_sql(f, None, True, 0)
    where = sql.split(" FROM audit_events", 1)[1].split(" ORDER BY", 1)[0]
    return "SELECT count(*) FROM audit_events" + where, params[:-1]


# ---------------------------------------------------------------------------------------------
# The console


class Console:
    """A signed-in operator's browser: urllib with a cookie jar, one request at a time."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect())

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with self.opener.open(self.base + path, timeout=300) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def sign_in(self, email: str, password: str) -> None:
        status, body = self.get("/admin/login")
        if status != 200:
            raise BenchError(f"GET /admin/login answered {status}")
        _, fields = forms_of(body.decode())[0]
        form = dict(fields, email=email, password=password, next="/admin/audit")
        request = urllib.request.Request(self.base + "/admin/login",
                                         data=urllib.parse.urlencode(form).encode())
        try:
            with self.opener.open(request, timeout=60) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        if status != 303:
            raise BenchError(f"POST /admin/login answered {status}, expected 303")

    def page(self, query: str) -> tuple[str, int, str | None]:
        """An audit page: its HTML, how many events it lists and its "Older" link."""
        status, body = self.get("/admin/audit?" + query)
        text = body.decode()
        if status != 200:
            raise BenchError(f"/admin/audit?{query} answered {status}: {text[:300]}")
        older = re.search(r'<a id="older" href="([^"]*)"', text)
        return text, text.count("<tr>") - 1, html.unescape(older.group(1)) if older else None


def cursor_of(older_link: str) -> tuple[int, str]:
    before = urllib.parse.parse_qs(urllib.parse.urlsplit(older_link).query)["before"][0]
    at, id_ = before.split(".", 1)
    return int(at), id_


def rfc3339(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_ms(text: str) -> int:
    return round(datetime.datetime.fromisoformat(text).timestamp() * 1000)


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------------------
# The run


@dataclasses.dataclass
class Shape:
    label: str
    query: dict[str, str]  # the page's URL parameters
    filter: Filter
    cursor: tuple[int, str] | None = None
    shown: str = ""  # the query as the report shows it


@dataclasses.dataclass
class Measured:
    shape: Shape
    matching: int
    rows: int
    p50_ms: float
    p95_ms: float
    query_ms: float
    plan: list[str]


@dataclasses.dataclass
class Export:
    tenant: str
    events: int
    megabytes: float
    seconds: float
    batch_query_ms: float
    plan: list[str]


@dataclasses.dataclass
class BackendResult:
    backend: str
    database: str
    load_seconds: float
    size_bytes: int
    rows: list[Measured]
    export: Export
    notes: list[str]


class Meter(CpuMeter):
    """run.py's meter of other processes' CPU, which also counts PostgreSQL's processes as ours:
    on PostgreSQL the database does part of each request's work (any other database on the same
    cluster counts as ours too)."""

    def __init__(self, postgres: bool):
        self.postgres = postgres
        super().__init__()

    def snapshot(self) -> tuple[float, float, float]:
        wall, busy, ours = super().snapshot()
        if self.postgres:
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    name, rest = stat.read_text().split(" (", 1)[1].rsplit(") ", 1)
                except (OSError, ValueError, IndexError):
                    continue
                if name == "postgres":
                    fields = rest.split()
                    ours += (int(fields[11]) + int(fields[12])) / self.tick
        return wall, busy, ours


class Run:
    """One backend: a fresh database, the load, the server, the measurements."""

    def __init__(self, args: argparse.Namespace, db: Sqlite | Postgres, workdir: Path):
        self.args = args
        self.db = db
        self.workdir = workdir
        self.server = Server(args.binary, db.url, workdir)
        self.server.env["SCIMD_RATE_LIMIT_LOGIN_PER_IP"] = "0"
        self.meter = Meter(isinstance(db, Postgres))
        self.notes: list[str] = []

    def run(self) -> BackendResult:
        cli = self.server.cli
        log(f"{self.db.name}: migrating, creating {TENANTS} tenants and an operator")
        cli("migrate")
        for i in range(TENANTS):
            cli("tenant", "create", f"tenant-{i + 1:02d}", "--name", f"Tenant {i + 1}")
        tenants = {t["slug"]: t["id"] for t in cli("tenant", "list")["tenants"]}
        password = secrets.token_urlsafe(18)
        cli("operator", "create", "--email", OPERATOR_EMAIL, "--password-stdin",
            stdin=password + "\n")
        slugs = [f"tenant-{i + 1:02d}" for i in range(TENANTS)]
        world = make_world([tenants[s] for s in slugs], self.args.seed)
        now = int(time.time() * 1000)

        log(f"{self.db.name}: inserting {self.args.events:,} audit events")
        started = time.monotonic()
        self.db.load(events(world, self.args.events, now, self.args.seed))
        load_seconds = time.monotonic() - started
        size = self.db.size()
        log(f"  done in {load_seconds:.0f} s; audit_events and its indexes: {size / 2**20:,.0f} MiB")

        shapes = self.shapes(world, slugs, tenants, now)
        self.server.start()
        self.meter.server_pid = self.server.pid
        try:
            console = Console(self.server.port)
            console.sign_in(OPERATOR_EMAIL, password)
            # Measured over all the pages together: single requests are too short for it.
            self.meter.start()
            rows = [self.measure(console, shape) for shape in shapes]
            rows[1:1] = [self.per_tenant(console, slugs, tenants)]
            rows += self.deep(console, slugs[0], tenants[slugs[0]])
            other = self.meter.other_cores()
            log(f"  other processes used {other:.1f} CPU cores while the pages were measured")
            if other > DISTURBED:
                self.notes.append(f"other processes used {other:.1f} CPU cores while the pages "
                                  "were measured")
            export = self.export(console, slugs[0], tenants[slugs[0]])
        finally:
            self.server.stop()
            self.db.close()
        return BackendResult(self.db.name, self.db.describe(), load_seconds, size, rows, export,
                             self.notes)

    def shapes(self, world: World, slugs: list[str], tenants: dict[str, str],
               now: int) -> list[Shape]:
        """The page shapes, with filter values picked from what was loaded."""
        big, big_id = slugs[0], tenants[slugs[0]]
        client = self.db.query("SELECT actor FROM audit_events WHERE actor LIKE 'client:%' "
                               "GROUP BY actor ORDER BY count(*) DESC, actor LIMIT 1")[0][0]
        admin = f"admin:{world.admins[0][0]}"
        grant = world.grants[0][len(world.grants[0]) // 2][0]
        day = (now - 45 * DAY_MS) // DAY_MS * DAY_MS
        return [
            Shape("first page, unfiltered", {}, Filter(), shown="(no filter)"),
            Shape("tenant + common event", {"tenant": big, "event": COMMON_EVENT},
                  Filter(tenant_id=big_id, event=COMMON_EVENT),
                  shown=f"tenant={big}&event={COMMON_EVENT}"),
            Shape("tenant + rare event", {"tenant": big, "event": RARE_EVENT},
                  Filter(tenant_id=big_id, event=RARE_EVENT),
                  shown=f"tenant={big}&event={RARE_EVENT}"),
            Shape("event only (rare)", {"event": RARE_EVENT}, Filter(event=RARE_EVENT),
                  shown=f"event={RARE_EVENT}"),
            Shape("event only (rare), tenant.disabled", {"event": "tenant.disabled"},
                  Filter(event="tenant.disabled"), shown="event=tenant.disabled"),
            Shape("actor only (busiest client)", {"actor": client}, Filter(actor=client),
                  shown="actor=client:…"),
            Shape("actor only (an admin)", {"actor": admin}, Filter(actor=admin),
                  shown="actor=admin:…"),
            Shape("grant only", {"grant": grant}, Filter(grant_id=grant), shown="grant=…"),
            Shape("tenant + 1-day window", {"tenant": big, "since": rfc3339(day),
                                            "until": rfc3339(day + DAY_MS)},
                  Filter(tenant_id=big_id, since=day, until=day + DAY_MS),
                  shown=f"tenant={big}&since=…&until=… (1 day, 45 days ago)"),
        ]

    def measure(self, console: Console, shape: Shape) -> Measured:
        query = urllib.parse.urlencode(dict(shape.query, **(
            {"before": f"{shape.cursor[0]}.{shape.cursor[1]}"} if shape.cursor else {})))
        _, rows, _ = console.page(query)  # warm-up
        took = []
        for _ in range(self.args.runs):
            t = time.perf_counter()
            console.page(query)
            took.append((time.perf_counter() - t) * 1000)
        self.server.check_alive()
        return self.describe(shape, rows, took)

    def describe(self, shape: Shape, rows: int, took: list[float]) -> Measured:
        sql, params = page_sql(shape.filter, shape.cursor, True, PAGE_SIZE + 1)
        c_sql, c_params = count_sql(shape.filter)
        matching = self.db.query(c_sql, c_params)[0][0]
        plan = self.db.plan(sql, params)
        query_ms = self.db.time_query(sql, params)
        m = Measured(shape, matching, rows, statistics.median(took), percentile(took, 95),
                     query_ms, plan)
        log(f"  {shape.label}: {rows} rows of {matching:,}; p50 {m.p50_ms:.1f} ms, "
            f"p95 {m.p95_ms:.1f} ms; query alone {query_ms:.2f} ms")
        for line in plan:
            log(f"      {line}")
        if problems := self.server.problems():
            self.notes.append(f"{shape.label}: the server logged {problems[0][:200]}")
        return m

    def per_tenant(self, console: Console, slugs: list[str], tenants: dict[str, str]) -> Measured:
        """The first page of each tenant, all samples together; the plan of the smallest."""
        samples: list[float] = []
        runs = max(1, self.args.runs // 2)
        for slug in slugs:
            shape = Shape("", {"tenant": slug}, Filter(tenant_id=tenants[slug]))
            query = urllib.parse.urlencode(shape.query)
            console.page(query)
            for _ in range(runs):
                t = time.perf_counter()
                console.page(query)
                samples.append((time.perf_counter() - t) * 1000)
        smallest = slugs[-1]
        shape = Shape(f"first page per tenant ({len(slugs)} tenants × {runs})",
                      {"tenant": smallest}, Filter(tenant_id=tenants[smallest]),
                      shown="tenant=<each> (plan and count: the smallest)")
        _, rows, _ = console.page(urllib.parse.urlencode(shape.query))
        return self.describe(shape, rows, samples)

    def deep(self, console: Console, big: str, big_id: str) -> list[Measured]:
        """Page 100 through the Older links (checked against the database), then a page near
        the oldest end with a cursor read from the database; unfiltered and for one tenant."""
        out = []
        for label, query, f in (("", {}, Filter()), (", tenant", {"tenant": big},
                                                     Filter(tenant_id=big_id))):
            matching = self.db.query(*count_sql(f))[0][0]
            pages = min(DEEP_PAGES, matching // PAGE_SIZE - 1)  # fewer on a small test load
            log(f"  following {pages - 1} Older links{label}")
            t = time.monotonic()
            link = None
            q = urllib.parse.urlencode(query)
            for _ in range(pages - 1):
                _, rows, link = console.page(q)
                if not link or rows != PAGE_SIZE:
                    raise BenchError(f"page without {PAGE_SIZE} rows or an Older link: {q}")
                q = urllib.parse.urlsplit(link).query
            walked = time.monotonic() - t
            cursor = cursor_of(link)
            sql, params = page_sql(f, None, True, 1)
            expected = self.db.query(sql.replace("LIMIT ?", f"LIMIT 1 OFFSET "
                                                 f"{(pages - 1) * PAGE_SIZE - 1}"),
                                     params[:-1])[0]
            if (expected[1], expected[0]) != cursor:
                raise BenchError(f"page {pages}'s cursor {cursor} is not the database's "
                                 f"row {(pages - 1) * PAGE_SIZE}: {expected[:2]}")
            log(f"    {pages - 1} pages in {walked:.1f} s, its cursor is the database's row "
                f"{(pages - 1) * PAGE_SIZE:,}")
            shape = Shape(f"page {pages} via Older links{label}", query, f, cursor,
                          shown=urllib.parse.urlencode(query) + ("&" if query else "")
                          + "before=<at>.<id>")
            out.append(self.measure(console, shape))
            depth = matching - PAGE_SIZE * 10
            row = self.db.query(sql.replace("LIMIT ?", f"LIMIT 1 OFFSET {depth - 1}"),
                                params[:-1])[0]
            shape = Shape(f"page {depth // PAGE_SIZE + 1:,} of {math.ceil(matching / PAGE_SIZE):,}"
                          f" (cursor from the DB){label}", query, f, (row[1], row[0]),
                          shown=shape.shown)
            out.append(self.measure(console, shape))
        return out

    def export(self, console: Console, slug: str, tenant_id: str) -> Export:
        """The whole tenant as JSON lines, three times (the median counts), checked for count
        and order."""
        f = Filter(tenant_id=tenant_id)
        expected = self.db.query(*count_sql(f))[0][0]
        log(f"  exporting tenant {slug} ({expected:,} events) as JSON lines, three times")
        took = []
        self.meter.start()
        for _ in range(3):
            t = time.perf_counter()
            status, body = console.get("/admin/audit.jsonl?" + urllib.parse.urlencode(
                {"tenant": slug}))
            took.append(time.perf_counter() - t)
            if status != 200:
                raise BenchError(f"export answered {status}: {body[:300]!r}")
            lines = body.splitlines()
            if len(lines) != expected:
                raise BenchError(f"export gave {len(lines)} events, expected {expected}")
        other = self.meter.other_cores()
        keys = [(epoch_ms(e["at"]), e["id"]) for e in map(json.loads, lines)]
        if keys != sorted(keys) or len(set(keys)) != len(keys):
            raise BenchError("the export is not oldest first, or repeats events")
        sql, params = page_sql(f, keys[len(keys) // 2], False, EXPORT_BATCH + 1)
        plan = self.db.plan(sql, params)
        batch_ms = self.db.time_query(sql, params, runs=3)
        seconds = statistics.median(took)
        log(f"    {expected:,} events, {len(body) / 1e6:.0f} MB in {seconds:.1f} s "
            f"({expected / seconds:,.0f} events/s); a mid-export batch alone {batch_ms:.1f} ms")
        for line in plan:
            log(f"      {line}")
        if other > DISTURBED:
            self.notes.append(f"the export: other processes used {other:.1f} CPU cores meanwhile")
        return Export(slug, expected, len(body) / 1e6, seconds, batch_ms, plan)


# ---------------------------------------------------------------------------------------------
# The report


def plan_summary(backend: str, plan: list[str]) -> str:
    """The access path in a few words: which index, and whether rows get sorted."""
    text = " ".join(plan)
    if backend == "SQLite":
        found = re.findall(r"(?:SEARCH|SCAN) audit_events(?: USING (?:COVERING )?INDEX "
                           r"(\w+)(?: \(([^)]*)\))?)?", text)
        parts = [f"{name or 'table'}" + (f" ({cond})" if cond else "") for name, cond in found]
        if "MULTI-INDEX OR" in text:
            parts.insert(0, "OR of")
        if "TEMP B-TREE" in text:
            parts.append("+ sort")
        return "; ".join(parts)
    scans = re.findall(r"(Index Only Scan(?: Backward)?|Index Scan(?: Backward)?|Seq Scan) "
                       r"(?:using (\w+) )?on audit_events|Bitmap Index Scan on (\w+)", text)
    parts = [f"{name or bitmap or kind}" + (" (backward)" if "Backward" in kind else "")
             + (" (bitmap)" if bitmap else "") for kind, name, bitmap in scans]
    if re.search(r"\bSort\b", text):
        parts.append("+ sort")
    return "; ".join(parts)


def markdown(results: list[BackendResult], args: argparse.Namespace, busy: float) -> str:
    lines = [f"## {datetime.date.today().isoformat()}: {version_of(args.binary)}, release build",
             "",
             f"- Machine: {machine()}; other processes used {busy:.1f} CPU cores before the run",
             f"- {args.events:,} events over {SPAN_DAYS} days, {TENANTS} tenants (the biggest "
             f"holds ~20 %), {GRANTS:,} grants; {args.runs} timed requests per shape, one at a "
             "time, after one warm-up; page of 100 (101 rows read)"]
    for r in results:
        lines.append(f"- {r.backend}: {r.database}; load {r.load_seconds:.0f} s, table and "
                     f"indexes {r.size_bytes / 2**20:,.0f} MiB")
    lines.append("")
    header = ["shape", "query", "matching", "rows"]
    for r in results:
        header += [f"{r.backend} p50 ms", "p95 ms", "query ms"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---:" if i >= 2 else "---" for i in range(len(header))) + "|")
    for i, m in enumerate(results[0].rows):
        cells = [m.shape.label, f"`{m.shape.shown}`" if m.shape.shown else "",
                 f"{m.matching:,}", str(m.rows)]
        for r in results:
            x = r.rows[i]
            cells += [f"{x.p50_ms:.1f}", f"{x.p95_ms:.1f}", f"{x.query_ms:.2f}"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines.append("")
    for r in results:
        e = r.export
        lines.append(f"- {r.backend} export of {e.tenant} ({e.events:,} events, {e.megabytes:.0f} "
                     f"MB of JSON lines): {e.seconds:.1f} s, {e.events / e.seconds:,.0f} events/s; "
                     f"one batch of {EXPORT_BATCH:,} mid-export {e.batch_query_ms:.1f} ms in the "
                     f"database ({plan_summary(r.backend, e.plan)})")
        lines += [f"- {r.backend}: {n}" for n in r.notes]
    lines.append("")
    for r in results:
        lines += [f"### Plans, {r.backend}", ""]
        for m in r.rows:
            lines += [f"{m.shape.label}:", "", "```", *m.plan, "```", ""]
        lines += ["export batch:", "", "```", *r.export.plan, "```", ""]
    return "\n".join(lines)


def text_table(results: list[BackendResult]) -> str:
    out = []
    for r in results:
        out.append(f"{r.backend}:")
        out.append(f"  {'shape':58} {'matching':>9} {'rows':>4} {'p50 ms':>8} {'p95 ms':>8} "
                   f"{'query ms':>9}  index")
        for m in r.rows:
            out.append(f"  {m.shape.label:58} {m.matching:>9,} {m.rows:>4} {m.p50_ms:>8.1f} "
                       f"{m.p95_ms:>8.1f} {m.query_ms:>9.2f}  {plan_summary(r.backend, m.plan)}")
        e = r.export
        out.append(f"  export {e.tenant}: {e.events:,} events in {e.seconds:.1f} s "
                   f"({e.events / e.seconds:,.0f}/s)")
    return "\n".join(out)


def main() -> int:
    args = parse_args()
    if not args.binary.is_file():
        print(f"bench-audit: {args.binary} does not exist; build it with "
              "`cargo build --release --bin scimd` (make bench-audit does)", file=sys.stderr)
        return 1
    if args.postgres and not shutil.which("psql"):
        print("bench-audit: --postgres needs psql", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="scimd-bench-audit-"))
    pg: Postgres | None = None
    try:
        meter = CpuMeter()
        time.sleep(1)
        busy = meter.other_cores()
        if busy > DISTURBED:
            log(f"WARNING: other processes are using {busy:.1f} CPU cores: "
                "they will skew the figures")
        results = []
        if not args.no_sqlite:
            (workdir / "sqlite").mkdir()
            results.append(Run(args, Sqlite(workdir / "sqlite" / "audit.db"),
                               workdir / "sqlite").run())
        if args.postgres:
            pg = Postgres(args.pg_url)
            pg.create()
            (workdir / "postgres").mkdir()
            results.append(Run(args, pg, workdir / "postgres").run())
        print()
        print(text_table(results))
        report = markdown(results, args, busy)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
        log(f"wrote {args.out}")
        return 0
    except (BenchError, OSError, sqlite3.Error) as e:
        print(f"bench-audit: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench-audit: interrupted", file=sys.stderr)
        return 130
    finally:
        if pg:
            try:
                pg.drop()
            except BenchError as e:
                print(f"bench-audit: could not drop {pg.dbname}: {e}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
