#!/usr/bin/env python3
"""Memory after bursts (issue 17 item 31): a release server on a fresh SQLite database, its
resident memory (VmRSS) sampled while bursts run and while it idles afterwards:

1. 256 concurrent console sign-ins (argon2id, 19 MiB each, bounded by the node's gate);
2. 32 concurrent /Bulk requests of 1 000 user creates each (about 1 MiB bodies);
3. 20 000 single SCIM creates from 64 concurrent clients.

For each burst it prints the resident memory before, the peak during, and after 5 s and 30 s of
idling, in MiB. The burst is bounded when the peak stays within the gate's slots and the bodies
in flight; memory is returned when the idle figure falls back near the baseline.

    python3 bench/memory.py [--idle 30]

Needs `cargo build --release --bin scimd`.
"""

import argparse
import http.cookiejar
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BINARY = BENCH.parent / "target" / "release" / "scimd"
PASSWORD = "a long password for the memory bench"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def run_cli(db_url, *args, stdin=None):
    env = dict(os.environ, SCIMD_DATABASE_URL=db_url)
    env.pop("SCIMD_CONFIG", None)
    out = subprocess.run([str(BINARY), "--json", *args], env=env, check=True,
                         capture_output=True, input=stdin)
    return json.loads(out.stdout)


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """The peak resident memory of `pid` while running."""

    def __init__(self, pid):
        self.pid, self.peak, self.running = pid, 0.0, True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak


def post(url, body, headers):
    req = urllib.request.Request(url, body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def sign_in(base):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"{base}/admin/login").read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    form = urllib.parse.urlencode({"csrf": csrf, "next": "/admin", "email": "op@bench.test",
                                   "password": PASSWORD}).encode()
    try:
        return opener.open(urllib.request.Request(f"{base}/admin/login", form, method="POST")).status
    except urllib.error.HTTPError as e:
        return e.code


def user(n):
    return {"schemas": [USER], "userName": f"u{n}@bench.test",
            "name": {"givenName": "Bench", "familyName": str(n)},
            "emails": [{"value": f"u{n}@bench.test", "primary": True, "type": "work"}]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=int, default=30)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="scimd-memory-")
    db_url = f"sqlite://{work}/memory.db"
    run_cli(db_url, "migrate")
    run_cli(db_url, "tenant", "create", "acme")
    token = run_cli(db_url, "token", "issue", "--tenant", "acme")["token"]
    run_cli(db_url, "operator", "create", "--email", "op@bench.test", "--password-stdin",
            stdin=PASSWORD.encode())
    port = 18000 + os.getpid() % 1000
    env = dict(os.environ, SCIMD_DATABASE_URL=db_url, SCIMD_BIND=f"127.0.0.1:{port}",
               SCIMD_LOG="warn", SCIMD_RATE_LIMIT_SCIM_PER_TENANT="0",
               SCIMD_RATE_LIMIT_LOGIN_PER_IP="0", SCIMD_MAX_CONNECTIONS_PER_ADDRESS="0")
    env.pop("SCIMD_CONFIG", None)
    proc = subprocess.Popen([str(BINARY), "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    scim = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    counter = iter(range(10**9))

    def bulk(_):
        ops = [{"method": "POST", "path": "/Users", "bulkId": str(i), "data": user(next(counter))}
               for i in range(1000)]
        body = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                           "Operations": ops}).encode()
        return post(f"{base}/scim/v2/Bulk", body, scim)

    def create(_):
        return post(f"{base}/scim/v2/Users", json.dumps(user(next(counter))).encode(), scim)

    bursts = [
        ("256 concurrent sign-ins (argon2id)", 256, 256, lambda _: sign_in(base)),
        ("32 concurrent Bulk requests of 1000 creates", 32, 32, bulk),
        ("20 000 creates, 64 at a time", 64, 20_000, create),
    ]
    time.sleep(2)
    print(f"baseline after start: {rss_mib(proc.pid):.0f} MiB")
    print(f"{'burst':<46} {'before':>7} {'peak':>7} {'+5 s':>7} {f'+{args.idle} s':>7}  statuses")
    for name, workers, total, job in bursts:
        before = rss_mib(proc.pid)
        sampler = Sampler(proc.pid)
        with ThreadPoolExecutor(workers) as pool:
            statuses = list(pool.map(job, range(total)))
        peak = sampler.stop()
        time.sleep(5)
        after5 = rss_mib(proc.pid)
        time.sleep(max(args.idle - 5, 0))
        after = rss_mib(proc.pid)
        counts = {s: statuses.count(s) for s in sorted(set(statuses))}
        print(f"{name:<46} {before:7.0f} {peak:7.0f} {after5:7.0f} {after:7.0f}  {counts}",
              flush=True)
    proc.terminate()
    proc.wait()


if __name__ == "__main__":
    main()
