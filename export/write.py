"""Validate an export against the contract's JSON Schema and write it atomically."""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).parent / "schema" / "dashboard_data.schema.json"


class ExportInvalidError(ValueError):
    """The export breaks the contract; the previous file was left in place."""


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def to_json(data: dict) -> str:
    """Serialize; NaN or Infinity anywhere is an error (JSON has no such values)."""
    try:
        return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise ExportInvalidError(f"export contains NaN or Infinity: {exc}") from None


def validate(data: dict) -> None:
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.path))
    if errors:
        lines = [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:10]]
        raise ExportInvalidError(f"export breaks the contract ({len(errors)} problem(s)):\n  " + "\n  ".join(lines))


def write_export(data: dict, path: Path) -> Path:
    """Check the export, then replace `path` in one rename; on any failure the old file stays."""
    text = to_json(data)
    validate(json.loads(text))
    return write_atomically(text + "\n", path)


def write_atomically(text: str, path: Path) -> Path:
    """Write a temp file beside `path`, then rename it over `path`: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a web server must read it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
