#!/usr/bin/env python3
"""The request inspector's cost: two release servers side by side, one with the inspector on
(the default) and one with it off (request_log_retention_days = 0), each on its own copy of one
SQLite database seeded with the same users; wrk runs each scenario against them in alternation (on, off, on,
off, …) so that whatever else the machine does weighs on both alike. Prints requests per second
per scenario and the ratio on / off, and each server's CPU time per request (every thread, from
/proc), which moves less than throughput when the machine's CPUs are shared.

    python3 bench/inspector_ab.py [--users 2000] [--rounds 3] [--duration 5] [--pin]

`--users 100000` measures at `make bench`'s size. `--pin` runs the servers on the last CPU and
wrk on the others (`taskset`), so that each server's throughput is its own CPU cost per request
rather than its share of cores it contends for with wrk: the steadier comparison on 2 cores.

Needs `cargo build --release --bin scimd` and wrk.
"""

import argparse
import concurrent.futures
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BINARY = Path(os.environ.get("SCIMD_BENCH_BINARY", BENCH.parent / "target" / "release" / "scimd"))


def run_cli(db_url, *args):
    env = dict(os.environ, SCIMD_DATABASE_URL=db_url)
    env.pop("SCIMD_CONFIG", None)
    out = subprocess.run([str(BINARY), "--json", *args], env=env, check=True, capture_output=True)
    return json.loads(out.stdout)


# CPUs the servers and wrk run on (`--pin`); empty: wherever the kernel puts them.
PIN_SERVER = []
PIN_WRK = []


def pin():
    """Servers from now on run on the last CPU, wrk on the others."""
    last = os.cpu_count() - 1
    PIN_SERVER[:] = ["taskset", "-c", str(last)]
    PIN_WRK[:] = ["taskset", "-c", "0" if last == 1 else f"0-{last - 1}"]


def start(db_url, port, inspector):
    env = dict(os.environ, SCIMD_DATABASE_URL=db_url, SCIMD_BIND=f"127.0.0.1:{port}",
               SCIMD_RATE_LIMIT_SCIM_PER_TENANT="0", SCIMD_LOG="warn",
               SCIMD_REQUEST_LOG_RETENTION_DAYS="7" if inspector else "0")
    env.pop("SCIMD_CONFIG", None)
    proc = subprocess.Popen([*PIN_SERVER, str(BINARY), "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def seed(port, token, users, path):
    """Creates `users` users over four connections and writes their ids and userNames to
    `path`, one per line, as scim.lua reads them."""
    def create(n):
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"seed{n}@bench.test", "name": {"givenName": "S", "familyName": str(n)},
                "emails": [{"value": f"seed{n}@bench.test", "primary": True}]}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/scim/v2/Users",
                                     json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/scim+json"})
        user = json.load(urllib.request.urlopen(req))
        return f"{user['id']} {user['userName']}"
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        lines = list(pool.map(create, range(users), chunksize=64))
    path.write_text("\n".join(lines) + "\n")


def wrk(port, token, scenario, users_file, duration, pass_no):
    env = dict(os.environ, BENCH_SCENARIO=scenario, BENCH_USER_FILE=str(users_file),
               BENCH_THREADS="2", BENCH_TAG=secrets.token_hex(4), BENCH_PASS=str(pass_no),
               BENCH_TOKEN=token, BENCH_MEMBERS="0", BENCH_GROUP_ID="none")
    out = subprocess.run([*PIN_WRK, "wrk", "-t2", "-c32", f"-d{duration}s", "-s", str(BENCH / "scim.lua"),
                          "-H", f"Authorization: Bearer {token}",
                          f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True)
    found = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    count = re.search(r"(\d+) requests in", out.stdout)
    return (float(found.group(1)) if found else 0.0, int(count.group(1)) if count else 0)


def cpu_seconds(pid):
    """The process's CPU time so far, every thread (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--pin", action="store_true")
    parser.add_argument("--scenario", action="append",
                        choices=["get_user", "filter_user", "create_user"])
    args = parser.parse_args()
    if args.pin:
        pin()
    if not BINARY.exists() or shutil.which("wrk") is None:
        raise SystemExit("build the release binary and install wrk first")
    work = Path(tempfile.mkdtemp(prefix="scimd-inspector-ab-"))
    servers = {}
    try:
        # One database seeded once (inspector off, so it holds no request log), copied for both.
        seeded = work / "seed.db"
        run_cli(f"sqlite://{seeded}", "migrate")
        run_cli(f"sqlite://{seeded}", "tenant", "create", "bench")
        token = run_cli(f"sqlite://{seeded}", "token", "issue", "--tenant", "bench")["token"]
        seeder = start(f"sqlite://{seeded}", 18280, False)
        users_file = work / "users"
        try:
            seed(18280, token, args.users, users_file)
        finally:
            seeder.terminate()
            seeder.wait()
        for name, port, on in (("on", 18281, True), ("off", 18282, False)):
            for suffix in ("", "-wal"):
                if Path(f"{seeded}{suffix}").exists():
                    shutil.copy(f"{seeded}{suffix}", work / f"{name}.db{suffix}")
            servers[name] = (port, token, users_file, start(f"sqlite://{work}/{name}.db", port, on))
        results, cpu = {}, {}
        scenarios = args.scenario or ["get_user", "filter_user", "create_user"]
        for scenario in scenarios:
            for r in range(args.rounds):
                for name in ("on", "off") if r % 2 == 0 else ("off", "on"):
                    port, token, users_file, proc = servers[name]
                    before = cpu_seconds(proc.pid)
                    rate, count = wrk(port, token, scenario, users_file, args.duration, r)
                    # The writer's last flush of the round lands in the next round's window.
                    spent = cpu_seconds(proc.pid) - before
                    results.setdefault((scenario, name), []).append(rate)
                    cpu.setdefault((scenario, name), []).append(spent / max(count, 1) * 1e6)
        median = lambda values: sorted(values)[len(values) // 2]  # noqa: E731
        print("| scenario | inspector on (req/s) | off (req/s) | on / off "
              "| server CPU µs/request on | off | on / off |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for scenario in scenarios:
            on, off = median(results[(scenario, "on")]), median(results[(scenario, "off")])
            cpu_on, cpu_off = median(cpu[(scenario, "on")]), median(cpu[(scenario, "off")])
            print(f"| {scenario} | {on:,.0f} | {off:,.0f} | {on / off:.1%} "
                  f"| {cpu_on:.1f} | {cpu_off:.1f} | {cpu_on / cpu_off:.1%} |")
    finally:
        for _, _, _, proc in servers.values():
            proc.terminate()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
