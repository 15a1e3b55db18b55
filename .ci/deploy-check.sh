#!/usr/bin/env bash
# Checks the production kit in deploy/: the systemd unit (systemd-analyze verify, and its
# sandbox exposure), the nginx example (nginx -t) and the Caddyfile (caddy validate).
#
#   deploy-check.sh SCIMD_BINARY
#
# The unit names /usr/local/bin/scimd; it is checked with SCIMD_BINARY in its place, and the
# proxy examples with a throwaway certificate in place of the real one.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 1 && -x "$1" ]] || { echo "usage: deploy-check.sh SCIMD_BINARY" >&2; exit 2; }
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"

need=()
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v nginx >/dev/null || need+=(nginx-light)
command -v caddy >/dev/null || need+=(caddy)
command -v openssl >/dev/null || need+=(openssl)
if [[ ${#need[@]} -gt 0 ]]; then
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== deploy/scimd.service"
sed "s|/usr/local/bin/scimd|$binary|g" deploy/scimd.service > "$work/scimd.service"
systemd-analyze verify "$work/scimd.service"
exposure="$(systemd-analyze security --offline=yes "$work/scimd.service" 2>/dev/null | tail -1)"
echo "$exposure"
# "Overall exposure level for scimd.service: 1.2 OK": anything above 2.0 is a regression.
score="$(sed -n 's/.*: \([0-9.]*\) .*/\1/p' <<<"$exposure")"
awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' ||
    { echo "the unit's exposure rose above 2.0: $exposure" >&2; exit 1; }

echo "== deploy/nginx.conf"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -days 1 -subj /CN=scim.example.com 2>/dev/null
sed -e "s|/etc/letsencrypt/live/scim.example.com/fullchain.pem|$work/cert.pem|" \
    -e "s|/etc/letsencrypt/live/scim.example.com/privkey.pem|$work/key.pem|" \
    deploy/nginx.conf > "$work/scimd.conf"
printf 'pid %s/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  include %s/scimd.conf;\n}\n' \
    "$work" "$work" > "$work/nginx.conf"
nginx -t -q -c "$work/nginx.conf" -e stderr -g 'daemon off;'

echo "== deploy/Caddyfile"
caddy validate --config deploy/Caddyfile --adapter caddyfile 2>&1 | grep -q 'Valid configuration' ||
    { caddy validate --config deploy/Caddyfile --adapter caddyfile; exit 1; }
echo "deploy kit: ok"
