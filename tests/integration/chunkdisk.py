"""Stored chunks on a chunk server's disk, read (and damaged) behind its
back, whichever store holds them (docs/chunk-format.md):

- chunk files, DIR/chunks/ab/cd/<id> ("A chunk file"): one file per chunk,
  the chunks above --small-chunk-limit (128 KiB by default), or every
  chunk with --small-chunk-limit 0;
- records in volume files, DIR/volumes/volume-<10 digits> ("Volume
  files"): chunks up to the limit, appended to a log.

    copies = stored_chunks(data_dir)       # {chunk id hex: StoredChunk}
    c = copies[chunk_id]
    c.kind, c.length, c.read()             # "file" or "volume", data bytes
    c.flip(10)                             # XOR one data byte: a CRC failure

Only data bytes are ever touched (never a header or a CRC table), so damage
shows up as a block checksum failure on read or scrub, the same for both
stores. The volume reader follows the server's rules: records are taken in
log order (volume number, then offset), the latest PUT of an id wins, a
DELETE (a delete or a quarantine) drops it, nothing after a SEAL counts, a
position without a valid header is skipped. Data is not verified: a record
damaged on purpose is still the stored copy (as it is for the running
server, which reports it corrupt; a restarted one drops damaged records of
an unsealed volume, docs/chunk-format.md "Opening").

A volume may be appended to while it is read: a record whose header is not
written yet is not seen. Records are append-only, so what a scan found
before the first position without a valid record is kept (per volume file,
by inode) and the next scan resumes there. Shared by tests/integration and
tests/fault (faultlib loads this file). Pure standard library; the cache is
a dict whose entries are replaced whole, so calls from several threads are
safe.
"""

import os
import re
from pathlib import Path

BLOCK = 64 * 1024

# "A chunk file"
FILE_HEADER = 64
FILE_MAGIC = b"CAIRNCHK"
PAGE = 4096

# "Volume files"
VOLUME_MAGIC = b"CAIRNVOL"
RECORD_MAGIC = b"CAIRNREC"
VOLUME_HEADER = 64
RECORD_HEADER = 64
PUT, DELETE, SEAL = 1, 2, 3
_VOLUME_NAME = re.compile(r"^volume-(\d{10})$")
_HEX = set("0123456789abcdef")
_WINDOW = 1 << 20  # bytes read at once while searching for the next record


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC32C (Castagnoli), as src/chunk/crc32c.h: crc32c(b"123456789") ==
    0xE3069283."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _u(raw, at, size):
    return int.from_bytes(raw[at:at + size], "little")


def num_blocks(length):
    return (length + BLOCK - 1) // BLOCK


def file_data_offset(length):
    """Where a chunk file's data starts ("A chunk file")."""
    return (FILE_HEADER + 4 * num_blocks(length) + PAGE - 1) // PAGE * PAGE


class StoredChunk:
    """One stored copy of a chunk: where its data lies on disk.

    kind: "file" (path is the chunk file) or "volume" (path is the volume
    file, record_offset where the record's header sits). data_offset is
    the file offset of the first data byte, length the data length."""

    __slots__ = ("id", "kind", "path", "data_offset", "length", "record_offset", "seq")

    def __init__(self, id, kind, path, data_offset, length, record_offset=0, seq=0):
        self.id = id
        self.kind = kind
        self.path = Path(path)
        self.data_offset = data_offset
        self.length = length
        self.record_offset = record_offset
        self.seq = seq  # volume number (volumes only)

    def place(self):
        """(path, record offset): changes when a copy is written again."""
        return (str(self.path), self.record_offset)

    def read(self):
        """The data bytes as they are on disk now."""
        with open(self.path, "rb") as f:
            f.seek(self.data_offset)
            return f.read(self.length)

    def flip(self, at, mask=0x5A):
        """XORs data byte `at` (0 <= at < length) with `mask` and syncs."""
        assert 0 <= at < self.length, (at, self.length)
        assert mask & 0xFF, mask
        with open(self.path, "r+b") as f:
            f.seek(self.data_offset + at)
            b = f.read(1)
            f.seek(self.data_offset + at)
            f.write(bytes([b[0] ^ (mask & 0xFF)]))
            f.flush()
            os.fsync(f.fileno())

    def __repr__(self):
        where = f"@{self.record_offset}" if self.kind == "volume" else ""
        return f"<{self.kind} {self.id} {self.length} B in {self.path}{where}>"


def _is_id(name):
    return len(name) == 32 and all(c in _HEX for c in name)


def chunk_file_paths(data_dir):
    """Every chunk file of one data directory (no temporaries, nothing in
    quarantine), as paths."""
    root = Path(data_dir) / "chunks"
    if not root.is_dir():
        return []
    return [p for p in root.glob("*/*/*") if _is_id(p.name) and p.is_file()]


def chunk_files(data_dir):
    """{id: StoredChunk} of the chunk files of one data directory; a file
    whose header cannot be read (deleted meanwhile, not written yet) is
    left out."""
    out = {}
    for p in chunk_file_paths(data_dir):
        try:
            with open(p, "rb") as f:
                header = f.read(FILE_HEADER)
        except FileNotFoundError:
            continue
        if len(header) < FILE_HEADER or header[:8] != FILE_MAGIC:
            continue
        length = _u(header, 32, 8)
        out[p.name] = StoredChunk(p.name, "file", p, file_data_offset(length), length)
    return out


