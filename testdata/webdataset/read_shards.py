"""Reads airlift's packed shards with the webdataset package, as a training
job does, and compares every sample's bytes with the source tree.

usage: read_shards.py SRC_DIR URL...   (URLs as webdataset takes them, e.g.
"pipe:aws --endpoint-url http://127.0.0.1:PORT s3 cp s3://bucket/ds/shard-000000.tar -")

Prints one JSON line: samples, files and bytes read, and the files that
differed (with the reason). Exits 1 on any difference."""
import json
import os
import sys

import webdataset as wds

src, urls = sys.argv[1], sys.argv[2:]
samples, files, nbytes, bad, seen = 0, 0, 0, [], []
for sample in wds.WebDataset(urls, shardshuffle=False):
    samples += 1
    key = sample["__key__"]
    for ext, data in sample.items():
        if ext.startswith("__"):
            continue
        rel = key + "." + ext
        seen.append(rel)
        files += 1
        nbytes += len(data)
        try:
            with open(os.path.join(src, rel), "rb") as f:
                want = f.read()
        except OSError as e:
            bad.append([rel, "not in the source: %s" % e])
            continue
        if want != data:
            bad.append([rel, "bytes differ (%d vs %d)" % (len(want), len(data))])
print(json.dumps({"samples": samples, "files": files, "bytes": nbytes, "seen": seen, "bad": bad}))
sys.exit(1 if bad else 0)
