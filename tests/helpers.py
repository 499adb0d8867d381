"""Small helpers the tests share."""

import os
import socket
import subprocess
from pathlib import Path

import duckdb

from orchestration.project import PROJECT_ROOT, dbt_executable


def dbt(warehouse: Path, *args: str) -> subprocess.CompletedProcess:
    """Run dbt from the repo root on `warehouse`, as a user would."""
    env = {**os.environ, "SPOTIFY_BRAIN_WAREHOUSE": str(Path(warehouse).resolve()), "DO_NOT_TRACK": "1"}
    return subprocess.run([dbt_executable(), *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)


def table_counts(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables order by all").fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables}
    finally:
        con.close()


def no_dns(*args, **kwargs):
    """socket.getaddrinfo as it fails on a machine that is offline (urllib3 resolves through it)."""
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
