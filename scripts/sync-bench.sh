#!/usr/bin/env bash
# Benchmark of a no-change re-sync (not part of make test):
#   scripts/sync-bench.sh FILES SIZE_BYTES
# e.g. 20000 16384 (the S dataset). It starts a private
# versitygw on 127.0.0.1, generates the files in a temp dir (sparse, so
# they cost no disk), syncs once, then times re-syncs with nothing
# changed, and one with a single file changed. Everything is deleted at
# the end. For a million files, generate the tree and an already-synced
# state instead of uploading a million objects first (see README, "airlift
# sync", and TestGenerateSyncedTree in sync/syncer).
set -euo pipefail
N=${1:-20000}
SIZE=${2:-16384}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${AIRLIFT:-$ROOT/bin/airlift}
VGW=${VERSITYGW:-$ROOT/.tools/bin/versitygw}
WORK=$(mktemp -d /tmp/airlift-sync-bench.XXXXXX)
trap 'kill $VPID 2>/dev/null; wait $VPID 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src" "$WORK/s3" "$WORK/state"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret1234 AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=
ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
  "$VGW" --port 127.0.0.1:$PORT --quiet posix "$WORK/s3" >"$WORK/vgw.log" 2>&1 &
VPID=$!
EP=http://127.0.0.1:$PORT
for i in $(seq 50); do curl -s -o /dev/null "$EP" && break; sleep 0.1; done
aws --endpoint-url "$EP" s3api create-bucket --bucket bench >/dev/null

echo "generating $N files of $SIZE bytes"
python3 - "$WORK/src" "$N" "$SIZE" <<'PY'
import os, sys
root, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = 1000
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // per))
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%07d" % i), "wb") as f:
        if size:
            f.truncate(size)
PY
S="$BIN sync $WORK/src s3://bench/data --state-dir $WORK/state --endpoint-url $EP"
echo "first sync:"
/usr/bin/time -f "  %e s, max RSS %M KiB" $S --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print("  uploaded", r["uploaded"], "adopted", r["adopted"], "failed", r["failed"])'
for i in 1 2 3; do
  echo "no-change re-sync $i:"
  /usr/bin/time -f "  %e s, max RSS %M KiB" $S
done
echo "one file changed:"
echo changed >"$WORK/src/d0000/f0000000"
/usr/bin/time -f "  %e s, max RSS %M KiB" $S
