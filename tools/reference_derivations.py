#!/usr/bin/env python3
"""Independent reference for docs/spec.md's worked example: KPK, CWEK and HMAC_KEY computed from
the spec's text alone (pure Python, hashlib for SHA-256, SHA-1 compression written out), so that the
C++ implementation is checked against a second implementation, not against itself.
Usage: tools/reference_derivations.py  (prints the example's values)"""
import hashlib
import struct


def rol(x, n):
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def sha1_compress(block):
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    w = list(struct.unpack(">16I", block))
    for i in range(16, 80):
        w.append(rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1))
    a, b, c, d, e = h
    for i in range(80):
        if i < 20:
            f, k = (b & c) | (~b & d), 0x5A827999
        elif i < 40:
            f, k = b ^ c ^ d, 0x6ED9EBA1
        elif i < 60:
            f, k = (b & c) | (b & d) | (c & d), 0x8F1BBCDC
        else:
            f, k = b ^ c ^ d, 0xCA62C1D6
        t = (rol(a, 5) + (f & 0xFFFFFFFF) + e + k + w[i]) & 0xFFFFFFFF
        e, d, c, b, a = d, c, rol(b, 30), a, t
    return struct.pack(">5I", *[(x + y) & 0xFFFFFFFF for x, y in zip(h, [a, b, c, d, e])])


def fips186_2_prf(seed, nbytes):
    b = 8 * len(seed)
    xkey = int.from_bytes(seed, "big")
    out = b""
    while len(out) < nbytes:
        w = sha1_compress(xkey.to_bytes(len(seed), "big") + b"\0" * (64 - len(seed)))
        out += w
        xkey = (1 + xkey + int.from_bytes(w, "big")) % (1 << b)
    return out[:nbytes]


def H(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


EXAMPLE = {
    "Ki1": bytes(range(0x00, 0x10)),
    "Ki2": bytes(range(0x10, 0x20)),
    "Ki3": bytes(range(0x20, 0x30)),
    "SmId": bytes.fromhex("5300000000000001"),
    "TpId": bytes.fromhex("5400000000000002"),
    "Rand": bytes(range(0x40, 0x68)),
    "RandHmac": bytes(range(0xA0, 0xB4)),
}

if __name__ == "__main__":
    assert fips186_2_prf(bytes.fromhex("bd029bbe7f51960bcf9edb2b61f06f0feb5a38b6"), 40).hex().startswith("2070b322")
    e = EXAMPLE
    seed = H(e["Ki1"], e["Ki2"], e["Ki3"], e["SmId"], e["TpId"], e["Rand"])
    kpk = fips186_2_prf(seed, 20)
    cwek = H(kpk, e["SmId"], e["TpId"])[:16]
    hmac_key = H(e["RandHmac"], e["SmId"], e["TpId"])[:20]
    for name, value in e.items():
        print(f"{name} = {value.hex()}")
    print(f"KpkSeed = {seed.hex()}")
    print(f"Kpk = {kpk.hex()}")
    print(f"Cwek = {cwek.hex()}")
    print(f"HmacKey = {hmac_key.hex()}")
