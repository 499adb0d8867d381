"""A terse Dagster logger for the terminal: one line when a step starts and ends, and what the
steps themselves say, so a long run shows where it is without Dagster's full event stream."""

from __future__ import annotations

import logging
import sys

import dagster as dg

SHOWN_EVENTS = {"STEP_START", "STEP_SUCCESS", "STEP_FAILURE"}
# dagster-dbt's notes on how it turned the run's selection into dbt arguments: one of them lists
# every selected model (2,000 characters on each refresh); the Dagster UI keeps them
NOT_SHOWN = ("A dbt subsetted execution is being performed", "Overriding default `DBT_INDIRECT_SELECTION`")


class _BriefHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event, step = meta.get("dagster_event"), meta.get("step_key") or meta.get("job_name") or ""
        tags = meta.get("job_tags") or {}
        partition = tags.get("dagster/partition")
        where = f"{step}[{partition}]" if partition else step
        if event is not None:
            kind = event.event_type_value
            if kind not in SHOWN_EVENTS:
                return
            if kind == "STEP_START":
                line = f"{where} ..."
            elif kind == "STEP_SUCCESS":
                line = f"{where} done in {event.event_specific_data.duration_ms / 1000:.1f}s"
            else:
                line = f"{where} FAILED: {step_error(event)}"
        elif record.levelno >= logging.INFO:
            message = meta.get("orig_message", record.getMessage())
            if message.startswith(NOT_SHOWN):
                return
            message = message.removeprefix(f"{step}: ")  # a report that names its step ("enrichment: ...")
            if message.startswith("Dependencies for step"):  # Dagster lists each input's upstream, repeated
                message = "skipped: a step it needs failed or was skipped"
            line = f"  {where}: {message}"
        else:
            return
        print(f"[spotify-brain] {line}", file=sys.stderr, flush=True)


def step_error(event) -> str:
    """A failed step's error as a person reads it: the user code's exception, not Dagster's wrapper."""
    error = event.event_specific_data.error
    if error is None:
        return "see the Dagster UI"
    while error.cause is not None and error.cls_name.startswith("Dagster"):
        error = error.cause
    message = error.message.strip()
    prefix = f"{error.cls_name}: "
    return message.split(prefix, 1)[1] if prefix in message.split("\n", 1)[0] else message


@dg.logger(description="One line per step start and end, and what the steps say (spotify-brain run).")
def brief(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger("spotify-brain", level=logging.DEBUG)
    logger.addHandler(_BriefHandler())
    return logger


LOGGERS = {"brief": brief}
RUN_CONFIG = {"loggers": {"brief": {}}}
