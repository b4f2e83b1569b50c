"""Hostile programs run by test_hostile.py inside namespaces (each a Python script passed as text)."""

# A router advertisement (default router for 1800 s, prefix 2001:db8:bad::/64 for SLAAC) sent as a raw
# Ethernet frame from a made-up link-local address, so it needs nothing from the container's own IPv6.
RA_SENDER = r"""
import socket, struct, sys, time
ifname, count = sys.argv[1], int(sys.argv[2])
mac = bytes.fromhex("02badbadbad1")
src = socket.inet_pton(socket.AF_INET6, "fe80::bad:1")
dst = socket.inet_pton(socket.AF_INET6, "ff02::1")
ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
sll = struct.pack("!BB", 1, 1) + mac
pio = struct.pack("!BBBBIII", 3, 4, 64, 0xC0, 86400, 14400, 0) + socket.inet_pton(socket.AF_INET6, "2001:db8:bad::")
body = ra + sll + pio
pseudo = src + dst + struct.pack("!I3xB", len(body), 58) + body
if len(pseudo) % 2:
    pseudo += b"\0"
s = sum(struct.unpack(f"!{len(pseudo) // 2}H", pseudo))
while s >> 16:
    s = (s & 0xFFFF) + (s >> 16)
body = body[:2] + struct.pack("!H", ~s & 0xFFFF) + body[4:]
ip6 = struct.pack("!IHBB", 6 << 28, len(body), 58, 255) + src + dst
frame = bytes.fromhex("333300000001") + mac + b"\x86\xdd" + ip6 + body
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((ifname, 0))
for _ in range(count):
    sock.send(frame)
    time.sleep(0.1)
"""

# A stranger's "Consul": records every byte it receives (one request per connection) and answers 404.
LISTENER = r"""
import socket, sys, threading
log, ready = sys.argv[1], sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 8500))
srv.listen(64)
lock = threading.Lock()

def serve(c):
    c.settimeout(2)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace").lower()
        want = next((int(l.split(":", 1)[1]) for l in head.splitlines() if l.startswith("content-length:")), 0)
        while len(data.split(b"\r\n\r\n", 1)[-1]) < want:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        with lock, open(log, "ab") as f:
            f.write(data + b"\n=====\n")
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nX-Consul-Index: 1\r\nConnection: close\r\n\r\n")
    except OSError:
        pass
    finally:
        c.close()

open(ready, "w").close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

# An "internet" server on :443 that speaks only when told (a file appears), long after accepting.
SPEAK_LATER = r"""
import os, socket, sys, time
ready, trigger = sys.argv[1], sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 443))
s.listen(8)
open(ready, "w").close()
c, _ = s.accept()
open(ready + ".accepted", "w").close()
while not os.path.exists(trigger):
    time.sleep(0.05)
c.sendall(b"spoken-after-add\n")
time.sleep(30)
"""

CLIENT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.settimeout(float(sys.argv[3]))
try:
    print(s.recv(100).decode().strip() or "EOF", flush=True)
except OSError as e:
    print(f"error {e}", flush=True)
"""
