#!/usr/bin/env bash
# make demo: start a private S3-compatible server (versitygw) on 127.0.0.1,
# make a small sample dataset, copy it with airlift, and show the result.
# Everything lives under a temporary directory and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
AIRLIFT=$PWD/bin/airlift
VGW=$PWD/.tools/bin/versitygw
WORK=$(mktemp -d /tmp/airlift-demo.XXXXXX)
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null || echo 17070)
EP=http://127.0.0.1:$port

export AWS_ACCESS_KEY_ID=demoaccesskey AWS_SECRET_ACCESS_KEY=demosecretkey123 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE

mkdir -p "$WORK/s3/demo-bucket" "$WORK/data"
ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
  "$VGW" --port "127.0.0.1:$port" --quiet --health /health --keep-alive posix "$WORK/s3" >"$WORK/versitygw.log" 2>&1 &
VPID=$!
trap 'kill $VPID 2>/dev/null; wait $VPID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "$EP/health" && break; sleep 0.1; done

echo "== sample dataset: 300 small files in 10 folders, 3 large files (48 MiB, 20 MiB, 9 MiB)"
for d in $(seq -w 0 9); do
  mkdir -p "$WORK/data/shard-$d"
  for f in $(seq -w 0 29); do head -c $(( (RANDOM % 64 + 1) * 512 )) /dev/urandom >"$WORK/data/shard-$d/sample-$f.bin"; done
done
head -c 48M /dev/urandom >"$WORK/data/weights.safetensors"
head -c 20M /dev/urandom >"$WORK/data/train.parquet"
head -c 9M /dev/urandom >"$WORK/data/eval.parquet"

echo "== airlift copy $WORK/data s3://demo-bucket/dataset/ --endpoint-url $EP"
"$AIRLIFT" copy "$WORK/data" s3://demo-bucket/dataset/ --endpoint-url "$EP" --state-dir "$WORK/state"

echo
echo "== what the bucket holds (from the server's own storage):"
find "$WORK/s3/demo-bucket" -type f | wc -l | xargs echo "objects:"
du -sb "$WORK/s3/demo-bucket/dataset" | cut -f1 | xargs echo "bytes:  "
du -sb "$WORK/data" | cut -f1 | xargs echo "source: "
if [ -x /usr/bin/aws ]; then
  echo
  echo "== aws s3api head-object (BLAKE3 stored as metadata) vs b3sum of the source:"
  /usr/bin/aws --endpoint-url "$EP" s3api head-object --bucket demo-bucket --key dataset/shard-0/sample-00.bin --query Metadata --output text
  command -v b3sum >/dev/null && b3sum --no-names "$WORK/data/shard-0/sample-00.bin"
  echo "== multipart object: BLAKE3 in the airlift-blake3 tag vs b3sum:"
  /usr/bin/aws --endpoint-url "$EP" s3api get-object-tagging --bucket demo-bucket --key dataset/weights.safetensors --query 'TagSet[0].Value' --output text
  command -v b3sum >/dev/null && b3sum --no-names "$WORK/data/weights.safetensors"
fi
if "$AIRLIFT" verify --help >/dev/null 2>&1; then
  echo
  echo "== airlift verify --deep"
  "$AIRLIFT" verify --deep "$WORK/data" s3://demo-bucket/dataset/ --endpoint-url "$EP"
fi
