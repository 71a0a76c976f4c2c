"""`python -m avatarsite.serve`: daphne, with the same arguments, handing
request bodies to Django in 1 MiB pieces and sending streamed responses no
faster than the client takes them.

daphne's default is 8 KiB, and Django reads each piece as its own ASGI
message: a 700 KB base64 photo arrived as 86 messages, about 2 ms of a
generate call on this machine. Django still caps what it holds in memory
(DATA_UPLOAD_MAX_MEMORY_SIZE, FILE_UPLOAD_MAX_MEMORY_SIZE).

daphne writes every response piece to Twisted at once, and Twisted keeps
what the socket cannot take yet: a client reading a 500 MB results.zip
slowly (or not at all) made the server hold the whole zip. Here a streamed
response waits, after each piece, until the connection's send buffer has
drained (Twisted's producer flow control), so the server holds about one
piece per download.
"""

import asyncio
import logging

from daphne.cli import CommandLineInterface
from daphne.http_protocol import WebRequest
from daphne.server import Server

logger = logging.getLogger(__name__)
REQUEST_BUFFER_BYTES = 1024 * 1024
# A client that takes nothing for this long is cut off (its download holds a reader).
SEND_STALL_SECONDS = 300.0


class SendWindow:
    """A push producer on one response: Twisted pauses it when the
    connection's send buffer is full and resumes it once that drained."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()

    def pauseProducing(self) -> None:
        self.open.clear()

    def resumeProducing(self) -> None:
        self.open.set()

    def stopProducing(self) -> None:  # the connection is gone: nothing left to wait for
        self.open.set()


class AvatarServer(Server):
    def __init__(self, *args, request_buffer_size: int = REQUEST_BUFFER_BYTES, **kwargs) -> None:
        super().__init__(*args, request_buffer_size=request_buffer_size, **kwargs)

    async def handle_reply(self, protocol, message: dict) -> None:
        if not isinstance(protocol, WebRequest) or message["type"] != "http.response.body":
            await super().handle_reply(protocol, message)
            return
        if (state := self.connections.get(protocol)) is None or state.get("disconnected"):
            return  # gone: daphne drops the message; Django hears of it and stops
        more = message.get("more_body", False)
        window = protocol.producer if isinstance(protocol.producer, SendWindow) else None
        if more and window is None:
            window = SendWindow()
            protocol.registerProducer(window, True)
        elif not more and window is not None:  # Twisted wants it gone before the end
            protocol.unregisterProducer()
        await super().handle_reply(protocol, message)
        if more and not protocol.finished:
            try:
                await asyncio.wait_for(window.open.wait(), SEND_STALL_SECONDS)
            except TimeoutError:
                logger.warning("A client took nothing for %ss: disconnected", SEND_STALL_SECONDS)
                protocol.loseConnection()

    def protocol_disconnected(self, protocol) -> None:
        if isinstance(getattr(protocol, "producer", None), SendWindow):
            protocol.producer.open.set()  # its sender stops waiting
        super().protocol_disconnected(protocol)


class ServeCommand(CommandLineInterface):
    description = "daphne for the avatar service (1 MiB request pieces, flow-controlled replies)"
    server_class = AvatarServer


if __name__ == "__main__":
    ServeCommand.entrypoint()
