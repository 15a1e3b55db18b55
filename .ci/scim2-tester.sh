#!/usr/bin/env bash
# Runs the public SCIM 2.0 conformance suite scim2-tester (through scim2-cli's `scim2 test`)
# against a scimd binary on a given database.
#
#   scim2-tester.sh SCIMD_BINARY DATABASE_URL
#
#   DATABASE_URL  sqlite://path/to/file.db  or  postgres://user@host/db (the database must exist;
#                 migrations are applied, and a fresh tenant with a unique slug is created, so a
#                 database already in use is fine).
#
# What it does: applies migrations, creates a tenant and a static token, starts `scimd serve` on a
# free loopback port (bind 127.0.0.1:0, the port is read from the server's JSON log), runs
# `scim2 --url http://127.0.0.1:PORT/scim/v2 test --verbose`, stops the server, prints a summary.
#
# Exit status: 0 when every check passed; 1 when one failed or was skipped (a skip means a feature
# we advertise was not exercised); 2 on a setup failure (server did not start, the suite crashed
# or reported nothing). The CLI's output is parsed so the summary names each failing check.
#
# Environment:
#   SCIM2_TESTER_VENV  virtualenv to use or create (default: ~/.cache/scimd-scim2-tester-venv)
#   SCIM2_TESTER_OUT   directory for the server log and the suite output (default: a temp dir,
#                      kept and printed when the run fails)
#   SCIM2_TESTER_HTTP_LOG=1  also write every HTTP exchange of the suite to OUT/http.jsonl
#   PYTHON             interpreter used to create the venv (default: python3)
set -euo pipefail

# Pinned: the versions this script was validated with.
SCIM2_PACKAGES=(scim2-cli==0.6.0 scim2-tester==0.5.2 scim2-client==0.13.2 scim2-models==0.12.3)

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage ;;
        --) shift; break ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *) break ;;
    esac
done
[[ $# -eq 2 ]] || usage
scimd="$1"
database_url="$2"
[[ -x "$scimd" ]] || { echo "not an executable: $scimd" >&2; exit 2; }
scimd="$(cd "$(dirname "$scimd")" && pwd)/$(basename "$scimd")"
venv="${SCIM2_TESTER_VENV:-$HOME/.cache/scimd-scim2-tester-venv}"

# --- the virtualenv with scim2-cli -------------------------------------------------------------
venv_ok() {
    [[ -x "$venv/bin/scim2" ]] || return 1
    local pkg installed
    for pkg in "${SCIM2_PACKAGES[@]}"; do
        installed="$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('${pkg%%==*}'))" 2>/dev/null)" || return 1
        [[ "$installed" == "${pkg##*==}" ]] || return 1
    done
}
if ! venv_ok; then
    echo "== setting up $venv (${SCIM2_PACKAGES[*]})"
    [[ -x "$venv/bin/python" ]] || "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${SCIM2_PACKAGES[@]}"
    venv_ok || { echo "could not install ${SCIM2_PACKAGES[*]} into $venv" >&2; exit 2; }
fi
py="$venv/bin/python"

# --- output directory, server lifecycle --------------------------------------------------------
if [[ -n "${SCIM2_TESTER_OUT:-}" ]]; then
    out="$SCIM2_TESTER_OUT"; mkdir -p "$out"; keep_out=1
else
    out="$(mktemp -d "${TMPDIR:-/tmp}/scim2-tester.XXXXXX")"; keep_out=0
fi
server_pid=""
verdict=2
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $keep_out -eq 0 && $verdict -eq 0 ]]; then
        rm -rf "$out"
    else
        echo "== logs kept in $out ($(cd "$out" && ls | grep -v '\.py$' | tr '\n' ' '))"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A relative SQLite path is taken relative to the caller's directory (the server runs elsewhere).
case "$database_url" in
    sqlite:///*|postgres://*|postgresql://*|/*) ;;
    sqlite://*) database_url="sqlite://$PWD/${database_url#sqlite://}" ;;
    *://*) ;;
    *) database_url="$PWD/$database_url" ;;
esac
export SCIMD_DATABASE_URL="$database_url"
unset SCIMD_CONFIG SCIMD_BIND SCIMD_PUBLIC_URL
# scimd reads ./scimd.toml when present: run it from the empty output directory.
cd "$out"

echo "== scimd: $("$scimd" --version 2>/dev/null || echo "$scimd")"
echo "== database: ${database_url%%://*}"
"$scimd" migrate || { echo "scimd migrate failed" >&2; exit 2; }
slug="conf-$(date +%s)-$$"
"$scimd" tenant create "$slug" --name "scim2-tester $slug" >/dev/null ||
    { echo "scimd tenant create failed" >&2; exit 2; }
token="$("$scimd" token issue --tenant "$slug" --label scim2-tester --json |
    "$py" -c 'import json, sys; print(json.load(sys.stdin)["token"])')" || token=""
