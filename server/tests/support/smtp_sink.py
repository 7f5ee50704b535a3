#!/usr/bin/env python3
"""A real SMTP server for Beckon's tests (aiosmtpd on loopback).

Stores every message it accepts as a file in --store and answers as the --control file
says: "ok" (or no file) accepts, "451" defers, "550" refuses. Prints its port on the first
line of standard output, then serves until killed.
"""
import argparse
import asyncio
import os
import pathlib

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, store: pathlib.Path, control: pathlib.Path):
        self.store = store
        self.control = control
        self.count = 0

    def mode(self) -> str:
        try:
            return self.control.read_text().strip() or "ok"
        except FileNotFoundError:
            return "ok"

    async def handle_DATA(self, server, session, envelope):
        mode = self.mode()
        if mode == "451":
            return "451 4.3.0 Mailbox busy, try again later"
        if mode == "550":
            return "550 5.1.1 No such user here"
        self.count += 1
        name = f"{os.getpid()}-{self.count:06d}.eml"
        partial = self.store / (name + ".partial")
        partial.write_bytes(envelope.original_content or envelope.content)
        partial.rename(self.store / name)
        return f"250 2.0.0 Ok: queued as {name}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--store", required=True)
    parser.add_argument("--control", required=True)
    args = parser.parse_args()
    handler = Handler(pathlib.Path(args.store), pathlib.Path(args.control))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", ident="beckon-test-sink"), "127.0.0.1", args.port
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
