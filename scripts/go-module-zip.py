#!/usr/bin/env python3
"""A Go module as a GOPROXY directory (https://go.dev/ref/mod#goproxy-protocol), from the files git tracks:
    go-module-zip.py SRC_DIR MODULE_PATH VERSION OUT_DIR
writes OUT_DIR/<module path>/@v/{list, VERSION.info, VERSION.mod, VERSION.zip}. The zip holds every tracked
file under SRC_DIR as <module>@<version>/<path> (the module zip format; fixed timestamps, so the same sources
give the same bytes and the same go.sum hash). Use it with GOPROXY=file://OUT_DIR."""
import json
import os
import subprocess
import sys
import zipfile

src, module, version, out = sys.argv[1:5]
files = subprocess.run(["git", "ls-files", "-z", "--", src], check=True, capture_output=True).stdout.decode().split("\0")
files = sorted(f for f in files if f and os.path.isfile(f))
if os.path.join(src, "go.mod") not in files:
    sys.exit(f"go-module-zip: {src}/go.mod is not tracked")
d = os.path.join(out, module, "@v")
os.makedirs(d, exist_ok=True)
with zipfile.ZipFile(os.path.join(d, f"{version}.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    for f in files:
        rel = os.path.relpath(f, src)
        info = zipfile.ZipInfo(f"{module}@{version}/{rel}", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(f, "rb") as fh:
            z.writestr(info, fh.read())
with open(os.path.join(src, "go.mod"), "rb") as fh, open(os.path.join(d, f"{version}.mod"), "wb") as o:
    o.write(fh.read())
with open(os.path.join(d, f"{version}.info"), "w") as o:
    json.dump({"Version": version, "Time": "2020-01-01T00:00:00Z"}, o)
with open(os.path.join(d, "list"), "w") as o:
    o.write(version + "\n")
print(f"dist: go       {module}@{version} ({len(files)} files) in {out}")
