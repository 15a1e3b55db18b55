#!/usr/bin/env python3
"""The request inspector's cost, counted instead of timed: one release server under valgrind's
callgrind, inspector on (the default) or off (request_log_retention_days = 0), the same requests
sent one after another over one keep-alive connection. Counters are zeroed after seeding and a
warm-up and dumped after the measured requests and the writer's next flushes, so the count holds
everything the server did for those requests, on every thread: the handler, the inspector's
copy and queue, its writer's INSERTs, and (with --prune) the retention DELETEs that keep a tenant
at its cap. Instruction counts are repeatable whatever else the machine does, which wrk's
requests per second on two shared cores are not.

    python3 bench/inspector_callgrind.py [--requests 400] [--users 200] [--prune]

Needs valgrind and `cargo build --release --bin scimd`; SCIMD_BENCH_BINARY picks another binary.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BINARY = Path(os.environ.get("SCIMD_BENCH_BINARY", BENCH.parent / "target" / "release" / "scimd"))
SCENARIOS = ("get_user", "filter_user", "create_user")


def run_cli(db_url, *args):
    env = dict(os.environ, SCIMD_DATABASE_URL=db_url)
    env.pop("SCIMD_CONFIG", None)
    out = subprocess.run([str(BINARY), "--json", *args], env=env, check=True, capture_output=True)
    return json.loads(out.stdout)


class Client:
    """One keep-alive connection, as an IdP's connector holds it."""

    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, data, self.headers)
        response = self.conn.getresponse()
        payload = response.read()
        if response.status >= 400:
            raise SystemExit(f"{method} {path}: {response.status} {payload[:200]!r}")
        return json.loads(payload) if payload else None


def user_body(name):
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
            "name": {"givenName": "S", "familyName": name},
            "emails": [{"value": name, "primary": True}], "active": True}


def wait_up(port, proc):
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit("server exited")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("server did not start")


def callgrind(pid, flag):
    subprocess.run(["callgrind_control", flag, str(pid)], check=True, capture_output=True)


def measure(work, scenario, inspector, args, port):
    name = f"{scenario}-{'on' if inspector else 'off'}"
    db = f"sqlite://{work}/{name}.db"
    run_cli(db, "migrate")
    run_cli(db, "tenant", "create", "bench")
    token = run_cli(db, "token", "issue", "--tenant", "bench")["token"]
    out = work / f"{name}.callgrind"
    env = dict(os.environ, SCIMD_DATABASE_URL=db, SCIMD_BIND=f"127.0.0.1:{port}",
               SCIMD_RATE_LIMIT_SCIM_PER_TENANT="0", SCIMD_LOG="warn", SCIMD_WORKERS="1",
               SCIMD_REQUEST_LOG_RETENTION_DAYS="7" if inspector else "0")
    if args.prune:
        # At its cap from the start, so every recorded request also costs one pruned row.
        env["SCIMD_REQUEST_LOG_MAX_PER_TENANT"] = str(args.users // 2)
    env.pop("SCIMD_CONFIG", None)
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                             str(BINARY), "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_up(port, proc)
        client = Client(port, token)
        users = [client.call("POST", "/scim/v2/Users", user_body(f"seed{n}@bench.test"))
                 for n in range(args.users)]
        requests = {
            "get_user": lambda n: ("GET", f"/scim/v2/Users/{users[n % len(users)]['id']}", None),
            "filter_user": lambda n: ("GET", "/scim/v2/Users?filter=userName%20eq%20%22"
                                      f"{users[n % len(users)]['userName']}%22", None),
            "create_user": lambda n: ("POST", "/scim/v2/Users", user_body(f"new{n}@bench.test")),
        }[scenario]
        for n in range(20):
            client.call(*requests(args.requests + n))
        # Past a flush and, with --prune, past a retention run, before counting starts.
        time.sleep(args.settle)
        callgrind(proc.pid, "-z")
        for n in range(args.requests):
            client.call(*requests(n))
        time.sleep(args.settle)
        callgrind(proc.pid, "-d")
    finally:
        proc.terminate()
        proc.wait()
    total = 0
    for dump in work.glob(f"{name}.callgrind*"):
        # Each dump since the zeroing: the one asked for (`-d`) and the one at exit; only the
        # asked-for dump counts (its name ends in .1).
        if dump.name.endswith(".1"):
            for line in dump.read_text(errors="replace").splitlines():
                found = re.match(r"(?:summary|totals):\s+(\d+)", line)
                if found:
                    total = int(found.group(1))
    if total == 0:
        raise SystemExit(f"no callgrind dump for {name}")
    return total / args.requests


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds before zeroing and before dumping (writer flushes)")
    parser.add_argument("--prune", action="store_true",
                        help="each tenant at its request cap: every request also prunes a row")
    parser.add_argument("--scenario", choices=SCENARIOS, action="append")
    parser.add_argument("--keep", type=Path,
                        help="keep the databases and callgrind dumps here (for callgrind_annotate)")
    args = parser.parse_args()
    if not BINARY.exists() or shutil.which("valgrind") is None:
        raise SystemExit("build the release binary and install valgrind first")
    work = args.keep or Path(tempfile.mkdtemp(prefix="scimd-inspector-cg-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print("| scenario | instructions per request, inspector off | on | on / off |")
        print("|---|---:|---:|---:|")
        for scenario in args.scenario or SCENARIOS:
            off = measure(work, scenario, False, args, 18291)
            on = measure(work, scenario, True, args, 18292)
            print(f"| {scenario} | {off:,.0f} | {on:,.0f} | {on / off:.1%} |", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
