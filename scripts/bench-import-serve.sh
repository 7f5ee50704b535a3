#!/usr/bin/env bash
# The peak resident memory of a real `beckon serve` while it imports 10,000 rows through its
# routes, as an admin's browser does: upload (the preview), "Send invites", the job to its end
# and every invitation email written out (mail as .eml files, no SMTP server configured).
# Prints the server's VmHWM (its peak resident set, the SQLite file's memory map included)
# before and after, and how long each step took. A benchmark, not a test.
#   scripts/bench-import-serve.sh                    (SQLite; the debug build `make run` serves)
#   scripts/with-postgres.sh scripts/bench-import-serve.sh
#   BECKON_BIN=target/release/beckon scripts/bench-import-serve.sh   (after `make release`)
#   ROWS=1000 scripts/bench-import-serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-10000}
bin=${BECKON_BIN:-target/debug/beckon}
if [ -z "${BECKON_BIN:-}" ]; then cargo build -q -p server --bin beckon; fi

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
export BECKON_ADDR=127.0.0.1:$port BECKON_PUBLIC_URL=$url BECKON_DATA_DIR=$work/data BECKON_LOG=warn
export BECKON_MAIL_DAILY_LIMIT=100000 BECKON_MAIL_DAILY_LIMIT_PER_SENDER=100000
if [ -n "${BECKON_TEST_POSTGRES:-}" ]; then export BECKON_DATABASE_URL=$BECKON_TEST_POSTGRES; engine=PostgreSQL; else engine=SQLite; fi
password='correct horse battery staple'
printf '%s\n' "$password" | "$bin" admin create --email owner@example.com --name 'Olive Owner' >/dev/null

"$bin" serve >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "$url/healthz" 2>/dev/null && break; sleep 0.1; done
if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/serve.log" >&2; exit 1; fi
peak() { awk '/^VmHWM:/ { printf "%.0f MB", $2 / 1024 }' "/proc/$server_pid/status"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f s", b - a }'; }

jar=$work/cookies
curl -fsS -c "$jar" -o /dev/null -H "Origin: $url" --data-urlencode 'email=owner@example.com' --data-urlencode "password=$password" \
  --data-urlencode 'next=/' "$url/api/sign_in"
{
  echo 'email,name,role,place,message'
  for i in $(seq 0 $((rows - 1))); do echo "person-$i@example.com,Person Number $i,Member,,Welcome to the team"; done
} >"$work/people.csv"
echo "import of $rows rows ($(du -k "$work/people.csv" | cut -f1) KB) by beckon serve ($bin) on $engine; peak resident memory after start and sign-in: $(peak)"

began=$(now)
location=$(curl -fsS -b "$jar" -o /dev/null -w '%{redirect_url}' -H "Origin: $url" -F "file=@$work/people.csv;type=text/csv" "$url/users/import")
id=${location##*/}
case "$location" in */users/import/*) ;; *) echo "the upload was refused: $location" >&2; exit 1 ;; esac
echo "  preview ready in $(since "$began") (upload, parse, judge, write)"

began=$(now)
curl -fsS -b "$jar" -o /dev/null -H "Origin: $url" --data-urlencode "id=$id" --data-urlencode 'mode=send_invites' "$url/api/start_import"
state=
for _ in $(seq 1 1200); do
  state=$(curl -fsS -b "$jar" -H "Origin: $url" --data-urlencode "id=$id" --data-urlencode 'verdict=' --data-urlencode 'page=0' "$url/api/get_import" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])')
  case "$state" in Done | Failed) break ;; esac
  sleep 0.1
done
echo "  import $state after $(since "$began") (judged again, staged, made live)"
[ "$state" = Done ]
for _ in $(seq 1 3000); do
  [ "$(find "$work/data/mail" -name '*.eml' 2>/dev/null | wc -l)" -ge "$rows" ] && break
  sleep 0.1
done
echo "  every email written out after $(since "$began") ($(find "$work/data/mail" -name '*.eml' | wc -l) .eml files)"
echo "  peak resident memory of beckon serve: $(peak) (goal 200 MB)"
