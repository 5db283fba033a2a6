"""Operational counters and ``GET /metrics`` in the Prometheus text format.

Counts and latencies only: no label ever carries a number, key, address or envelope. The only
label is ``code`` on errors, and its values come from the fixed set in ``core.wire``. The hot
path costs a few integer increments and, per routed envelope, one ``bisect`` into fixed buckets.
"""

import bisect
import os
import resource
import time

from aiohttp import hdrs, web

from ..core import wire
from .appkeys import PRESENCE

# Upper bounds (seconds) of the routing-latency buckets: receive of a ``send`` frame to the
# envelope sitting in every recipient outbox (or published, for a shared presence).
ROUTING_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
ERROR_CODES = tuple(wire.ERROR_TEXT)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class Metrics:
    """Counters for one node process; plain attributes, so updating one is an increment."""

    def __init__(self) -> None:
        self.connections_total = 0
        self.connections_open = 0
        self.registrations = 0
        self.lookups = 0
        self.routed = 0
        self.undeliverable = 0
        self.errors = dict.fromkeys(ERROR_CODES, 0)
        self._bucket_counts = [0] * (len(ROUTING_BUCKETS) + 1)  # the last one is +Inf
        self._routing_sum = 0.0
        self.started = time.time()

    def opened(self) -> None:
        self.connections_total += 1
        self.connections_open += 1

    def closed(self) -> None:
        self.connections_open -= 1

    def error(self, code: str) -> None:
        """Count an error reply; codes outside the protocol's fixed set count as ``internal``."""
        if code not in self.errors:
            code = wire.INTERNAL
        self.errors[code] += 1

    def route_done(self, received: float, now: float) -> None:
        """One envelope handed to its recipients' outboxes; ``received``/``now`` from perf_counter."""
        self.routed += 1
        elapsed = now - received
        self._routing_sum += elapsed
        self._bucket_counts[bisect.bisect_left(ROUTING_BUCKETS, elapsed)] += 1

    def render(self, numbers_online: int | None = None) -> str:
        """The Prometheus exposition text of every counter, plus process RSS, CPU and open fds."""
        out: list[str] = []

        def metric(name: str, kind: str, text: str, samples: list[tuple[str, float | int]]) -> None:
            out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(f"{name}{labels} {_num(value)}" for labels, value in samples)

        metric("safemeet_connections_open", "gauge", "WebSocket connections open now.",
               [("", self.connections_open)])
        metric("safemeet_connections_total", "counter", "WebSocket connections accepted.",
               [("", self.connections_total)])
        if numbers_online is not None:
            metric("safemeet_numbers_online", "gauge", "Registered numbers with a connection to this node.",
                   [("", numbers_online)])
        metric("safemeet_registrations_total", "counter", "Successful registrations.", [("", self.registrations)])
        metric("safemeet_lookups_total", "counter", "Key lookups answered.", [("", self.lookups)])
        metric("safemeet_envelopes_routed_total", "counter", "Envelopes handed to at least one connection.",
               [("", self.routed)])
        metric("safemeet_envelopes_undeliverable_total", "counter",
               "Envelopes for a number that is offline or unknown.", [("", self.undeliverable)])
        metric("safemeet_errors_total", "counter", "Error replies by protocol error code.",
               [(f'{{code="{code}"}}', n) for code, n in self.errors.items()])
        buckets: list[tuple[str, float | int]] = []
        cumulative = 0
        for bound, n in zip((*map(_num, ROUTING_BUCKETS), "+Inf"), self._bucket_counts, strict=True):
            cumulative += n
            buckets.append((f'_bucket{{le="{bound}"}}', cumulative))
        buckets += [("_sum", self._routing_sum), ("_count", cumulative)]
        out.append("# HELP safemeet_routing_seconds Send frame received to envelope queued for every recipient.")
        out.append("# TYPE safemeet_routing_seconds histogram")
        out.extend(f"safemeet_routing_seconds{suffix} {_num(v)}" for suffix, v in buckets)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        metric("process_cpu_seconds_total", "counter", "User and system CPU time of the node process.",
               [("", usage.ru_utime + usage.ru_stime)])
        rss = _rss_bytes()
        if rss is not None:
            metric("process_resident_memory_bytes", "gauge", "Resident memory of the node process.", [("", rss)])
        fds = _open_fds()
        if fds is not None:
            metric("process_open_fds", "gauge", "Open file descriptors.", [("", fds)])
        metric("process_start_time_seconds", "gauge", "Start of the node, seconds since the epoch.",
               [("", self.started)])
        return "\n".join(out) + "\n"


def _num(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


def _open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


METRICS = web.AppKey("metrics", Metrics)


async def handle(request: web.Request) -> web.StreamResponse:
    """``GET /metrics``: the app's counters; ``numbers_online`` when the presence can count them."""
    online = getattr(request.app.get(PRESENCE), "online", None)
    count = online() if callable(online) else None
    text = request.app[METRICS].render(count if isinstance(count, int) else None)
    return web.Response(body=text.encode(), headers={hdrs.CONTENT_TYPE: CONTENT_TYPE, hdrs.CACHE_CONTROL: "no-store"})
