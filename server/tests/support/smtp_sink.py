#!/usr/bin/env python3
"""A real SMTP server for Beckon's tests (aiosmtpd on loopback).

Stores every message it accepts as a file in --store (with the envelope's sender as a
Return-Path header on top, as a mailbox would) and answers as the --control file
says: "ok" (or no file) accepts, "451" defers, "550" refuses. With --tls starttls it offers
STARTTLS (and insists on it with --require-starttls); with --tls implicit it speaks TLS from
the first byte; --auth USER:PASSWORD makes it require that login. Every MAIL, RCPT and AUTH
it sees is written to --log with whether the session was encrypted. Prints its port on the
first line of standard output, then serves until killed.
"""
import argparse
import asyncio
import os
import pathlib
import ssl
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# aiosmtpd warns about the very setups the tests build on purpose (a login over plain SMTP).
warnings.simplefilter("ignore")


class Handler:
    def __init__(self, store: pathlib.Path, control: pathlib.Path, log: pathlib.Path | None):
        self.store = store
        self.control = control
        self.log = log
        self.count = 0

    def mode(self) -> str:
        try:
            return self.control.read_text().strip() or "ok"
        except FileNotFoundError:
            return "ok"

    def note(self, server, session, what: str) -> None:
        if self.log is not None:
            # STARTTLS sets session.ssl; implicit TLS shows on the transport itself.
            implicit = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
            encrypted = "tls" if session.ssl or implicit else "plain"
            with self.log.open("a") as f:
                f.write(f"{what} {encrypted}\n")

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.note(server, session, "MAIL")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.note(server, session, "RCPT")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mode = self.mode()
        if mode == "451":
            return "451 4.3.0 Mailbox busy, try again later"
        if mode == "550":
            return "550 5.1.1 No such user here"
        self.count += 1
        name = f"{os.getpid()}-{self.count:06d}.eml"
        partial = self.store / (name + ".partial")
        # As a final delivery agent does: the envelope's sender on top, as Return-Path.
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode()
        partial.write_bytes(f"Return-Path: <{envelope.mail_from}>\r\n".encode() + content)
        partial.rename(self.store / name)
        return f"250 2.0.0 Ok: queued as {name}"


def authenticator_for(expected: str, handler: Handler):
    user, _, password = expected.partition(":")

    def authenticate(server, session, envelope, mechanism, auth_data):
        handler.note(server, session, "AUTH")
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
        # handled=False: aiosmtpd answers a failure with its own 535.
        return AuthResult(success=ok, handled=False)

    return authenticate


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--store", required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--log")
    parser.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--auth")
    args = parser.parse_args()
    handler = Handler(pathlib.Path(args.store), pathlib.Path(args.control), pathlib.Path(args.log) if args.log else None)
    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    options = {}
    if args.auth:
        # Implicit TLS is encrypted from the start; aiosmtpd counts only STARTTLS as TLS here.
        options.update(authenticator=authenticator_for(args.auth, handler), auth_required=True, auth_require_tls=args.tls == "starttls")
    if args.tls == "starttls":
        options.update(tls_context=context, require_starttls=args.require_starttls)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", ident="beckon-test-sink", **options),
        "127.0.0.1",
        args.port,
        ssl=context if args.tls == "implicit" else None,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
