"""Two Python peers talk: run it once to answer, and once more with the printed number to call.

    python examples/hello.py                 # prints "my number: ..." and waits for a call
    python examples/hello.py 123456786       # calls that number, says hello, hangs up
"""

import asyncio
import os
import sys

from safemeet.peer import ChatMessage, Peer

NODE = os.environ.get("SAFEMEET_NODE", "http://127.0.0.1:8765")


async def call(number: str) -> None:
    async with Peer(NODE, "alice.key") as alice:
        call = await alice.call(number)     # NumberError, UnknownNumber, KeyChanged: before ringing
        await call.wait_connected()         # CallError: declined, busy, no answer...
        await call.send_chat("hello 👋")
        async for event in call.events():   # Connected, ChatMessage, Ended
            if isinstance(event, ChatMessage):
                print("they said:", event.text)
                await call.hangup()
        print(call.result)                  # frames received, chat, who ended it


async def answer() -> None:
    async with Peer(NODE, "bob.key") as bob:
        print("my number:", bob.number, flush=True)
        call = await bob.next_incoming()
        await call.accept()
        async for event in call.events():
            if isinstance(event, ChatMessage):
                await call.send_chat(f"you said {event.text!r}")
        print(call.result)


if __name__ == "__main__":
    asyncio.run(call(sys.argv[1]) if len(sys.argv) > 1 else answer())
