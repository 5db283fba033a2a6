"""The node list a client is given, and the waits between its rounds of reconnection attempts."""

import random

import pytest

from safemeet.peer import Peer
from safemeet.peer.failover import BACKOFF_BASE_S, BACKOFF_CAP_S, Backoff, node_urls


def test_node_lists_keep_their_order_and_become_websocket_urls():
    assert node_urls("http://a.example:8765") == ["ws://a.example:8765/ws"]
    assert node_urls(" https://a.example , http://10.0.0.2:80,127.0.0.1:9 ") == [
        "wss://a.example/ws", "ws://10.0.0.2:80/ws", "ws://127.0.0.1:9/ws"]
    assert node_urls(["ws://[::1]:8765", "wss://b.example:443"]) == ["ws://[::1]:8765/ws", "wss://b.example:443/ws"]
    assert node_urls("http://a:1,http://a:1,http://b:2") == ["ws://a:1/ws", "ws://b:2/ws"]  # a repeat adds nothing


@pytest.mark.parametrize("bad, says", [
    ("", "no node URL given"),
    (" , ", "no node URL given"),
    ([], "no node URL given"),
    ("http://a:1,,http://b:2", "empty entry"),
    ("http://a:1,", "empty entry"),
    ("ftp://a.example", "not a node URL: 'ftp://a.example'"),
    ("http://a:1,http://:8765", "not a node URL: 'http://:8765'"),
    ("http://a.example:99999", "not a node URL: 'http://a.example:99999'"),
    ("http://a.example:port", "not a node URL: 'http://a.example:port'"),
])
def test_a_bad_node_list_names_what_is_wrong(bad, says):
    with pytest.raises(ValueError) as err:
        node_urls(bad)
    assert says in str(err.value)


def test_a_peer_refuses_a_bad_node_list_before_making_a_key_file(tmp_path):
    with pytest.raises(ValueError, match="empty entry"):
        Peer("http://a:1,,http://b:2", tmp_path / "me.key")
    assert not (tmp_path / "me.key").exists()


def test_backoff_doubles_from_the_base_up_to_the_cap_with_full_jitter():
    highest = Backoff(uniform=lambda low, high: high)  # the top of every window
    ceilings = [highest.next_delay() for _ in range(9)]
    assert ceilings == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert BACKOFF_BASE_S == 0.25 and BACKOFF_CAP_S == 10.0
    lowest = Backoff(uniform=lambda low, high: low)
    assert {lowest.next_delay() for _ in range(9)} == {0.0}  # full jitter: a window starts at 0
    highest.reset()
    assert highest.next_delay() == 0.25


def test_backoff_spreads_clients_over_the_whole_window():
    rng = random.Random(7)
    waits = [Backoff(uniform=rng.uniform) for _ in range(400)]
    for backoff in waits:
        for _ in range(10):  # every client is now at the cap
            backoff.next_delay()
    delays = sorted(b.next_delay() for b in waits)
    assert all(0 <= d <= BACKOFF_CAP_S for d in delays)
    # Not bunched: each tenth of the window holds some of the 400 clients.
    buckets = {int(d // (BACKOFF_CAP_S / 10)) for d in delays}
    assert buckets >= set(range(10))


def test_backoff_needs_a_positive_base_below_the_cap():
    with pytest.raises(ValueError):
        Backoff(base=0)
    with pytest.raises(ValueError):
        Backoff(base=20, cap=10)
