#!/usr/bin/env python3
"""Throwaway capture harness: a fake EPMD plus a logging TCP proxy between two real
erl nodes. Writes every chunk seen on the wire, per direction, to a log file."""
import socket, struct, threading, sys, time, json, os

EPMD_PORT = int(os.environ.get("CAP_EPMD_PORT", "43691"))
PROXY_PORT = int(os.environ.get("CAP_PROXY_PORT", "45102"))
B_PORT = int(os.environ.get("CAP_B_PORT", "45101"))
A_PORT = int(os.environ.get("CAP_A_PORT", "45103"))
LOG = os.environ.get("CAP_LOG", "/tmp/fbp_cap/wire.jsonl")
lock = threading.Lock()
logf = open(LOG, "w")

def log(direction, data):
    with lock:
        logf.write(json.dumps({"t": time.time(), "dir": direction, "hex": data.hex()}) + "\n")
        logf.flush()

def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            raise EOFError
        buf += c
    return buf

def epmd_client(c):
    try:
        (ln,) = struct.unpack(">H", recv_exact(c, 2))
        req = recv_exact(c, ln)
        if req[0] == 120:  # ALIVE2_REQ
            c.sendall(bytes([118, 0]) + struct.pack(">I", 7))
            while c.recv(100):
                pass
        elif req[0] == 122:  # PORT_PLEASE2_REQ
            name = req[1:]
            port = PROXY_PORT if name == b"b" else A_PORT
            c.sendall(bytes([119, 0]) + struct.pack(">HBBHHH", port, 77, 0, 6, 6, len(name)) + name + struct.pack(">H", 0))
        elif req[0] == 110:
            c.sendall(struct.pack(">I", EPMD_PORT))
    except EOFError:
        pass
    finally:
        c.close()

def epmd():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", EPMD_PORT)); s.listen(16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=epmd_client, args=(c,), daemon=True).start()

def pump(src, dst, direction):
    try:
        while True:
            d = src.recv(1 << 20)
            if not d:
                break
            log(direction, d)
            dst.sendall(d)
    except OSError:
        pass
    finally:
        try: dst.shutdown(socket.SHUT_WR)
        except OSError: pass

def proxy():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", PROXY_PORT)); s.listen(16)
    while True:
        c, _ = s.accept()
        u = socket.create_connection(("127.0.0.1", B_PORT))
        threading.Thread(target=pump, args=(c, u, "a2b"), daemon=True).start()
        threading.Thread(target=pump, args=(u, c, "b2a"), daemon=True).start()

threading.Thread(target=epmd, daemon=True).start()
threading.Thread(target=proxy, daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(3600)
