"""User-facing messages: the rule codes' texts, masked and escaped for the people who read them.

The templates live in the catalogue (``hub_messages.CATALOGUE``, Chinese with an English gloss);
``MESSAGES`` is the same dict, kept under its old name. Keyed by rule code; used by the validator,
for file-level errors in receipts, the UI and alerts. Add new codes to ``hub_messages``.
"""

from __future__ import annotations

import string
from typing import Any

from credit_exchange.standard.pii import escape_controls, mask_text
from hub_messages import CATALOGUE, WORDS

MESSAGES: dict[str, str] = CATALOGUE

_FORMATTER = string.Formatter()


def message(code: str, **params: Any) -> str:
    """The message for a rule code, filled with params; personal data masked.

    Unknown codes fall back to `invalid`; missing params render as empty text.
    """
    template = MESSAGES.get(code, MESSAGES["invalid"])
    values = {name: params.get(name, "") for _, name, _, _ in _FORMATTER.parse(template) if name}
    if not values.get("label") and "label" in values:
        values["label"] = params.get("field") or WORDS["label_value"]
    # Values may be a department's bytes (a file name, a record id): no control character reaches a reader.
    filled = {k: "" if v is None else escape_controls(v) if isinstance(v, str) else v for k, v in values.items()}
    return mask_text(template.format(**filled))
