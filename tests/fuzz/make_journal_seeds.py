#!/usr/bin/env python3
"""Writes the journal fuzz target's seeds (tests/fuzz/corpus/journal/*.bin) in its input layout
(see journal_fuzz.cc): a flags byte, an optional state file up to a NUL, then segment frames
[u32 len][u32 CRC-32][serialized cit.v1.Record], little endian. Records are encoded with protoc.

    python3 tests/fuzz/make_journal_seeds.py     # from the repository root
"""
import pathlib
import struct
import subprocess
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fuzz/corpus/journal"


def record(text):
    return subprocess.run(
        ["protoc", "-I", str(ROOT / "proto"), "--encode=cit.v1.Record", "cit/v1/telemetry.proto"],
        input=text.encode(), check=True, capture_output=True).stdout


def frame(payload):
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


FIX = ('seq: 1 event_time { seconds: 1795950000 } agent_monotonic_ns: 5 agent_boot: 1 '
       'fix { lat_deg: 52.85 lon_deg: 5.31 mode: FIX_MODE_3D speed_mps: 3 '
       'receiver_time { seconds: 1795950000 } }')
DOOR = 'seq: 2 event_time { seconds: 1795950001 } door { door: 1 state: DOOR_STATE_OPEN }'
PANIC = 'seq: 3 event_time { seconds: 1795950002 } panic { source: "socket" }'
FIX4 = FIX.replace("seq: 1", "seq: 4").replace("lat_deg: 52.85", "lat_deg: 52.86")

OUT.mkdir(parents=True, exist_ok=True)
segment = b"".join(frame(record(t)) for t in (FIX, DOOR, PANIC, FIX4))
state = b"high_water 7\nboot 3\nlast_fix_time_ns 1795950000000000000\nlast_fix_lat 52.85\nlast_fix_lon 5.31\n"
(OUT / "four_records.bin").write_bytes(b"\x00" + segment)
(OUT / "state_and_records.bin").write_bytes(b"\x02" + state + b"\x00" + segment)
(OUT / "torn_tail_fixup.bin").write_bytes(b"\x01" + segment[:-5])
(OUT / "seq_out_of_order.bin").write_bytes(b"\x01" + frame(record(DOOR)) + frame(record(FIX)))