def volume_paths(data_dir):
    """[(number, path)] of the volume files of one data directory, in order."""
    vdir = Path(data_dir) / "volumes"
    if not vdir.is_dir():
        return []
    found = []
    for p in vdir.iterdir():
        m = _VOLUME_NAME.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def _record_header(raw, nonce, pos):
    """(type, id hex, length, blocks) of a valid record header read at
    `pos`, else None (docs/chunk-format.md, "Record header")."""
    if len(raw) < RECORD_HEADER or raw[:8] != RECORD_MAGIC:
        return None
    if crc32c(raw[:60], crc32c(nonce.to_bytes(8, "little"))) != _u(raw, 60, 4):
        return None
    version, rtype, blocks = _u(raw, 8, 2), _u(raw, 10, 2), _u(raw, 12, 4)
    hi, lo, length, offset = _u(raw, 16, 8), _u(raw, 24, 8), _u(raw, 32, 8), _u(raw, 48, 8)
    if version != 1 or offset != pos or rtype not in (PUT, DELETE, SEAL):
        return None
    if rtype == PUT and blocks != num_blocks(length):
        return None
    if rtype != PUT and (length != 0 or blocks != 0):
        return None
    return rtype, f"{hi:016x}{lo:016x}", length, blocks


# path -> (inode, nonce, records up to `resume`, resume, sealed, header
# bytes of the last of those records)
_scanned = {}


def volume_records(path):
    """[(type, id hex, StoredChunk or None)] of every valid record of one
    volume file in offset order, up to its SEAL record (not included)."""
    path = str(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        _scanned.pop(path, None)
        return []  # compacted away meanwhile
    try:
        st = os.fstat(fd)
        size = st.st_size
        head = os.pread(fd, VOLUME_HEADER, 0)
        if len(head) < VOLUME_HEADER or head[:8] != VOLUME_MAGIC:
            return []
        if crc32c(head[:60]) != _u(head, 60, 4):
            return []
        align, seq, nonce = _u(head, 12, 4), _u(head, 16, 8), _u(head, 24, 8)
        if align < 512 or align & (align - 1):
            return []
        cached = _scanned.get(path)
        if cached and cached[0] == st.st_ino and cached[1] == nonce and (
                not cached[2] or os.pread(fd, RECORD_HEADER, cached[2][-1][3]) == cached[5]):
            # (the last record kept is still there: no restart cut the tail)
            if cached[4]:
                return [r[:3] for r in cached[2]]  # sealed: complete
            records, pos = list(cached[2]), cached[3]
        else:
            records, pos = [], align
        settled, resume, sealed, hole = len(records), pos, False, False
        while pos + RECORD_HEADER <= size:
            raw = os.pread(fd, RECORD_HEADER, pos)
            h = _record_header(raw, nonce, pos)
            if h is None:
                if not hole:
                    hole, resume = True, pos  # a header may still be written here
                pos = _next_magic(fd, pos + align, align, size)
                continue
            rtype, cid, length, blocks = h
            if rtype == SEAL:
                sealed = True
                break
            used = RECORD_HEADER + 4 * blocks + length
            if pos + used > size:
                break  # a torn tail
            copy = None
            if rtype == PUT:
                copy = StoredChunk(cid, "volume", path, pos + RECORD_HEADER + 4 * blocks,
                                   length, pos, seq)
            records.append((rtype, cid, copy, pos, raw))
            pos += (used + align - 1) // align * align
            if not hole:
                settled, resume = len(records), pos
        kept = records if sealed else records[:settled]
        _scanned[path] = (st.st_ino, nonce, kept, pos if sealed else resume, sealed,
                          kept[-1][4] if kept else b"")
        return [r[:3] for r in records]
    finally:
        os.close(fd)


def _next_magic(fd, pos, align, size):
    """The next aligned position at or after `pos` that starts with the
    record magic, or `size`."""
    pos = (pos + align - 1) // align * align
    while pos < size:
        window = os.pread(fd, min(_WINDOW, size - pos) + len(RECORD_MAGIC), pos)
        at = 0
        while True:
            at = window.find(RECORD_MAGIC, at)
            if at < 0:
                break
            if (pos + at) % align == 0:
                return pos + at
            at += 1
        pos += _WINDOW
    return size


def volume_chunks(data_dir):
    """{id: StoredChunk} of the chunks live in one data directory's volumes."""
    live = {}
    for _, path in volume_paths(data_dir):
        for rtype, cid, copy in volume_records(path):
            if rtype == PUT:
                live[cid] = copy
            else:
                live.pop(cid, None)
    return live


def stored_chunks(data_dir):
    """{id: StoredChunk} of every chunk stored in one data directory, in a
    volume or in a file of its own (the volume copy when both exist, as the
    server reads it first)."""
    out = chunk_files(data_dir)
    out.update(volume_chunks(data_dir))
    return out
