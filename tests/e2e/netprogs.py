"""Small network programs the end-to-end tests run inside namespaces (each a Python script passed as text).

SERVER TAG READY SPEC...: SPEC "tcp:PORT" or "udp:PORT" answers "<TAG> <peer address>" on each connection or
datagram; "log:PATH" also appends "<peer address> <data>" of each datagram to PATH. READY appears once every
socket is bound.
CLIENT PROTO HOST PORT TIMEOUT: prints the server's answer (exit 0), or "error ..." / nothing (exit 1).
"""

SERVER = r"""
import os, socket, sys, threading
tag, ready = sys.argv[1], sys.argv[2]
socks = []
log = None
for spec in sys.argv[3:]:
    proto, port = spec.split(":", 1)
    if proto == "log":
        log = port
        continue
    if proto == "tcp":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(port)))
        s.listen(64)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", int(port)))
    socks.append((proto, s))

def tcp(s):
    while True:
        c, a = s.accept()
        try:
            c.sendall(f"{tag} {a[0]}\n".encode())
        finally:
            c.close()

def udp(s):
    while True:
        data, a = s.recvfrom(2048)
        if log:
            with open(log, "a") as f:
                f.write(f"{a[0]} {data.decode(errors='replace')}\n")
        s.sendto(f"{tag} {a[0]}\n".encode(), a)

threads = [threading.Thread(target=tcp if p == "tcp" else udp, args=(s,), daemon=True) for p, s in socks]
for t in threads:
    t.start()
open(ready, "w").close()
for t in threads:
    t.join()
"""

CLIENT = r"""
import socket, sys
proto, host, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
try:
    if proto == "tcp":
        s = socket.create_connection((host, port), timeout=timeout)
        s.settimeout(timeout)
        data = s.recv(256)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout / 3)
        data = b""
        for _ in range(3):
            s.sendto(b"hi", (host, port))
            try:
                data = s.recv(256)
                break
            except socket.timeout:
                pass
except OSError as e:
    print(f"error {e}")
    sys.exit(1)
print(data.decode().strip())
sys.exit(0 if data else 1)
"""
