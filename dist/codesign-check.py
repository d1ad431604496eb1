#!/usr/bin/env python3
"""Checks a Mach-O binary's ad hoc code signature the way macOS does at launch: codesign-check.py FILE

An arm64 binary whose signature is missing or does not match its pages is killed by macOS
before it runs; a signature made at link time and then broken by a later step (strip, a
patch) is still "present". This recomputes every page hash of the signature's CodeDirectory
and compares. Used by dist/check, since no codesign tool runs on Linux.
"""

import hashlib
import struct
import sys

LC_CODE_SIGNATURE = 0x1D
CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CS_ADHOC = 0x2
HASHES = {1: hashlib.sha1, 2: hashlib.sha256}


def fail(message):
    sys.exit(f"{sys.argv[1]}: {message}")


def main():
    data = open(sys.argv[1], "rb").read()
    magic, _, _, _, ncmds, _, _, _ = struct.unpack_from("<8I", data, 0)
    if magic != 0xFEEDFACF:
        fail("not a 64-bit little-endian Mach-O file")
    offset, signature = 32, None
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<2I", data, offset)
        if cmd == LC_CODE_SIGNATURE:
            signature = struct.unpack_from("<2I", data, offset + 8)
        offset += size
    if signature is None:
        fail("no code signature (LC_CODE_SIGNATURE)")
    start, length = signature
    blob = data[start : start + length]
    magic, _, count = struct.unpack_from(">3I", blob, 0)
    if magic != CSMAGIC_EMBEDDED_SIGNATURE:
        fail("the signature is not an embedded signature")
    directories = 0
    for i in range(count):
        _, at = struct.unpack_from(">2I", blob, 12 + 8 * i)
        if struct.unpack_from(">I", blob, at)[0] != CSMAGIC_CODEDIRECTORY:
            continue
        (_, _, _, flags, hash_offset, _, _, slots, limit, hash_size, hash_type, _, page_log2) = (
            struct.unpack_from(">9I4B", blob, at)
        )
        if hash_type not in HASHES:
            fail(f"unknown hash type {hash_type}")
        if limit != start:
            fail(f"the signature covers {limit} bytes, the code is {start}")
        page = 1 << page_log2
        for slot in range(slots):
            want = blob[at + hash_offset + slot * hash_size :][:hash_size]
            got = HASHES[hash_type](data[slot * page : min((slot + 1) * page, limit)]).digest()
            if got[:hash_size] != want:
                fail(f"page {slot} does not match its signature: the binary changed after signing")
        if slots * page < limit:
            fail("the signature does not cover every page")
        directories += 1
        kind = "ad hoc" if flags & CS_ADHOC else "signed"
    if directories == 0:
        fail("the signature has no code directory")
    print(f"{kind}, {directories} code director{'y' if directories == 1 else 'ies'} valid")


main()
