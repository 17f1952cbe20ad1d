"""Local addresses where no Kafka broker answers, each in its own way (no firewall needed).

* ``refused``: a bound socket that does not listen: a connection is refused at once.
* ``full_backlog``: a listening socket whose queue is full: a connection times out (the
  kernel drops further SYNs), like a host behind a firewall that drops packets.
* ``silent``: a listening socket that takes connections and never answers: TCP works,
  Kafka does not.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import closing, contextmanager


@contextmanager
def refused() -> Iterator[str]:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        yield "127.0.0.1:%d" % sock.getsockname()[1]


@contextmanager
def full_backlog() -> Iterator[str]:
    with closing(socket.socket()) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        with closing(socket.create_connection(server.getsockname())):
            yield "127.0.0.1:%d" % server.getsockname()[1]


@contextmanager
def silent() -> Iterator[str]:
    with closing(socket.socket()) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield "127.0.0.1:%d" % server.getsockname()[1]
