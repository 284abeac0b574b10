#!/usr/bin/env python3
"""Build the interop self-test corpus and its SPEC.json.

    python3 tests/interop/gen_corpus.py OUTDIR [--small]

Writes the corpus under OUTDIR/corpus and the cases to OUTDIR/spec.json
(prints the spec path). Idempotent: existing files of the right size are kept.
--small leaves out the two ~45 MB files and the 5000-file directory.

Pseudo-random file content is deterministic and easy to reproduce in any
language: the concatenation of SHA-256(b"ipfsd-interop" + i.to_bytes(8, "little"))
for i = 0, 1, 2, ... cut to the wanted length (the same stream for every file).
"""
import hashlib
import json
import os
import sys

CHUNK = 262144


def prng_bytes(n: int) -> bytes:
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"ipfsd-interop" + i.to_bytes(8, "little")).digest()
        i += 1
    return bytes(out[:n])


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.isfile(path) and os.path.getsize(path) == len(data):
        with open(path, "rb") as f:
            if f.read() == data:
                return
    with open(path, "wb") as f:
        f.write(data)


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    small = "--small" in sys.argv[1:]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = os.path.abspath(args[0])
    c = os.path.join(out, "corpus")
    os.makedirs(c, exist_ok=True)

    files = {
        "empty": b"",
        "hello": b"hello world\n",
        "one_byte": b"a",
        "r262143": prng_bytes(CHUNK - 1),
        "r262144": prng_bytes(CHUNK),
        "r262145": prng_bytes(CHUNK + 1),
    }
    if not small:
        big = prng_bytes(175 * CHUNK)
        files["r174x"] = big[: 174 * CHUNK]
        files["r175x"] = big
    for name, data in files.items():
        write(os.path.join(c, name), data)

    # empty directory
    os.makedirs(os.path.join(c, "emptydir"), exist_ok=True)

    # nested dir: empty files, an empty dir, a non-empty file
    n = os.path.join(c, "nested")
    write(os.path.join(n, "a", "empty1"), b"")
    write(os.path.join(n, "a", "b", "empty2"), b"")
    write(os.path.join(n, "c", "empty3"), b"")
    write(os.path.join(n, "top.txt"), b"hello world\n")
    os.makedirs(os.path.join(n, "emptysub"), exist_ok=True)
    os.makedirs(os.path.join(n, "a", "b", "deep_empty"), exist_ok=True)

    # hidden files
    h = os.path.join(c, "withhidden")
    write(os.path.join(h, "visible.txt"), b"visible\n")
    write(os.path.join(h, ".hidden"), b"hidden\n")
    write(os.path.join(h, ".hiddendir", "inner"), b"inner\n")
    write(os.path.join(h, "sub", ".dotfile"), b"dot\n")

    # symlinks (relative, absolute-looking, dangling)
    s = os.path.join(c, "withsymlink")
    write(os.path.join(s, "target.txt"), b"target\n")
    for lname, target in (("link_rel", "target.txt"), ("link_dangling", "does/not/exist"), ("link_abs", "/etc/hostname")):
        lp = os.path.join(s, lname)
        if not os.path.islink(lp):
            os.symlink(target, lp)

    if not small:
        # 5000 files with long-ish names: sum(len(name)+len(cid)) ~ 5000*(45+34) > 256 KiB -> HAMT
        d = os.path.join(c, "many5000")
        for i in range(5000):
            write(os.path.join(d, f"file-with-a-longish-name-number-{i:05d}.txt"), f"{i}\n".encode())
        # 4096 files with 30-byte names: CIDv0 links-estimate = 4096*(30+34) = 262144 exactly.
        # Kubo < 0.40 shards at >= threshold, JS (and Kubo >= 0.40) only at > threshold.
        d = os.path.join(c, "boundary4096")
        for i in range(4096):
            name = f"boundary-file-name-{i:011d}"
            assert len(name) == 30
            write(os.path.join(d, name), f"b{i}\n".encode())

    paths = sorted(os.listdir(c))
    spec = []
    for p in paths:
        ap = os.path.join(c, p)
        spec.append({"name": f"{p}/v0", "path": ap, "cidVersion": 0, "rawLeaves": None, "chunkSize": CHUNK,
                     "maxLinks": None, "profile": None, "hidden": False})
        spec.append({"name": f"{p}/v1", "path": ap, "cidVersion": 1, "rawLeaves": None, "chunkSize": CHUNK,
                     "maxLinks": None, "profile": None, "hidden": False})
        spec.append({"name": f"{p}/v1-2025", "path": ap, "cidVersion": 1, "rawLeaves": True, "chunkSize": 1048576,
                     "maxLinks": 1024, "profile": "unixfs-v1-2025", "hidden": False})
    spec.append({"name": "withhidden/v0/hidden", "path": os.path.join(c, "withhidden"), "cidVersion": 0,
                 "rawLeaves": None, "chunkSize": CHUNK, "maxLinks": None, "profile": None, "hidden": True})
    spec.append({"name": "r262145/v0/chunk1024-links11", "path": os.path.join(c, "r262145"), "cidVersion": 0,
                 "rawLeaves": None, "chunkSize": 1024, "maxLinks": 11, "profile": None, "hidden": False})
    spec.append({"name": "r262145/v1/rawleaves-false", "path": os.path.join(c, "r262145"), "cidVersion": 1,
                 "rawLeaves": False, "chunkSize": CHUNK, "maxLinks": None, "profile": None, "hidden": False})
    sp = os.path.join(out, "spec.json")
    with open(sp, "w") as f:
        json.dump(spec, f, indent=1)
    print(sp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
