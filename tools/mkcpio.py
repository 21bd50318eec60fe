#!/usr/bin/env python3
"""Write a cpio "newc" archive (magic 070701) of a directory's contents.

    python3 tools/mkcpio.py OUT.cpio DIR

Entries are named by their path relative to DIR (no leading "./"), sorted
so the archive is reproducible, and each directory comes before its
contents. Regular files, directories and symlinks are stored (other file
types are skipped with a warning); the permission and type bits of the mode
are kept, uid/gid and mtime are 0, inode numbers count up from 1, nlink is 1
(2 for directories). The archive ends with the TRAILER!!! entry. Header+name
and file data are each padded to a multiple of 4 bytes.

If DIR does not exist the archive holds only the trailer.
"""
import os
import stat
import sys

MAGIC = b"070701"


def _pad4(n):
    return (4 - n % 4) % 4


def _header(ino, mode, nlink, filesize, namesize):
    fields = (ino, mode, 0, 0, nlink, 0, filesize, 0, 0, 0, 0, namesize, 0)
    # ino mode uid gid nlink mtime filesize devmajor devminor
    # rdevmajor rdevminor namesize check
    return MAGIC + b"".join(b"%08X" % f for f in fields)


def _entry(out, ino, mode, nlink, name, data):
    bname = name.encode("utf-8") + b"\0"
    hdr = _header(ino, mode, nlink, len(data), len(bname))
    out.append(hdr + bname + b"\0" * _pad4(len(hdr) + len(bname)))
    if data:
        out.append(data + b"\0" * _pad4(len(data)))


def collect(root):
    """Yield (relative_path, absolute_path) in archive order."""
    def walk(rel):
        absdir = os.path.join(root, rel) if rel else root
        for name in sorted(os.listdir(absdir)):
            r = f"{rel}/{name}" if rel else name
            a = os.path.join(absdir, name)
            yield r, a
            if os.path.isdir(a) and not os.path.islink(a):
                yield from walk(r)
    yield from walk("")


def build(root):
    out = []
    ino = 0
    if os.path.isdir(root):
        for rel, path in collect(root):
            st = os.lstat(path)
            mode = st.st_mode
            perm = stat.S_IMODE(mode)
            if stat.S_ISDIR(mode):
                kind, nlink, data = stat.S_IFDIR, 2, b""
            elif stat.S_ISREG(mode):
                kind, nlink = stat.S_IFREG, 1
                with open(path, "rb") as f:
                    data = f.read()
            elif stat.S_ISLNK(mode):
                kind, nlink = stat.S_IFLNK, 1
                data = os.fsencode(os.readlink(path))
            else:
                print(f"mkcpio: skipping {path}: not a file, directory or symlink",
                      file=sys.stderr)
                continue
            ino += 1
            _entry(out, ino, kind | perm, nlink, rel, data)
    elif os.path.exists(root):
        sys.exit(f"mkcpio: {root}: not a directory")
    _entry(out, 0, 0, 1, "TRAILER!!!", b"")
    return b"".join(out)


def main(argv):
    if len(argv) != 3:
        print("usage: mkcpio.py OUT.cpio DIR", file=sys.stderr)
        return 2
    out_path, root = argv[1], argv[2]
    data = build(root)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
