"""The ``safemeet`` command: run a node, or call and answer from the terminal."""

import argparse
import asyncio
import json
import logging
import os
import sys
from typing import Any, Sequence

from .core.numbers import NumberError, normalize

DEFAULT_NODE = "http://127.0.0.1:8765"
EXIT_FAILED = 1
EXIT_USAGE = 2


def _node_default() -> str:
    return os.environ.get("SAFEMEET_NODE") or DEFAULT_NODE


def _peer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--node", default=None, metavar="URL[,URL...]",
                   help=f"node URL, or several separated by commas to fail over between them "
                        f"(env SAFEMEET_NODE; default {DEFAULT_NODE})")
    p.add_argument("--identity", default=None,
                   help="identity key file (env SAFEMEET_IDENTITY; default ~/.config/safemeet/identity.json)")
    p.add_argument("--json", action="store_true", help="print one JSON line per result")


def _media_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-video", action="store_true", help="audio only")
    p.add_argument("--media", metavar="FILE", help="send this media file instead of a test tone and pattern")
    p.add_argument("--receive-only", action="store_true", help="send no media, only receive")
    p.add_argument("--chat", action="append", default=[], metavar="TEXT",
                   help="chat message to send once connected (repeatable)")
    p.add_argument("--relay", choices=("never", "if-available", "always"), default=None,
                   help="with a stranger (not a pinned contact), use only the node's TURN relay so they "
                        "never see your IP address (default: if-available for answer, never for call)")
    p.add_argument("--accept-key-change", action="store_true",
                   help="accept a changed key of a contact you have not verified (re-pins it)")


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of messages per second")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a count (0 or more)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="safemeet", description="Private calls by nine-digit number.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log diagnostics to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run a node (signaling server and web app)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--data", default=None, help="data directory (env SAFEMEET_DATA; default ./safemeet-data)")
    serve.add_argument("--tls-cert", default=None, help="PEM certificate chain: serve HTTPS")
    serve.add_argument("--tls-key", default=None, help="PEM private key for --tls-cert")
    serve.add_argument("--turn-url", action="append", default=[], metavar="URL",
                       help="TURN server for relayed calls, e.g. turn:turn.example.org:3478 (repeatable)")
    serve.add_argument("--turn-secret", default=None,
                       help="shared secret of the TURN server's use-auth-secret (env SAFEMEET_TURN_SECRET)")
    serve.add_argument("--nodes", default="", metavar="URL[,URL...]",
                       help="public base URLs of every node of this deployment, this one included "
                            "(browsers fail over between them; default: just this node)")
    serve.add_argument("--redis", default=None, metavar="URL",
                       help="keep the registry and presence in this Redis and route between the nodes "
                            "that share it, e.g. redis://127.0.0.1:6379/0 (env SAFEMEET_REDIS; "
                            "default: SQLite in --data, this node only)")
    serve.add_argument("--rate-limit", type=_rate, default=None, metavar="MSGS_PER_S",
                       help="messages per second each connection may send, with bursts of twice that "
                            "(default 30; raise it only for load tests)")

    ident = sub.add_parser("id", help="make or load the identity, register it and print the number")
    _peer_options(ident)

    call = sub.add_parser("call", help="call a number")
    call.add_argument("number")
    _peer_options(call)
    _media_options(call)
    call.add_argument("--duration", type=_seconds, default=10.0, help="seconds to stay connected (default 10)")
    call.add_argument("--ring-timeout", type=_seconds, default=30.0, help="seconds to ring before 'no answer'")

    answer = sub.add_parser("answer", help="accept incoming calls")
    _peer_options(answer)
    _media_options(answer)
    answer.add_argument("--count", type=_count, default=1, help="calls to take before exiting (0: forever)")
    answer.add_argument("--timeout", type=_seconds, default=None, help="give up if no call arrives in S seconds")

    from . import cli_trust

    cli_trust.add_parsers(sub, _peer_options)
    return parser


def _emit(args: argparse.Namespace, result: dict[str, Any], text: str) -> None:
    print(json.dumps(result, ensure_ascii=False) if args.json else text, flush=True)


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"safemeet: {message}", file=sys.stderr, flush=True)
    return code


def _media(args: argparse.Namespace):
    from .peer import MediaOptions

    if args.receive_only:
        return MediaOptions(source=None, video=not args.no_video)
    return MediaOptions(video=not args.no_video, source=args.media or "synthetic")


async def _cmd_id(args: argparse.Namespace) -> int:
    from .peer import Peer

    async with Peer(args.node, args.identity) as peer:
        _emit(args, {"number": peer.number}, f"Your number: {peer.number}")
    return 0


def _summary_text(result: dict[str, Any]) -> str:
    if not result["connected"]:
        return f"{result['peer']}: {result.get('error') or result['reason']}"
    chats = "".join(f"\n  chat: {text}" for text in result["chat_received"])
    ended = result["ended_by"] + (f": {result['error']}" if result.get("error") else "")
    return (f"{result['peer']}: call ended ({ended}), setup {result['setup_ms']} ms, "
            f"{result['audio_frames_received']} audio / {result['video_frames_received']} video frames{chats}")


async def _hold(call, chats: list[str], duration: float | None) -> None:
    for text in chats:
        await call.send_chat(text)
    ended = asyncio.ensure_future(call.wait_ended())
    try:
        await asyncio.wait_for(asyncio.shield(ended), duration)
    except asyncio.TimeoutError:
        await call.hangup()
    await ended


