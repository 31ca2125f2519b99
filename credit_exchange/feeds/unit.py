"""What may go wrong while a received unit (a file, a PBoC pair, an API pull) is taken, and what follows.

Two kinds of failure, decided once here for every feed:

- **transient**: the network or the store failed (a dropped SFTP session, a time-out, the
  database unreachable), or the parse worker process died. Nothing is wrong with the unit: it is left for the next try, which
  takes it again from the start; after ``MAX_ATTEMPTS`` such tries it is refused like a
  poison unit, so even a unit that always times out cannot stall its feed.
- **anything else** while reading one unit (a parser or mapping error on hostile bytes, a
  value the store refuses): the unit is poison. It is refused whole with a receipt that
  says so, and the run goes on with the next unit.

Messages for people never quote the exception's text raw: it may carry record data, so it
is masked and cut short.
"""

from __future__ import annotations

import logging
import socket

import paramiko
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from connectors.http_api import TransientHttpError
from connectors.sftp import SftpConnectError, SftpConnectionLost, SftpTimeout, TransferChanged
from credit_exchange.intake.pipeline import PipelineFailed
from credit_exchange.standard.pii import mask_text
from credit_exchange.standard.records import FileRejected

log = logging.getLogger(__name__)

# Tries of one unit that may end on a transient error before it is refused.
MAX_ATTEMPTS = 3

_TRANSIENT: tuple[type[BaseException], ...] = (
    SftpConnectionLost, SftpTimeout, SftpConnectError, TransferChanged, TransientHttpError,
    ConnectionError, TimeoutError, socket.timeout, EOFError, paramiko.SSHException,
    OperationalError, InterfaceError, DisconnectionError,
    # The parse worker died (killed, out of memory, or hostile bytes crashed it): tried again, and
    # refused after MAX_ATTEMPTS tries like any other unit that never gets through.
    PipelineFailed,
)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is the network's or the store's fault rather than the unit's."""
    return isinstance(exc, _TRANSIENT)


def describe(exc: BaseException, limit: int = 300) -> str:
    """An exception for a log, a receipt or an alert: its type and first line, masked, cut short."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = mask_text(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def poison(exc: BaseException) -> FileRejected:
    """The refusal of a unit that raised ``exc`` while it was read (not a transient failure)."""
    return FileRejected("unit_unreadable", detail=describe(exc))


def gave_up(attempts: int, last_error: str) -> FileRejected:
    """The refusal of a unit whose tries all ended on transient errors."""
    return FileRejected("unit_attempts", attempts=attempts, detail=last_error)
