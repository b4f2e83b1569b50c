"""Consul's requests, counted at the Consul side: a server started with log_level="debug" logs every HTTP
request it answered, with the client's address and the time it took:

    2026-12-01T23:04:23.554Z [DEBUG] agent.http: Request finished: method=GET
        url=/v1/kv/overlay-cni/networks/?recurse=true&index=41&wait=10000ms from=198.51.100.11:47490 latency=5.3ms

    log = RequestLog(server)             # starts at the end of what the server has logged so far
    ...                                  # the plugins, watchers, resolvers at work
    reqs = log.take()                    # [Request], everything finished since the last take()
    [r for r in reqs if r.blocking and not r.timed_out]   # blocking queries that returned on a change

A line is written when the answer has been sent, so a request still running (a blocking query) is
counted by the take() after it ends.
"""

import re
from urllib.parse import parse_qs, urlsplit

_LINE = re.compile(r"agent\.http: Request finished: method=(\S+) url=(\S+) from=([0-9.]+):(\d+) latency=(\S+)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def go_duration(text):
    """Seconds in a Go duration string ("1m2.5s", "89.644µs", "5.001s")."""
    total = 0.0
    for num, unit in re.findall(r"([0-9.]+)(h|ms|m|s|µs|us|ns)", text):
        total += float(num) * _UNITS[unit]
    return total


def _ms(text):
    """Consul's `wait` parameter ("10000ms", "5s") in seconds; None when absent."""
    return go_duration(text) if text else None


class Request:
    __slots__ = ("method", "path", "query", "client", "port", "latency")

    def __init__(self, method, url, client, port, latency):
        parts = urlsplit(url)
        self.method, self.path = method, parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.client, self.port, self.latency = client, int(port), go_duration(latency)

    @property
    def blocking(self):
        """A blocking query: the answer comes when the index changes or the wait time is up."""
        return self.method == "GET" and "index" in self.query

    @property
    def timed_out(self):
        """A blocking query that ended by its wait time (Consul adds up to wait/16 of jitter), not a change."""
        wait = _ms(self.query.get("wait"))
        return self.blocking and wait is not None and self.latency >= 0.95 * wait

    @property
    def endpoint(self):
        """"kv", "txn", "session", "status", ...: the part after /v1/."""
        seg = self.path.split("/")
        return seg[2] if len(seg) > 2 else self.path

    def __repr__(self):
        return f"Request({self.method} {self.path} {self.query} from {self.client}:{self.port} {self.latency:.4f}s)"


def parse(text):
    """Every request line of a debug log excerpt."""
    return [Request(*m.groups()) for m in _LINE.finditer(text)]


class RequestLog:
    """Reads a ConsulServer's log from where the last take() stopped (whole lines only)."""

    def __init__(self, server):
        self.path = server.log_file
        self.offset = self._size()

    def _size(self):
        with open(self.path, "rb") as f:
            return f.seek(0, 2)

    def take(self):
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        return parse(data[:end].decode(errors="replace"))
