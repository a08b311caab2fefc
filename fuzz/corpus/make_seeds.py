#!/usr/bin/env python3
"""Regenerates the seed corpora in this directory (fuzz/corpus/<target>/).

Seeds are small hand-picked inputs near each documented limit; libFuzzer
grows its working corpus from them (fuzz/run.sh keeps that in build-fuzz/).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


names = {
    "name": b"a",
    "root": b"/",
    "simple_path": b"/a/b",
    "repeated_slashes": b"//a//b/",
    "dot": b".",
    "dotdot": b"..",
    "dot_component": b"/a/./b",
    "dotdot_component": b"/a/../../b",
    "relative": b"a/b/../c",
    "name_255": b"x" * 255,
    "name_256": b"x" * 256,
    "path_component_256": b"/a/" + b"x" * 256,
    "path_4096": b"/" + b"y" * 254 + (b"/" + b"y" * 254) * 15 + b"/" + b"z" * 15,
    "path_4097": b"/" + b"y" * 254 + (b"/" + b"y" * 254) * 15 + b"/" + b"z" * 16,
    "depth_1025": b"/a" * 1025,
    "nul": b"/a\x00b",
    "newline_unicode": "/d\u00e9j\u00e0/\u65e5\u672c/a\nb".encode(),
    "xattr_user": b"user.comment",
    "xattr_bare_prefix": b"user.",
    "xattr_security": b"security.selinux",
    "xattr_system": b"system.posix_acl_access",
    "xattr_bad_prefix": b"usr.x",
    # FuzzedDataProvider::ConsumeRandomLengthString ends the cwd at a
    # backslash followed by another byte: cwd "/home/u", path "../x/./y".
    "cwd_and_path": b"/home/u\\X../x/./y",
}
for k, v in names.items():
    write("fuzz_names", k, v)


def be(v):
    return struct.pack(">Q", v)


keys = {
    "inode_root": b"I" + be(1),
    "inode_max": b"I" + be(2**64 - 1),
    "dirent": b"D" + be(1) + b"etc",
    "dirent_unicode": b"D" + be(42) + "caf\u00e9\n".encode(),
    "dirent_begin": b"D" + be(7),
    "xattr": b"X" + be(3) + b"user.mime_type",
    "system_format": b"Sformat",
    "system_next_inode": b"Snext_inode",
    "counter": b"Cinodes\x00\x05",
    "counter_no_shard": b"Cinodes\x00",
    "short_inode": b"I" + be(1)[:7],
    "long_inode": b"I" + be(1) + b"\x00",
    "unknown_prefix": b"Z123",
    "empty": b"",
    "u64": be(0x0102030405060708),
}
for k, v in keys.items():
    write("fuzz_keys", k, v)
