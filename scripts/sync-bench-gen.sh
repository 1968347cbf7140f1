#!/usr/bin/env bash
# No-change re-sync benchmark on a generated, already-synced tree (not part
# of make test): scripts/sync-bench-gen.sh FILES [RUNS]
# e.g. 1000000 2. Writes FILES empty files (1,000 per folder) and a state
# store that records them as synced (TestGenerateSyncedTree), so a million
# files need not be uploaded first; then times RUNS no-change syncs and one
# with a single file changed, with peak RSS (which counts the store's
# mapped pages). A private versitygw answers the bucket check and the one
# upload. Everything is deleted at the end. AIRLIFT=path picks the binary;
# SYNCER_TEST=path a prebuilt `go test -c ./sync/syncer` binary (to
# generate a store as another version writes it).
set -euo pipefail
N=${1:-20000}
RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${AIRLIFT:-$ROOT/bin/airlift}
VGW=${VERSITYGW:-$ROOT/.tools/bin/versitygw}
WORK=$(mktemp -d /tmp/airlift-sync-bench-gen.XXXXXX)
trap 'kill $VPID 2>/dev/null; wait $VPID 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/s3"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret1234 AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=
ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
  "$VGW" --port 127.0.0.1:$PORT --quiet posix "$WORK/s3" >"$WORK/vgw.log" 2>&1 &
VPID=$!
EP=http://127.0.0.1:$PORT
for i in $(seq 50); do curl -s -o /dev/null "$EP" && break; sleep 0.1; done
aws --endpoint-url "$EP" s3api create-bucket --bucket bench >/dev/null

echo "generating $N files and their state"
GEN=(go test -count=1 -run TestGenerateSyncedTree ./sync/syncer)
if [ -n "${SYNCER_TEST:-}" ]; then GEN=("$SYNCER_TEST" -test.run TestGenerateSyncedTree); fi
(cd "$ROOT" && SYNC_BENCH_GEN=$WORK SYNC_BENCH_FILES=$N SYNC_BENCH_ENDPOINT=$EP nice -n 10 "${GEN[@]}" >/dev/null)
echo "  store: $(du -m "$WORK"/state/*.db | cut -f1) MiB"
S=("$BIN" sync "$WORK/src" s3://bench/data --state-dir "$WORK/state" --endpoint-url "$EP" --json)
report='import json,sys; r=json.load(open(sys.argv[1])); print("  uploaded", r["uploaded"], "skipped", r["skipped"], "failed", r["failed"])'
for i in $(seq "$RUNS"); do
  echo "no-change re-sync $i:"
  /usr/bin/time -o "$WORK/time" -f "  %e s wall, %U+%S s CPU, max RSS %M KiB" "${S[@]}" >"$WORK/out.json"; cat "$WORK/time"
  python3 -c "$report" "$WORK/out.json"
done
echo "  store after: $(du -m "$WORK"/state/*.db | cut -f1) MiB"
echo "one file changed:"
echo changed >"$WORK/src/d0000/f0000000"
/usr/bin/time -o "$WORK/time" -f "  %e s wall, %U+%S s CPU, max RSS %M KiB" "${S[@]}" >"$WORK/out.json"; cat "$WORK/time"
python3 -c "$report" "$WORK/out.json"
