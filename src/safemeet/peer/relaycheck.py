"""A relay-only call whose TURN relay gave no relay candidate fails at once, saying why.

aiortc gathers quietly: a TURN server that refuses the credentials (a node configured with
another secret, credentials already expired) or does not answer simply yields no candidate, and
the call would wait for the connect timeout with nothing to connect. After gathering,
:func:`check_gathered` notices that, asks the relay once more to learn why, and raises
:class:`RelayRefused` with that reason.
"""

import asyncio
import contextlib

from aioice import stun, turn
from aiortc import RTCIceServer, RTCPeerConnection
from aiortc.rtcicetransport import connection_kwargs

from .errors import CallError, MediaError

PROBE_TIMEOUT_S = 3.0


class RelayRefused(CallError, MediaError):
    """Relay-only was required, but the TURN relay gave no relay address (``str`` says why).

    A CallError for whoever dials; also a MediaError, so a call failing while it answers keeps
    this reason in its result.
    """

    def __init__(self, message: str) -> None:
        super().__init__("failed", message)


def relay_candidates(pc: RTCPeerConnection) -> int:
    """How many relay candidates the local description carries."""
    sdp = pc.localDescription.sdp if pc.localDescription else ""
    return sum(1 for line in sdp.splitlines() if line.startswith("a=candidate:") and " typ relay" in line)


async def probe(server: dict) -> str:
    """Ask the TURN server for an allocation with the call's credentials; why it gave none.

    ``server`` is the aioice connection settings of one TURN server (``connection_kwargs``).
    """
    try:
        transport, _ = await asyncio.wait_for(turn.create_turn_endpoint(
            asyncio.DatagramProtocol, server_addr=server["turn_server"], username=server["turn_username"],
            password=server["turn_password"], ssl=server["turn_ssl"], transport=server["turn_transport"]),
            PROBE_TIMEOUT_S)
    except stun.TransactionFailed as exc:
        code, text = exc.response.attributes.get("ERROR-CODE", (0, ""))
        if code == 401:
            return "the TURN relay refused the credentials (401 Unauthorized): expired, or the node and " \
                   "the relay do not share the same secret"
        return f"the TURN relay refused the allocation ({code} {text})"
    except (asyncio.TimeoutError, stun.TransactionTimeout, OSError):
        return "the TURN relay did not answer"
    with contextlib.suppress(Exception):
        transport.close()
    return "the TURN relay gave no relay address in time"


async def check_gathered(pc: RTCPeerConnection, relay_only: bool, ice_servers: list[RTCIceServer]) -> None:
    """After ``setLocalDescription``: raise :class:`RelayRefused` if a relay-only call has no relay
    candidate. Nothing to check for calls that may go direct, or without a TURN server."""
    if not relay_only or relay_candidates(pc):
        return
    server = connection_kwargs(ice_servers)
    if "turn_server" not in server:
        raise RelayRefused("relay-only was required, but no usable TURN relay was given")
    raise RelayRefused(f"relay-only call, but no relay address: {await probe(server)}")
