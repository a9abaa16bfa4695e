"""The CLI's run logger: one line per user log message and step outcome, no tracebacks.

Dagster's console logger prints every framework event and full stack traces; on a terminal the
CLI instead shows progress lines and ends with a one-paragraph error summary.
"""

from __future__ import annotations

import logging
import sys

import dagster as dg

_SHOWN_EVENTS = {"STEP_START", "STEP_SUCCESS"}


class _ProgressFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None:
            return record.levelno >= logging.INFO
        return event.event_type_value in _SHOWN_EVENTS


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a line is logged, not when the handler was made:
    `main` called in-process more than once (tests capture stderr per call) must never write to
    a stream an earlier caller has closed."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


@dg.logger(
    config_schema=None,
    description="Progress lines for the genre-assets CLI; failures are summarised at the end.",
)
def cli_progress_logger(_init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger("genre_assets.cli")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        handler.addFilter(_ProgressFilter())
        logger.addHandler(handler)
    return logger
