"""Structured JSON logs with request ids, and redaction of secrets.

Redaction is applied by the formatter, so no handler can print an unredacted record: API
tokens (`chk_...`), bearer headers, and any field whose name says it holds a secret.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from typing import Any

from clearinghouse.core.clock import utcnow

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_SECRET_FIELD = re.compile(
    r"(api[_-]?key|token|secret|password|authorization|master[_-]?key)", re.I
)
_TOKEN = re.compile(r"chk_[A-Za-z0-9]+_[A-Za-z0-9_-]{8,}")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"']+")
_KEY_VALUE = re.compile(
    r"(?i)((?:api[_-]?key|token|secret|password)[\"']?\s*[:=]\s*[\"']?)([^\s\"',}]+)"
)
REDACTED = "[redacted]"

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
}


def redact_text(text: str) -> str:
    """Remove anything secret-shaped from free text."""
    text = _TOKEN.sub(REDACTED, text)
    text = _BEARER.sub(r"\1" + REDACTED, text)
    return _KEY_VALUE.sub(r"\1" + REDACTED, text)


def redact(value: Any, key: str | None = None) -> Any:
    if (
        key is not None
        and _SECRET_FIELD.search(key)
        and not key.endswith(("_hint", "_id", "_scopes"))
    ):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": utcnow().isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        if (rid := request_id_var.get()) is not None:
            payload["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = redact(value, key)
        if record.exc_info:
            payload["exc"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(payload, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else TextFormatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
