"""`python -m avatarsite.serve`: daphne, with the same arguments, handing
request bodies to Django in 1 MiB pieces.

daphne's default is 8 KiB, and Django reads each piece as its own ASGI
message: a 700 KB base64 photo arrived as 86 messages, about 2 ms of a
generate call on this machine. Django still caps what it holds in memory
(DATA_UPLOAD_MAX_MEMORY_SIZE, FILE_UPLOAD_MAX_MEMORY_SIZE).
"""

from daphne.cli import CommandLineInterface
from daphne.server import Server

REQUEST_BUFFER_BYTES = 1024 * 1024


class AvatarServer(Server):
    def __init__(self, *args, request_buffer_size: int = REQUEST_BUFFER_BYTES, **kwargs) -> None:
        super().__init__(*args, request_buffer_size=request_buffer_size, **kwargs)


class ServeCommand(CommandLineInterface):
    description = "daphne for the avatar service (1 MiB request body pieces)"
    server_class = AvatarServer


if __name__ == "__main__":
    ServeCommand.entrypoint()
