"""One mask on every log line the hub's tasks write: ID and phone numbers masked, control characters escaped.

Departments put personal data where nobody expects it (a record id, a file name), and it then
travels into exception messages and tracebacks. So the mask is not applied field by field but
to whole log events, after the message is formatted and the traceback rendered:

- ``mask_event`` is a structlog processor. Airflow 3 writes task logs through structlog, both for
  its own events (the "Task failed" event carries the traceback) and for stdlib records (via
  structlog's ``ProcessorFormatter``). ``install`` puts it just before the renderer of both chains.
- ``PiiFilter`` is a ``logging.Filter`` for plain stdlib handlers (the demo, scripts, a shell):
  it masks the formatted message and the rendered traceback of each record.

``install`` is called in every task process by the plugin's listener
(``plugins/exchange_plugin.py``, ``on_task_instance_running``), in the API server process when the
Exchange page is first built (``_LazyApp._build``), and by the hub's own entry points;
it is idempotent. Airflow's secrets masker cannot do this: it knows literal secrets only.

What it cannot reach: text written straight to stdout/stderr (``print``, a subprocess's output).
The hub logs through ``logging`` only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

from credit_exchange.standard.pii import mask_text

# Control characters other than line feed and tab (tracebacks are lines): ESC of an ANSI
# sequence, CR that would overwrite a line, the bidirectional overrides.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MAX_DEPTH = 20


def mask_log_text(text: str) -> str:
    """A log line's text: personal data masked, control characters (but line feeds and tabs) escaped."""
    return _CONTROLS.sub(lambda m: ascii(m.group())[1:-1], mask_text(text))


def _mask(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return mask_log_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth > _MAX_DEPTH:
        return mask_log_text(str(value))  # fail closed
    if isinstance(value, dict):
        return {_mask(k, depth + 1): _mask(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask(v, depth + 1) for v in value]
    if isinstance(value, BaseException):
        return value  # rendered (and then masked) by the chain's exception processor
    # Anything else is str()-ed by the renderer: a Path or an object may carry a name with an ID in it.
    text = str(value)
    masked = mask_log_text(text)
    return value if masked == text else masked


def mask_event(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: every string of the event masked, the traceback included."""
    if event_dict.get("exc_info"):
        # The console renderer (dag.test) would format the exception after every processor: do it now.
        import structlog

        event_dict = structlog.processors.format_exc_info(logger, method_name, event_dict)
    masked: MutableMapping[str, Any] = _mask(dict(event_dict))
    return masked


class PiiFilter(logging.Filter):
    """For plain stdlib handlers: the record's message and traceback masked before any formatter sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: keep what there is, masked
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask_log_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_log_text(record.stack_info)
        return True


_FILTER = PiiFilter()


def install() -> None:
    """Mask every log event of this process from now on (idempotent)."""
    try:
        import structlog
        from structlog.stdlib import ProcessorFormatter
    except ImportError:  # pragma: no cover - structlog comes with Airflow
        structlog = None  # type: ignore[assignment]
        ProcessorFormatter = None  # type: ignore[assignment,misc]  # noqa: N806
    if structlog is not None:
        # Changed in place: loggers bound earlier (Airflow's own) keep this very list.
        processors = structlog.get_config()["processors"]
        if mask_event not in processors:
            processors.insert(max(len(processors) - 1, 0), mask_event)
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                      if isinstance(lg, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            formatter = handler.formatter
            if ProcessorFormatter is not None and isinstance(formatter, ProcessorFormatter):
                chain = list(formatter.processors)
                if mask_event not in chain:
                    formatter.processors = [*chain[:-1], mask_event, *chain[-1:]]
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
