#!/usr/bin/env python3
"""Writes a copy of a safetensors file with every F32 tensor rounded to BF16 (round to nearest even), so that MiniLM
(91 MB) fits the 64 MiB a GPU-machine call carries (45 MB). l2r and the PyTorch bench both widen the weights back to
fp32 on load, so both devices and both sides compute with the same values. Standard library only.

    python3 scripts/bf16-weights.py assets/minilm/model.safetensors gpu-bundle/minilm/model.safetensors
"""
import array
import json
import struct
import sys


def to_bf16(raw):
    words = array.array("I")
    words.frombytes(raw)
    if sys.byteorder != "little":
        words.byteswap()
    halves = array.array("H", ((w + 0x7FFF + ((w >> 16) & 1)) >> 16 & 0xFFFF for w in words))
    return halves.tobytes()


def main(source, target):
    with open(source, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    data = blob[8 + header_len:]
    out_header, chunks, offset = {}, [], 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0] if kv[0] != "__metadata__" else -1):
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        dtype = info["dtype"]
        if dtype == "F32":
            raw, dtype = to_bf16(raw), "BF16"
        out_header[name] = {"dtype": dtype, "shape": info["shape"], "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(out_header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(target, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for chunk in chunks:
            f.write(chunk)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
