#!/usr/bin/env bash
# Installs what the tests and the demo need and a fresh machine lacks:
#   - versitygw v1.8.0, the local S3-compatible server (Go module proxy) into .tools/bin
#   - the aws CLI and b3sum (Debian packages), used to cross-check airlift
#   - python3-numpy, python3-yaml, python3-braceexpand (Debian packages): the
#     dependencies of the webdataset package in ../shared/tools/webdataset,
#     the independent reader of packed shards (copy --pack) in the tests
# Idempotent and quiet when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=$PWD/.tools/bin
mkdir -p "$TOOLS"

if [ ! -x "$TOOLS/versitygw" ]; then
  echo "installing versitygw v1.8.0 into .tools/bin (first time only)..." >&2
  GOBIN=$TOOLS GOFLAGS=-buildvcs=false go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
if [ "${STATICCHECK:-0}" = 1 ] && [ ! -x "$TOOLS/staticcheck" ]; then
  GOBIN=$TOOLS go install honnef.co/go/tools/cmd/staticcheck@latest
fi

missing=()
[ -x /usr/bin/aws ] || missing+=(awscli)
command -v b3sum >/dev/null || missing+=(b3sum)
command -v zstd >/dev/null || missing+=(zstd) # reads .tar.zst shards in the tests
for mod in numpy:python3-numpy yaml:python3-yaml braceexpand:python3-braceexpand; do
  /usr/bin/python3 -c "import ${mod%%:*}" 2>/dev/null || missing+=("${mod#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: missing ${missing[*]} (install with: sudo apt-get install ${missing[*]}); cross-check tests need them" >&2
  fi
fi
