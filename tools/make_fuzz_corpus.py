#!/usr/bin/env python3
"""Writes seed corpora for the fuzz targets.

  tools/make_fuzz_corpus.py wire OUT_DIR   one valid message of each type, built from docs/spec.md's
                                           wire format, for fuzz/fuzz_wire_decode
  tools/make_fuzz_corpus.py ts OUT_DIR     the head of a transport stream made by ffmpeg (PAT, PMT,
                                           elementary streams), for fuzz/fuzz_ts
  tools/make_fuzz_corpus.py roles OUT_DIR  the reference transcripts' real messages
                                           (tests/data/transcript_<profile>.txt), each behind every
                                           role/state selector byte of its profile, for fuzz/fuzz_roles"""
import os
import struct
import sys


def tlv(tag, value):
    return struct.pack(">HH", tag, len(value)) + value


def message(mtype, fields, profile=1):
    body = b"".join(tlv(t, v) for t, v in fields)
    return struct.pack(">BBBBI", 1, profile, mtype, 0, len(body)) + body


CERT, RSA, ID, N = b"\x30" * 64, b"\xa1" * 256, b"\x41" * 8, b"\x4e" * 32
MESSAGES = {
    "tp_cert_req": message(0x01, [(0x80, CERT)]),
    "tp_cert_rsp": message(0x02, [(0x80, CERT)]),
    "key_request_sm": message(0x03, [(0x02, RSA), (0x7E, RSA), (0x80, CERT)]),
    "key_request_ap": message(0x04, [(0x01, ID), (0x02, RSA), (0x7E, RSA)]),
    "key_response_ta": message(0x05, [(0x03, RSA), (0x06, RSA), (0x7E, RSA)]),
    "key_response_ap": message(0x06, [(0x03, RSA), (0x06, RSA), (0x7E, RSA)]),
    "cwek_gen_info": message(0x07, [(0x04, RSA), (0x06, RSA), (0x7E, RSA)]),
    "cwek_gen_info_cnfm": message(0x08, [(0x05, RSA), (0x7E, RSA)]),
    "control_word": message(
        0x10, [(0x10, b"\0" * 7 + b"\1"), (0x11, b"\0" * 8), (0x12, b"\x03\x10"), (0x13, b"\x22" * 32), (0x7F, b"\x33" * 20)]
    ),
    "security_announce": message(0x20, [(0x20, b"N" * 8), (0x21, b"\0" * 8), (0x7E, RSA), (0x80, CERT)]),
    "dcas_download": message(0x21, [(0x20, b"N" * 8), (0x21, b"\0" * 8), (0x22, b"S" * 8), (0x7E, RSA), (0x80, CERT)]),
    "host_presence": message(0x22, [(0x01, ID), (0x22, b"S" * 8), (0x23, b"\1"), (0x7E, RSA)]),
    "extension": message(0x01, [(0x8050, b"x"), (0x80, CERT)]),
    # hardened1 (profile 0x02)
    "tp_cert_req_h1": message(0x11, [(0x30, N), (0x80, CERT)], 2),
    "tp_cert_rsp_h1": message(0x12, [(0x22, ID), (0x30, N), (0x31, N), (0x33, N), (0x7E, RSA), (0x80, CERT)], 2),
    "key_request_sm_h1": message(0x13, [(0x11, b"\0" * 8), (0x34, b"\1" * 16), (0x7E, RSA), (0x80, CERT)], 2),
    "key_request_ap_h1": message(0x14, [(0x01, ID), (0x35, b"\1" * 16), (0x7E, RSA)], 2),
    "key_response_ta_h1": message(0x15, [(0x22, ID), (0x30, N), (0x31, N), (0x32, ID), (0x37, RSA), (0x38, RSA),
                                         (0x39, b"\0" * 8), (0x3A, b"\1"), (0x7E, RSA)], 2),
    "key_response_ap_h1": message(0x16, [(0x36, b"\1" * 16), (0x7E, RSA)], 2),
    "cwek_gen_info_h1": message(0x17, [(0x33, N), (0x36, b"\1" * 16), (0x3B, N), (0x7E, RSA)], 2),
    "cwek_gen_info_cnfm_h1": message(0x18, [(0x3B, N)], 2),
}

def transcript_messages(profile="koo2010"):
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", f"transcript_{profile}.txt")
    with open(path) as f:
        return [bytes.fromhex(line.split("=", 1)[1].strip()) for line in f if line.startswith("Bytes =")]


if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    if kind == "wire":
        seeds = MESSAGES
    elif kind == "ts":
        import subprocess
        sample = os.path.join(out, "sample.ts")
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=10",
                        "-c:v", "mpeg2video", "-f", "mpegts", sample], check=True)
        with open(sample, "rb") as f:
            data = f.read()
        os.remove(sample)
        seeds = {f"ts-{i}": data[i * 188 * 8:(i + 1) * 188 * 8] for i in range(min(8, len(data) // (188 * 8)))}
    elif kind == "frames":
        def frame(k, stream, payload):
            return (9 + len(payload)).to_bytes(4, "big") + bytes([k]) + stream.to_bytes(8, "big") + payload
        messages = transcript_messages() + transcript_messages("hardened1")
        seeds = {f"msg-{i:02d}": frame(1, i, m) for i, m in enumerate(messages)}
        seeds["control"] = frame(2, 0, b"\x30\x03\x02\x01\x01") + frame(3, 0, b"") + frame(4, 0, b"") + \
            frame(5, 1 << 63, b"") + frame(0x7F, 3, (114).to_bytes(2, "big") + b"busy")
        seeds["stream"] = b"".join(frame(1, i + 1, m) for i, m in enumerate(messages[:4]))
    else:
        seeds = {}
        for profile, bit in (("koo2010", 0), ("hardened1", 0x80)):
            messages = transcript_messages(profile) + list(MESSAGES.values())
            seeds.update({f"{profile}-{i:02d}-{sel}": bytes([bit | sel]) + m
                          for i, m in enumerate(messages) for sel in range(14)})
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
