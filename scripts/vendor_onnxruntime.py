"""Vendor ONNX Runtime Web's WebAssembly backend into _vendor/onnxruntime/ (run by hand).

    python scripts/vendor_onnxruntime.py            # npm pack onnxruntime-web@VERSION, then trim

Keeps three files, all from the npm package, and a LICENSE:

* ``ort.wasm.min.js``: the WASM-only build of the library, unchanged;
* ``ort-wasm-payload.js``: the package's ``ort-wasm-simd-threaded.mjs`` (the Emscripten glue,
  as a string) and ``ort-wasm-simd-threaded.wasm`` (gzip -9, base64) in one classic script.
  A page may load classic scripts from ``file://`` but may neither ``fetch`` a ``.wasm`` nor
  ``import()`` an ``.mjs`` there, so the live page hands ONNX Runtime the two as
  ``env.wasm.wasmBinary`` and a blob: URL instead. gzip also makes the download about a quarter
  of the raw ``.wasm``'s, on any host.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

VERSION = "1.30.0"
TARGET = Path(__file__).resolve().parents[1] / "_vendor" / "onnxruntime"
GLUE, WASM = "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"

MIT = """MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def _sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def payload_js(version: str, glue: bytes, wasm: bytes) -> str:
    packed = base64.b64encode(gzip.compress(wasm, compresslevel=9, mtime=0)).decode()
    header = (f"/* onnxruntime-web@{version} (MIT, see LICENSE): dist/{GLUE} (sha256 "
              f"{_sha256(glue)}) as a string and dist/{WASM} (sha256 {_sha256(wasm)}, "
              f"{len(wasm)} bytes) gzipped and base64-encoded. Made by "
              f"scripts/vendor_onnxruntime.py. */\n")
    fields = {"version": version, "glue": glue.decode("utf-8"), "wasmBytes": len(wasm),
              "wasmSha256": _sha256(wasm)}
    body = json.dumps(fields)[:-1] + f', "wasmGzipBase64": "{packed}"}}'
    return header + f"window.dnetOrtWasm = {body};\n"


def vendor(version: str = VERSION, tarball: Path | None = None, target: Path = TARGET) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if tarball is None:
            name = subprocess.run(["npm", "pack", f"onnxruntime-web@{version}"], cwd=tmp,
                                  check=True, capture_output=True, text=True).stdout.split()[-1]
            tarball = Path(tmp) / name
        with tarfile.open(tarball) as archive:
            read = lambda name: archive.extractfile(f"package/dist/{name}").read()
            library, glue, wasm = read("ort.wasm.min.js"), read(GLUE), read(WASM)
    if f"ONNX Runtime Web v{version}".encode() not in library[:200]:
        raise SystemExit(f"{tarball} is not onnxruntime-web {version}")
    target.mkdir(parents=True, exist_ok=True)
    (target / "ort.wasm.min.js").write_bytes(library)
    (target / "ort-wasm-payload.js").write_text(payload_js(version, glue, wasm))
    (target / "LICENSE").write_text(MIT)
    for path in sorted(target.iterdir()):
        print(f"{path.stat().st_size:>10,}  {path}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--version", default=VERSION)
    p.add_argument("--tarball", type=Path, default=None, help="an already packed .tgz")
    args = p.parse_args()
    vendor(args.version, args.tarball)
