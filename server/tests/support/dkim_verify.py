#!/usr/bin/env python3
"""Verifies the DKIM signature of the message on standard input with dkimpy, an independent
implementation, given the TXT record in the arguments instead of DNS:
    dkim_verify.py <record name> <record value>
Prints "pass" or "fail" and what dkimpy said, exits 0 either way (the test reads the word)."""
import sys

import dkim

name, value = sys.argv[1], sys.argv[2]
message = sys.stdin.buffer.read()


def dnsfunc(asked, timeout=5):
    asked = asked.decode() if isinstance(asked, bytes) else asked
    return value.encode() if asked.rstrip(".") == name else None


class Log:
    def __init__(self):
        self.lines = []

    def debug(self, *args):
        self.lines.append(" ".join(str(a) for a in args))

    info = warning = error = debug


log = Log()
try:
    ok = dkim.verify(message, logger=log, dnsfunc=dnsfunc)
except Exception as error:  # a malformed signature is a failure, said as such
    ok = False
    log.lines.append(repr(error))
print("pass" if ok else "fail", "; ".join(log.lines[-3:]))
