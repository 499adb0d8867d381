"""A household: every listener's models in one full retrain, then a refresh where one of them has
new plays, next to the same for that listener alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from orchestration.benchmark.folders import Folder, best

def measure_household(root: Path, listeners: int, days: int, refresh_plays: int) -> dict:
    """Every listener's plays generated and landed (`spotify-brain ingest` of the demo source, timed
    on its own: a real household's plays are already there); every listener's models in one full
    retrain; then a refresh where one listener has new plays, next to the same refresh in a
    warehouse of that listener alone."""
    figures: dict = {"listeners": listeners, "days": days}
    for name, count in (("household", listeners), ("alone", 1)):
        folder = Folder(root / name, listener="bench")
        folder.env |= {"SPOTIFY_BRAIN_INGEST_SOURCE": "demo", "SPOTIFY_BRAIN_DEMO_DAYS": str(days),
                       "SPOTIFY_BRAIN_DEMO_LISTENERS": str(count), "SPOTIFY_BRAIN_AUDIO_FEATURES": "none"}
        landed = folder.command("ingest")
        folder.env["SPOTIFY_BRAIN_INGEST_SOURCE"] = "none"
        first = folder.command("run", "--job", "full_retrain")
        refreshes = []
        for number in range(2):
            _add_demo_plays(folder, refresh_plays, number)
            refreshes.append(folder.command("run", "--job", "refresh"))
        figures[name] = {"plays": _count_plays(folder), "generate_and_land": landed, "full_retrain": first,
                         "refresh": best(refreshes),
                         **folder.disk_mb()}
    figures["refresh_household_over_alone"] = round(figures["household"]["refresh"]["s"] / figures["alone"]["refresh"]["s"], 2)
    return figures


def _add_demo_plays(folder: Folder, plays: int, number: int) -> None:
    """`plays` new demo plays for the main listener, landed as the demo source lands them (untimed)."""
    from zoneinfo import ZoneInfo

    from ingest.demo.catalog import build_catalog

    from ingest.demo.generator import generate_plays

    from ingest.demo.rules import DEFAULT_END
    from warehouse.connection import write_connection
    from warehouse.loaders import RawBatch, load_batch

    new = generate_plays(build_catalog(42), "bench", ZoneInfo("Europe/Berlin"), 3, seed=7 + number,
                         end=DEFAULT_END + timedelta(days=3 * (number + 1)))[:plays]
    with write_connection(folder.root / "warehouse" / "bench.duckdb") as con:
        load_batch(con, RawBatch(source="demo", listener_id="bench", plays=new))


def _count_plays(folder: Folder) -> int:
    import duckdb

    con = duckdb.connect(str(folder.root / "warehouse" / "bench.duckdb"), read_only=True)
    try:
        return con.execute("select count(*) from raw.plays").fetchone()[0]
    finally:
        con.close()
