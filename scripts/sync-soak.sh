#!/usr/bin/env bash
# Soak benchmark of `airlift sync --watch` (not part of make test):
#   scripts/sync-soak.sh [SECONDS]      (default 600)
# Starts a private versitygw, a watcher with metrics, and a churn loop that
# creates, rewrites (some slowly), renames and deletes small files for
# SECONDS. Then it waits for the watcher to catch up, stops it with
# SIGTERM, and runs `airlift verify --deep`. It prints the watcher's RSS at
# the start and the end. Everything is deleted at the end.
set -euo pipefail
DUR=${1:-600}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${AIRLIFT:-$ROOT/bin/airlift}
VGW=${VERSITYGW:-$ROOT/.tools/bin/versitygw}
WORK=$(mktemp -d /tmp/airlift-sync-soak.XXXXXX)
WPID=
trap '[ -n "$WPID" ] && kill $WPID 2>/dev/null; kill $VPID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src" "$WORK/s3" "$WORK/state"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free_port); MPORT=$(free_port)
export AWS_ACCESS_KEY_ID=soakkey AWS_SECRET_ACCESS_KEY=soaksecret1234 AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=
ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
  "$VGW" --port 127.0.0.1:$PORT --quiet posix "$WORK/s3" >"$WORK/vgw.log" 2>&1 &
VPID=$!
EP=http://127.0.0.1:$PORT
for i in $(seq 50); do curl -s -o /dev/null "$EP" && break; sleep 0.1; done
aws --endpoint-url "$EP" s3api create-bucket --bucket soak >/dev/null
for i in $(seq 200); do mkdir -p "$WORK/src/d$((i % 10))"; head -c $((RANDOM * 4)) /dev/urandom >"$WORK/src/d$((i % 10))/seed$i"; done

"$BIN" sync "$WORK/src" s3://soak/data --state-dir "$WORK/state" --endpoint-url "$EP" --watch \
  --debounce 1s --interval 30s --delete --max-delete 100% --metrics-addr 127.0.0.1:$MPORT \
  >"$WORK/watch.out" 2>"$WORK/watch.err" &
WPID=$!
sleep 5
rss() { grep -E '^(VmRSS|RssAnon)' /proc/$WPID/status | tr -s ' \t' ' ' | tr '\n' ' '; }
echo "start: $(rss)"

python3 - "$WORK/src" "$DUR" <<'PY'
import os, random, sys, time
root, dur = sys.argv[1], float(sys.argv[2])
rng = random.Random(7)
end = time.time() + dur
n = ops = 0
while time.time() < end:
    d = os.path.join(root, "d%d" % rng.randrange(10))
    files = os.listdir(d)
    op = rng.random()
    if op < 0.4 or not files:
        n += 1
        with open(os.path.join(d, "new%d" % n), "wb") as f:
            f.write(os.urandom(rng.randrange(1, 64 << 10)))
    elif op < 0.6:
        p = os.path.join(d, rng.choice(files))
        with open(p, "wb") as f:  # a slow rewrite: must not be uploaded half-written
            for _ in range(4):
                f.write(os.urandom(4096)); f.flush(); time.sleep(0.1)
    elif op < 0.75:
        p = os.path.join(d, rng.choice(files))
        os.rename(p, p + ".r")
    else:
        os.remove(os.path.join(d, rng.choice(files)))
    ops += 1
    time.sleep(0.05)
print("churn: %d operations" % ops)
PY
sleep 5
echo "end:   $(rss)"
curl -s "http://127.0.0.1:$MPORT/metrics" | grep -E '^airlift_sync_(uploaded_files_total|deleted_objects_total|failures_total|pending_files|passes_total|replication_lag_seconds) '
kill -TERM $WPID; wait $WPID; echo "watcher exit: $?"; WPID=
"$BIN" verify "$WORK/src" s3://soak/data --deep --endpoint-url "$EP" -q
echo "verify --deep: equal"
