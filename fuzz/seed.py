#!/usr/bin/env python3
"""Writes seed corpora for the fuzz targets from the recorded OTP 25 connection in
crates/proto/tests/vectors (see its README): the handshake of each direction for
`handshake`, the distribution packets that follow for `dist`, and a few EPMD requests
and responses for `epmd`. Run from this directory."""

import binascii
import os

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "proto",
                       "tests", "vectors")


def load(name):
    with open(os.path.join(VECTORS, name)) as f:
        return binascii.unhexlify("".join(f.read().split()))


def split_handshake(stream, frames):
    """The first `frames` 2-byte-framed handshake messages, and what follows them."""
    i = 0
    for _ in range(frames):
        i += 2 + int.from_bytes(stream[i:i + 2], "big")
    return stream[:i], stream[i:]


def write(target, name, data):
    os.makedirs(os.path.join("corpus", target), exist_ok=True)
    with open(os.path.join("corpus", target, name), "wb") as f:
        f.write(data)


def main():
    # a2b: send_name, challenge_reply; b2a: status, challenge, challenge_ack.
    hs_a, dist_a = split_handshake(load("otp25_a2b.hex"), 2)
    hs_b, dist_b = split_handshake(load("otp25_b2a.hex"), 3)
    # dist: first byte = read size - 1.
    write("dist", "a2b", bytes([255]) + dist_a)
    write("dist", "b2a", bytes([63]) + dist_b)
    # handshake: bit 0 = initiator, bit 1 = refuse, the rest = read size - 1.
    write("handshake", "acceptor", bytes([0]) + hs_a)
    write("handshake", "initiator", bytes([1]) + hs_b)
    write("handshake", "initiator_small_reads", bytes([1 | 3 << 2]) + hs_b)
    alive = (bytes([120]) + (4369).to_bytes(2, "big") + bytes([77, 0]) +
             (6).to_bytes(2, "big") * 2 + (1).to_bytes(2, "big") + b"a" +
             (0).to_bytes(2, "big"))
    write("epmd", "alive2_req", len(alive).to_bytes(2, "big") + alive)
    write("epmd", "port_please2_req", (2).to_bytes(2, "big") + bytes([122]) + b"a")
    write("epmd", "names_req", (1).to_bytes(2, "big") + bytes([110]))
    write("epmd", "alive2_resp", bytes([118, 0]) + (5).to_bytes(4, "big"))
    write("epmd", "port2_resp", bytes([119, 0]) + (4369).to_bytes(2, "big") +
          bytes([77, 0, 0, 6, 0, 6, 0, 1]) + b"a" + bytes([0, 0]))


if __name__ == "__main__":
    main()
