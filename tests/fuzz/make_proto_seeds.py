#!/usr/bin/env python3
"""Writes the protobuf seeds of the `record` and `ingest` fuzz targets with protoc (the build
runs it; no binary protobuf is committed):

  corpus_txt/record/*.txtpb  (cit.v1.AgentMessage, text format)  -> OUT/record/*.bin
  corpus_txt/ingest/*.txtpb  (cit.v1.RecordBatch, text format)   -> OUT/ingest/*.bin
  generated RecordBatches at the server's size limits             -> OUT/ingest/gen_*.bin

The generated ones are structure-aware seeds: a full batch of valid fixes (1,000 records, the
default max_batch_records), and a batch one record over the limit, which takes the oversize path.
The ingest target's mutator grows record counts from there (ingest_fuzz.cc).

    python3 make_proto_seeds.py --protoc protoc --proto-dir proto --txt-dir corpus_txt --out DIR
"""
import argparse
import pathlib
import subprocess

T0 = 1795953600 - 3600  # an hour before the ingest target's clock


def encode(args, message, text):
    return subprocess.run(
        [args.protoc, "-I", args.proto_dir, f"--encode=cit.v1.{message}", "cit/v1/telemetry.proto"],
        input=text.encode(), check=True, capture_output=True).stdout


def fix(seq):
    return (f"records {{ seq: {seq} event_time {{ seconds: {T0 + seq} }} "
            f"agent_monotonic_ns: {seq * 1000000000} agent_boot: 1 "
            f"fix {{ lat_deg: {52.85 + seq * 1e-5:.6f} lon_deg: 5.31 mode: FIX_MODE_3D "
            f"speed_mps: 12 receiver_time {{ seconds: {T0 + seq} }} }} }}\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--protoc", required=True)
    p.add_argument("--proto-dir", required=True)
    p.add_argument("--txt-dir", required=True, type=pathlib.Path)
    p.add_argument("--out", required=True, type=pathlib.Path)
    args = p.parse_args()
    for sub, message in (("record", "AgentMessage"), ("ingest", "RecordBatch")):
        out = args.out / sub
        out.mkdir(parents=True, exist_ok=True)
        for txt in sorted((args.txt_dir / sub).glob("*.txtpb")):
            (out / (txt.stem + ".bin")).write_bytes(encode(args, message, txt.read_text()))
    out = args.out / "ingest"
    full = "covers_from_seq: 1\n" + "".join(fix(s) for s in range(1, 1001))
    (out / "gen_full_batch.bin").write_bytes(encode(args, "RecordBatch", full))
    over = "".join(f"records {{ seq: {s} }}\n" for s in range(1, 1002))
    (out / "gen_oversize_batch.bin").write_bytes(encode(args, "RecordBatch", over))


if __name__ == "__main__":
    main()
