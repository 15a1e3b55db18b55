#!/usr/bin/env python3
"""The request inspector's cost per thread: one release server on a seeded SQLite database,
inspector on or off, one wrk run per scenario; the server's CPU time per thread (from
/proc/PID/task/*/stat) over the run, divided by the requests wrk completed, in microseconds per
request, grouped by thread name (actix workers, the blocking pool, `request-inspector`, the WAL
checkpointer, …). Tighter than `inspector_ab.py`'s throughput ratio, whose run-to-run spread is
±10 %: the writer's microseconds are measured directly, not inferred from throughput.

    python3 bench/inspector_threads.py [--users 2000] [--duration 10] [--off] [--pin] [scenario ...]

Needs `cargo build --release --bin scimd` and wrk.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inspector_ab as ab  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def thread_times(pid):
    """CPU seconds per thread name (user + system)."""
    times = defaultdict(float)
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        # Pool threads are numbered (`actix-rt|system:0|arbiter:1`, `r2d2-worker-3`): grouped.
        name = re.sub(r"[\d:]+$", "", name) or name
        times[name] += (int(fields[11]) + int(fields[12])) / TICK
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--off", action="store_true", help="inspector off")
    parser.add_argument("--pin", action="store_true", help="server on the last CPU, wrk on the rest")
    parser.add_argument("scenarios", nargs="*", default=["get_user", "filter_user", "create_user"])
    args = parser.parse_args()
    if args.pin:
        ab.pin()
    if not ab.BINARY.exists() or shutil.which("wrk") is None:
        raise SystemExit("build the release binary and install wrk first")
    work = Path(tempfile.mkdtemp(prefix="scimd-inspector-threads-"))
    server = None
    try:
        url = f"sqlite://{work}/bench.db"
        ab.run_cli(url, "migrate")
        ab.run_cli(url, "tenant", "create", "bench")
        token = ab.run_cli(url, "token", "issue", "--tenant", "bench")["token"]
        server = ab.start(url, 18290, not args.off)
        users_file = work / "users"
        ab.seed(18290, token, args.users, users_file)
        print(f"inspector {'off' if args.off else 'on'}, {args.users} users, {args.duration} s")
        for scenario in args.scenarios:
            before = thread_times(server.pid)
            _, count = ab.wrk(18290, token, scenario, users_file, args.duration, 0)
            after = thread_times(server.pid)
            spent = {name: after[name] - before.get(name, 0.0) for name in after}
            total = sum(spent.values())
            print(f"\n{scenario}: {count:,} requests, {count / args.duration:,.0f}/s, "
                  f"server {total / max(count, 1) * 1e6:.1f} µs/request")
            for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
                if seconds > 0:
                    print(f"  {name:<28} {seconds / max(count, 1) * 1e6:7.2f} µs/request")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
