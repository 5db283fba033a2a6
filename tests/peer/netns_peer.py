"""A Python peer to run inside a test's network namespace, reporting what the CLI does not print.

    python netns_peer.py NODE IDENTITY answer [--relay MODE] [--hold S]
    python netns_peer.py NODE IDENTITY call NUMBER [--relay MODE] [--hold S]

Prints ``{"number": ...}`` once registered, then, for the one call it answers or places, one
JSON line: the call's result plus its ICE facts taken once connected — the types of our local
candidates and of the remote ones (trickled ones included), whether the remote candidates carry
an address of ours, and the candidate types of the selected pair.
"""

import argparse
import asyncio
import json
import re
import sys

from safemeet.peer import Peer, RelayPolicy


def _ice(call) -> dict:
    # aiortc does not expose the selected pair or the remote candidates; its aioice connection does.
    pc = call._live.pc
    connection = pc.getTransceivers()[0].receiver.transport.transport._connection
    pair = next(iter(connection._nominated.values()))
    local = set(re.findall(r"a=candidate:\S+ \d+ \w+ \d+ \S+ \d+ typ (\w+)", pc.localDescription.sdp))
    remote = connection.remote_candidates
    return {"local_types": sorted(local), "remote_types": sorted({c.type for c in remote}),
            "remote_hosts": sorted({c.host for c in remote}),
            "selected": {"local": pair.local_candidate.type, "remote": pair.remote_candidate.type}}


def _print(value: dict) -> None:
    print(json.dumps(value), flush=True)


async def main(args: argparse.Namespace) -> int:
    relay = RelayPolicy(incoming=args.relay, outgoing=args.relay)
    async with Peer(args.node, args.identity, relay=relay) as peer:
        _print({"number": peer.number})
        if args.role == "call":
            call = await peer.call(args.number)
        else:
            call = await peer.next_incoming(60)
            await call.accept()
        facts = {}
        try:
            await call.wait_connected()
            facts = _ice(call)
            await asyncio.wait_for(call.wait_ended(), args.hold)
        except asyncio.TimeoutError:
            await call.hangup()
        except Exception as exc:  # the result below says how the call ended
            facts = {"exception": f"{type(exc).__name__}: {exc}"}
        result = await call.wait_ended()
        _print({**result.to_json(), **facts})
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("node")
    parser.add_argument("identity")
    parser.add_argument("role", choices=("call", "answer"))
    parser.add_argument("number", nargs="?")
    parser.add_argument("--relay", default="never", choices=("never", "if-available", "always"))
    parser.add_argument("--hold", type=float, default=3.0, help="seconds to stay connected")
    sys.exit(asyncio.run(main(parser.parse_args())))