async def _cmd_call(args: argparse.Namespace) -> int:
    from .core.callstate import END_TEXT
    from .peer import CallError, Peer, RelayPolicy

    relay = RelayPolicy(outgoing=args.relay) if args.relay else None
    async with Peer(args.node, args.identity, media=_media(args), ring_timeout=args.ring_timeout,
                    accept_key_change=args.accept_key_change, relay=relay) as peer:
        call = await peer.call(args.number)
        try:
            await call.wait_connected()
            await _hold(call, args.chat, args.duration)
        except CallError:
            pass
        result = (await call.wait_ended()).to_json()
    if args.json or result["connected"]:  # a failed call is one line on stderr in text mode
        _emit(args, result, _summary_text(result))
    if not result["connected"] or result["ended_by"] == "error":  # e.g. it could not reconnect
        return _fail(f"call to {args.number} failed: {result.get('error') or END_TEXT[result['reason']]}")
    return 0


async def _report_node(peer) -> None:
    """Say on stderr when the node is lost and when the peer is registered again."""
    async for state in peer.signaling_states():
        if state == "reconnecting":
            print("safemeet: lost the node; reconnecting (a call in progress goes on)", file=sys.stderr, flush=True)
        elif state == "online":
            waiting = "" if peer.active_calls else f"; waiting for calls on {peer.number}"
            print(f"safemeet: connected to the node again{waiting}", file=sys.stderr, flush=True)
        elif state == "offline":
            return


async def _cmd_answer(args: argparse.Namespace) -> int:
    from .peer import CallError, Peer, RelayPolicy

    taken = 0
    relay = RelayPolicy(incoming=args.relay) if args.relay else None
    async with Peer(args.node, args.identity, media=_media(args), accept_key_change=args.accept_key_change,
                    relay=relay) as peer:
        if not args.json:
            print(f"Waiting for calls on {peer.number}", flush=True)
        reporter = asyncio.ensure_future(_report_node(peer))  # held here; it ends when the peer closes
        while args.count == 0 or taken < args.count:
            try:
                call = await peer.next_incoming(args.timeout)
            except asyncio.TimeoutError:
                return _fail(f"no call arrived within {args.timeout:g} s")
            taken += 1
            try:
                await call.accept()
                await call.wait_connected()
                await _hold(call, args.chat, None)
            except CallError:
                pass
            result = (await call.wait_ended()).to_json()
            result.pop("setup_ms", None)
            _emit(args, result, _summary_text({**result, "setup_ms": "-"}))
    return 0


def _node_list(text: str) -> tuple[str, ...]:
    """``--nodes A,B``: the URLs in order; an empty entry (``A,,B``) is refused, not skipped."""
    if not text.strip():
        return ()
    urls = tuple(u.strip() for u in text.split(","))
    if not all(urls):
        raise ValueError(f"empty entry in --nodes {text!r} (separate node URLs with single commas)")
    return urls


def _cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .node.config import NodeConfig
    from .node.server import run

    try:
        config = NodeConfig(
            host=args.host, port=args.port,
            data_dir=Path(args.data or os.environ.get("SAFEMEET_DATA") or "safemeet-data"),
            tls_cert=Path(args.tls_cert) if args.tls_cert else None,
            tls_key=Path(args.tls_key) if args.tls_key else None,
            turn_urls=tuple(args.turn_url),
            turn_secret=args.turn_secret or os.environ.get("SAFEMEET_TURN_SECRET") or None,
            nodes=_node_list(args.nodes),
            redis_url=args.redis or os.environ.get("SAFEMEET_REDIS") or None,
            **({} if args.rate_limit is None else {"rate_per_s": args.rate_limit,
                                                    "rate_bucket": max(1, int(2 * args.rate_limit))}),
        )
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    return run(config)


def main(argv: Sequence[str] | None = None) -> int:
    from . import cli_trust

    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _cmd_serve(args)  # the node logs its own (anonymous) events at INFO
    if args.command == "contacts" or (args.command == "identity" and args.action != "delete"):
        local = cli_trust.cmd_contacts if args.command == "contacts" else cli_trust.cmd_identity_local
        return _run_local(local, args)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s")
    source = "--node" if args.node else "SAFEMEET_NODE"
    args.node = args.node or _node_default()
    try:
        from .peer.failover import node_urls

        node_urls(args.node)  # a bad list is a usage error before any key file is touched
    except ValueError as exc:
        return _fail(f"{source}: {exc}", EXIT_USAGE)
    if args.command == "call":
        try:
            args.number = normalize(args.number)
        except NumberError as exc:
            return _fail(f"{args.number!r} is not a valid number: {exc}", EXIT_USAGE)
    commands = {"id": _cmd_id, "call": _cmd_call, "answer": _cmd_answer, "verify": cli_trust.cmd_verify,
                "identity": cli_trust.cmd_identity_delete}
    try:
        return asyncio.run(_run(commands[args.command], args))
    except KeyboardInterrupt:  # calls were hung up on the way out (Peer.close)
        print("safemeet: interrupted", file=sys.stderr, flush=True)
        return 130


def _key_change_text(exc) -> str:
    from .peer import VerifiedKeyChanged

    if isinstance(exc, VerifiedKeyChanged):
        return f"{exc}: 'safemeet contacts delete {exc.number}'"
    return (f"{exc}: compare it ('safemeet verify {exc.number}'), then use --accept-key-change "
            f"to accept the new key")


def _run_local(command, args: argparse.Namespace) -> int:
    """A command that only touches local files."""
    from .cli_trust import CommandFailed
    from .peer import KeyFileError

    try:
        return command(args)
    except (CommandFailed, KeyFileError) as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)


async def _run(command, args: argparse.Namespace) -> int:
    from .cli_trust import CommandFailed
    from .peer import CallError, KeyChanged, KeyFileError, NodeError

    try:
        return await command(args)
    except KeyChanged as exc:
        return _fail(_key_change_text(exc))
    except (CallError, NodeError, KeyFileError, CommandFailed) as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)


if __name__ == "__main__":
    sys.exit(main())