[[ "$token" == scimd_st_* ]] || { echo "could not issue a token" >&2; exit 2; }

SCIMD_LOG_FORMAT=json SCIMD_LOG="${SCIMD_LOG:-info}" \
    "$scimd" serve --bind 127.0.0.1:0 >"$out/server.log" 2>&1 &
server_pid=$!

port=""
for _ in $(seq 1 100); do
    port="$("$py" - "$out/server.log" <<'EOF'
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try:
        fields = json.loads(line).get("fields", {})
    except ValueError:
        continue
    if fields.get("message") == "scimd listening" and fields.get("port"):
        print(fields["port"])
        break
EOF
)"
    [[ -n "$port" ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [[ -z "$port" ]]; then
    echo "scimd did not start; its log:" >&2; cat "$out/server.log" >&2; exit 2
fi
base="http://127.0.0.1:$port"
healthy=0
for _ in $(seq 1 50); do
    if "$py" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$base/healthz" 2>/dev/null; then
        healthy=1; break
    fi
    sleep 0.2
done
[[ $healthy -eq 1 ]] || { echo "scimd does not answer $base/healthz" >&2; exit 2; }
echo "== scimd listening on $base (pid $server_pid)"

# --- the suite ---------------------------------------------------------------------------------
cli_version="$("$py" -c 'import importlib.metadata as m; print(m.version("scim2-cli"), m.version("scim2-tester"))')"
echo "== scim2-cli ${cli_version% *}, scim2-tester ${cli_version#* }"
echo "== scim2 --url $base/scim/v2 test --verbose"
# scimd writes no access log; with SCIM2_TESTER_HTTP_LOG=1 every exchange the suite makes
# (method, URL, bodies, status) is written to $out/http.jsonl by wrapping the CLI's HTTP client.
scim2=("$venv/bin/scim2")
if [[ "${SCIM2_TESTER_HTTP_LOG:-0}" == 1 ]]; then
    cat >"$out/scim2_logged.py" <<'EOF'
import json, os, sys
import httpx2
_send = httpx2.Client.send
_log = open(os.environ["SCIM2_TESTER_HTTP_LOG_FILE"], "a")
def send(self, request, *args, **kwargs):
    response = _send(self, request, *args, **kwargs)
    response.read()
    _log.write(json.dumps({"method": request.method, "url": str(request.url),
        "request_body": request.content.decode("utf-8", "replace"), "status": response.status_code,
        "content_type": response.headers.get("content-type"), "response_body": response.text}) + "\n")
    _log.flush()
    return response
httpx2.Client.send = send
from scim2_cli import cli
sys.argv[0] = "scim2"
cli()
EOF
    scim2=("$py" "$out/scim2_logged.py")
    export SCIM2_TESTER_HTTP_LOG_FILE="$out/http.jsonl"
fi
set +e
SCIM_CLI_HEADERS="Authorization: Bearer $token" NO_COLOR=1 \
    "${scim2[@]}" --url "$base/scim/v2" test --verbose >"$out/scim2-test.out" 2>&1
cli_status=$?

# The CLI prints "STATUS title" per result, then the reason and (verbose) the data, indented by
# two spaces; a multi-line reason continues unindented. Only the status lines are counted.
"$py" - "$out/scim2-test.out" "$cli_status" <<'EOF'
import re, sys

path, cli_status = sys.argv[1], int(sys.argv[2])
statuses = ("SUCCESS", "COMPLIANT", "ACCEPTABLE", "DEVIATION", "ERROR", "CRITICAL", "SKIPPED")
line_re = re.compile(r"^(%s) (\S+)$" % "|".join(statuses))

lines = open(path, errors="replace").read().splitlines()
results = []  # (status, title, first reason line)
for i, line in enumerate(lines):
    m = line_re.match(line)
    if m:
        reason = lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].startswith("  ") else ""
        results.append((m.group(1), m.group(2), reason))

counts = {s: 0 for s in statuses}
failed = []
for status, title, reason in results:
    counts[status] += 1
    if status in ("ERROR", "CRITICAL", "DEVIATION"):
        failed.append((status, f"{title}: {reason}"))

for status, title, reason in results:
    if status != "SUCCESS":
        print(f"  {status:9} {title}: {reason[:300]}")
passed = counts["SUCCESS"] + counts["COMPLIANT"] + counts["ACCEPTABLE"]
print(f"scim2-tester: {len(results)} checks, {passed} passed, {len(failed)} failed, {counts['SKIPPED']} skipped")

if not results:
    print("the suite reported no result; its output:", file=sys.stderr)
    print("\n".join(lines[-40:]), file=sys.stderr)
    sys.exit(2)
if cli_status not in (0, 1):
    print(f"scim2 test exited with {cli_status}", file=sys.stderr)
    sys.exit(2)
sys.exit(1 if failed or counts["SKIPPED"] else 0)
EOF
verdict=$?
set -e
exit $verdict
