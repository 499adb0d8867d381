"""The listening statistics marts against a tiny history whose answers are worked out by hand.

Listener `t` (UTC, so local time is UTC), minutes in brackets, sessions split by 30 min of silence:

    2024-12-30 Mon 10:00 A1 (4)  10:04 A2 (4)        Alpha, "Album A", rock        session of 8 min
    2024-12-31 Tue 20:00 B1 (6) skipped               Beta, "Album B", jazz + soul  session of 6 min
    2025-01-01 Wed 09:00 A1 (4)  09:04 A1 (4)  09:08 A2 (4)                         session of 12 min
    2025-01-02 Thu 21:00 C1 (10) account data: no skip info   Gamma, no genre       session of 10 min
    2025-01-04 Sat 21:00 B1 (6)                                                     session of 6 min

Listener `u`: A1 five times on 2024-03-01, then B1 once on 2025-01-04.

Release years (MusicBrainz, as the keyless enrichment lands them): A1 and A2 1975, B1 1962; C1 none.
"""

from datetime import datetime, timedelta

import duckdb
import pytest

from helpers import dbt
from warehouse.loaders import RawBatch, land_lookups, load_batch
from warehouse.schema import ensure_schema

A1, A2, B1, C1 = ("A" * 21 + "1", "A" * 21 + "2", "B" * 21 + "1", "C" * 21 + "1")
ALPHA, BETA, GAMMA = "a" * 22, "b" * 22, "c" * 22
TRACKS = [
    {"track_id": A1, "track_name": "Song A1", "album_name": "Album A", "artist_ids": [ALPHA], "artist_names": ["Alpha"]},
    {"track_id": A2, "track_name": "Song A2", "album_name": "Album A", "artist_ids": [ALPHA], "artist_names": ["Alpha"]},
    {"track_id": B1, "track_name": "Song B1", "album_name": "Album B", "artist_ids": [BETA], "artist_names": ["Beta"]},
    {"track_id": C1, "track_name": "Song C1", "album_name": "Album C", "artist_ids": [GAMMA], "artist_names": ["Gamma"]},
]
ARTISTS = [{"artist_id": ALPHA, "artist_name": "Alpha", "genres": ["rock"]},
           {"artist_id": BETA, "artist_name": "Beta", "genres": ["jazz", "soul"]},
           {"artist_id": GAMMA, "artist_name": "Gamma", "genres": []}]


def _play(listener: str, track: str, start: str, minutes: int, skipped: bool | None = False) -> dict:
    begin = datetime.fromisoformat(start)
    return {"listener_id": listener, "track_id": track, "played_at": begin + timedelta(minutes=minutes),
            "ms_played": minutes * 60_000, "skipped": skipped}


EXTENDED = [_play("t", A1, "2024-12-30 10:00", 4), _play("t", A2, "2024-12-30 10:04", 4),
            _play("t", B1, "2024-12-31 20:00", 6, skipped=True), _play("t", A1, "2025-01-01 09:00", 4),
            _play("t", A1, "2025-01-01 09:04", 4), _play("t", A2, "2025-01-01 09:08", 4),
            _play("t", B1, "2025-01-04 21:00", 6)]
ACCOUNT_DATA = [_play("t", C1, "2025-01-02 21:00", 10, skipped=None)]
RELEASES = {A1: 1975, A2: 1975, B1: 1962}
OLD_FAVOURITE = [_play("u", A1, f"2024-03-01 1{n}:00", 5) for n in range(5)] + [_play("u", B1, "2025-01-04 08:00", 3)]


@pytest.fixture(scope="module")
def stats(tmp_path_factory, dbt_manifest):
    warehouse = tmp_path_factory.mktemp("stats") / "stats.duckdb"
    con = duckdb.connect(str(warehouse))
    ensure_schema(con)
    listeners = [{"listener_id": name, "display_name": name, "timezone": "UTC"} for name in ("t", "u")]
    load_batch(con, RawBatch(source="extended_history", listener_id="t", plays=EXTENDED + OLD_FAVOURITE,
                             tracks=TRACKS, artists=ARTISTS, listeners=listeners))
    load_batch(con, RawBatch(source="account_data", listener_id="t", plays=ACCOUNT_DATA))
    land_lookups(con, "listenbrainz", [A1, A2, B1], {A1, A2, B1}, recordings=[
        {"track_id": track, "recording_mbid": f"mbid-{track}", "release_year": year} for track, year in RELEASES.items()])
    con.close()
    result = dbt(warehouse, "build")
    assert result.returncode == 0, result.stdout[-4000:]
    con = duckdb.connect(str(warehouse), read_only=True)
    yield con
    con.close()


def _rows(con, sql: str, *params) -> list[dict]:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _summary(con, period: str) -> dict:
    return _rows(con, "select * from marts.stats_period_summary where listener_id = 't' and period = ?", period)[0]


def test_a_year_month_and_the_last_12_months(stats):
    year = _summary(stats, "2025")
    assert (year["plays"], year["minutes_listened"], year["distinct_tracks"], year["distinct_artists"]) == (5, 28, 4, 3)
    assert (str(year["busiest_day"]), year["busiest_day_minutes"]) == ("2025-01-01", 12)
    assert (year["longest_session_minutes"], str(year["longest_session_started_at"])) == (12, "2025-01-01 09:00:00")
    assert year["share_morning"] == pytest.approx(12 / 28) and year["share_evening"] == pytest.approx(16 / 28)
    assert year["share_night"] is None and year["share_afternoon"] is None
    assert year["share_wednesday"] == pytest.approx(12 / 28) and year["share_saturday"] == pytest.approx(6 / 28)
    # the account-data play cannot tell a skip: the rate is over the other four, and says so
    assert (year["skip_rate"], year["skip_info_share"]) == (0, pytest.approx(4 / 5))
    assert (year["new_artists"], year["new_artist_share"]) == (1, pytest.approx(10 / 28))  # Gamma
    last_year = _summary(stats, "2024")
    assert (last_year["plays"], last_year["minutes_listened"], str(last_year["busiest_day"])) == (3, 14, "2024-12-30")
    assert last_year["skip_rate"] == pytest.approx(1 / 3) and last_year["new_artist_share"] == 1
    assert _summary(stats, "2025-01")["minutes_listened"] == 28
    rolling = _summary(stats, "last_12_months")
    assert (str(rolling["period_start"]), str(rolling["period_end"])) == ("2024-01-05", "2025-01-04")
    assert (rolling["plays"], rolling["minutes_listened"], rolling["skip_rate"]) == (8, 42, pytest.approx(1 / 7))


def test_top_lists_by_listening_time(stats):
    top = _rows(stats, "select item_kind, rank, item_name, minutes_listened from marts.stats_period_top "
                       "where listener_id = 't' and period = '2025' order by item_kind, rank")
    by_kind = {}
    for row in top:
        by_kind.setdefault(row["item_kind"], []).append((row["item_name"], row["minutes_listened"]))
    assert by_kind["track"] == [("Song C1", 10), ("Song A1", 8), ("Song B1", 6), ("Song A2", 4)]
    assert by_kind["artist"] == [("Alpha", 12), ("Gamma", 10), ("Beta", 6)]
    assert by_kind["album"] == [("Album A", 12), ("Album C", 10), ("Album B", 6)]
    assert by_kind["genre"] == [("rock", 12), ("jazz", 3), ("soul", 3)]  # Gamma has no genre


def test_streaks_and_the_longest_run_of_one_artist(stats):
    streak = _rows(stats, "select * from marts.stats_streaks where listener_id = 't'")[0]
    assert (str(streak["as_of_date"]), streak["current_streak_days"], str(streak["current_streak_start"])) == (
        "2025-01-04", 1, "2025-01-04")
    assert (streak["longest_streak_days"], str(streak["longest_streak_start"]), str(streak["longest_streak_end"])) == (
        4, "2024-12-30", "2025-01-02")
    assert (streak["artist_run_artist_name"], streak["artist_run_plays"], str(streak["artist_run_started_at"])) == (
        "Alpha", 3, "2025-01-01 09:00:00")


def test_discovery_and_taste_by_month(stats):
    first = dict(stats.execute("select item_name, first_played_date::varchar from marts.stats_first_listens "
                               "where listener_id = 't' and item_kind = 'artist'").fetchall())
    assert first == {"Alpha": "2024-12-30", "Beta": "2024-12-31", "Gamma": "2025-01-02"}
    months = {r["month"]: r for r in _rows(stats, "select * from marts.stats_monthly where listener_id = 't'")}
    december, january = months["2024-12"], months["2025-01"]
    assert (december["new_artists"], december["new_artist_share"], december["top10_artist_share"]) == (2, 1, 1)
    assert december["artist_entropy_bits"] == pytest.approx(0.985228, abs=1e-6)  # 8 and 6 minutes
    assert (january["distinct_artists"], january["new_artists"]) == (3, 1)
    assert january["new_artist_share"] == pytest.approx(10 / 28)


def test_on_repeat_and_forgotten_favourites(stats):
    on_repeat = _rows(stats, "select rank, track_name, recent_plays from marts.stats_favourites "
                             "where listener_id = 't' and list_kind = 'on_repeat' order by rank")
    assert [(r["track_name"], r["recent_plays"]) for r in on_repeat] == [
        ("Song A1", 3), ("Song A2", 2), ("Song B1", 2), ("Song C1", 1)]
    forgotten = _rows(stats, "select * from marts.stats_favourites where list_kind = 'forgotten'")
    assert [(r["listener_id"], r["track_name"], r["plays_before_six_months"], str(r["last_played_date"]))
            for r in forgotten] == [("u", "Song A1", 5, "2024-03-01")]


def test_the_export_carries_them_in_local_time_and_validates(stats):
    from export.build import build_dashboard
    from export.write import validate

    data = build_dashboard(stats, "t")
    validate(data)
    found = data["listening_stats"]
    periods = {p["period"]: p for p in found["periods"]}
    assert found["as_of"] == "2025-01-04" and list(periods)[0] == "last_12_months"
    year = periods["2025"]
    assert (year["minutes"], year["busiest_day"], year["skips"]) == (
        28.0, {"date": "2025-01-01", "minutes": 12.0}, {"rate": 0.0, "share_of_plays_with_skip_info": 0.8})
    assert [t["name"] for t in year["top"]["tracks"]] == ["Song C1", "Song A1", "Song B1", "Song A2"]
    assert "top" not in periods["2025-01"]  # months carry their figures only
    assert found["streaks"]["longest_days"] == 4 and found["streaks"]["artist_run"]["artist"] == "Alpha"
    assert [m["month"] for m in found["months"]] == ["2024-12", "2025-01"]
    assert found["on_repeat"][0]["track_name"] == "Song A1" and found["forgotten_favourites"] == []


def test_the_preview_shows_a_year_in_review(stats):
    from export.build import build_dashboard
    from export.preview import render_html

    page = render_html(build_dashboard(stats, "t"))
    review = page[page.index('id="year-in-review"'):]
    assert "2024-01-05 to 2025-01-04" in review and "<b>8</b><span>plays</span>" in review
    artists = review[review.index("Top artists"):review.index("Top tracks")]
    assert artists.index("Alpha") < artists.index("Beta") < artists.index("Gamma")  # 20, 12 and 10 minutes
    assert "14% of plays skipped (counted over the 88% of plays whose source reports skips)" in review


def test_eras_of_a_year(stats):
    """2025 of t: 12 minutes of 1975 tracks, 6 of a 1962 one, 10 of an undated one."""
    rows = _rows(stats, "select * from marts.stats_eras where listener_id = 't' and period = '2025' "
                 "order by release_decade")
    assert [(r["release_decade"], r["minutes_listened"], round(r["share"], 4)) for r in rows] == [
        (1960, 6, round(6 / 18, 4)), (1970, 12, round(12 / 18, 4))]
    assert {(round(r["dated_share"], 4), round(r["average_release_year"], 3), r["top_release_year"]) for r in rows} == {
        (round(18 / 28, 4), round((12 * 1975 + 6 * 1962) / 18, 3), 1975)}


def test_genres_by_year_and_how_they_moved(stats):
    """Rock 8 of 14 genre minutes in 2024 (jazz and soul 3 each: B1's 6 split), 12 of 18 in 2025."""
    shares = {(r["period"], r["genre"]): round(r["share"], 4) for r in _rows(
        stats, "select * from marts.stats_genre_periods where listener_id = 't' and period_kind = 'year'")}
    assert shares == {("2024", "rock"): round(8 / 14, 4), ("2024", "jazz"): round(3 / 14, 4),
                      ("2024", "soul"): round(3 / 14, 4), ("2025", "rock"): round(12 / 18, 4),
                      ("2025", "jazz"): round(3 / 18, 4), ("2025", "soul"): round(3 / 18, 4)}
    moved = [(r["direction"], r["rank"], r["genre"], round(r["change"], 4)) for r in _rows(
        stats, "select * from marts.stats_genre_evolution where listener_id = 't' and period = '2025' "
               "order by direction, rank")]
    assert moved == [("grew", 1, "rock", round(12 / 18 - 8 / 14, 4)), ("shrank", 1, "jazz", round(3 / 18 - 3 / 14, 4)),
                     ("shrank", 2, "soul", round(3 / 18 - 3 / 14, 4))]


def test_discoveries_and_the_longest_streak_of_a_year(stats):
    discoveries = _rows(stats, "select item_name, minutes_listened from marts.stats_period_top where listener_id = 't' "
                        "and period = '2025' and item_kind = 'discovery' order by rank")
    assert discoveries == [{"item_name": "Gamma", "minutes_listened": 10}]  # Alpha and Beta were heard in 2024
    year = _summary(stats, "2025")
    assert (year["longest_streak_days"], str(year["longest_streak_start"])) == (2, "2025-01-01")


def test_the_household_side_by_side(stats):
    """t: Alpha 20, Beta 12, Gamma 10 minutes; u: Alpha 25, Beta 3. Affinity = min(20/42, 25/28)
    + min(12/42, 3/28) = 7/12."""
    pairs = {(r["listener_id"], r["other_listener_id"]): r for r in _rows(stats, "select * from marts.stats_household")}
    assert set(pairs) == {("t", "u"), ("u", "t")}
    assert round(pairs["t", "u"]["affinity"], 6) == round(pairs["u", "t"]["affinity"], 6) == round(7 / 12, 6)
    assert (pairs["t", "u"]["shared_artists"], pairs["t", "u"]["shared_tracks"]) == (2, 2)
    lists = _rows(stats, "select list_kind, listener_id, artist_name, minutes_listened, listeners "
                  "from marts.stats_household_lists order by list_kind, listener_id, rank")
    assert lists == [
        {"list_kind": "household_top", "listener_id": None, "artist_name": "Alpha", "minutes_listened": 45, "listeners": 2},
        {"list_kind": "household_top", "listener_id": None, "artist_name": "Beta", "minutes_listened": 15, "listeners": 2},
        {"list_kind": "household_top", "listener_id": None, "artist_name": "Gamma", "minutes_listened": 10, "listeners": 1},
        {"list_kind": "missed", "listener_id": "t", "artist_name": "Gamma", "minutes_listened": 10, "listeners": 1}]


def test_the_export_and_the_preview_carry_the_new_statistics(stats):
    from export.build import build_dashboard
    from export.preview import render_html
    from export.write import validate

    data = build_dashboard(stats, "t")
    validate(data)
    found = data["listening_stats"]
    year = {p["period"]: p for p in found["periods"]}["2025"]
    assert year["eras"]["top_release_year"] == 1975 and year["longest_streak"] == {"days": 2, "start": "2025-01-01"}
    assert [d["name"] for d in year["top"]["discoveries"]] == ["Gamma"]
    other = found["household"]["others"][0]
    assert (other["listener_id"], other["affinity"]) == ("u", round(7 / 12, 4))
    assert [a["name"] for a in other["you_play_they_never_do"]] == ["Gamma"] and other["they_play_you_never_do"] == []
    assert found["exclusions"]["plays_excluded"] == 0 and found["exclusions"]["artists"] == []
    page = render_html(data)
    assert 'id="year-2025"' in page and 'id="year-2024"' in page and "affinity 58%" in page
    assert "most heard release year 1975" in page[page.index('id="year-2025"'):]


def test_exclusions_leave_plays_out_of_the_statistics_only(tmp_path, dbt_manifest):
    """Gamma excluded by name and plays under 5 minutes: t's 2025 keeps B1's 6 minutes; the raw
    plays and fct_plays keep everything, and stats_exclusions says what went."""
    warehouse = tmp_path / "excluded.duckdb"
    con = duckdb.connect(str(warehouse))
    ensure_schema(con)
    listeners = [{"listener_id": name, "display_name": name, "timezone": "UTC"} for name in ("t", "u")]
    load_batch(con, RawBatch(source="extended_history", listener_id="t", plays=EXTENDED + OLD_FAVOURITE + ACCOUNT_DATA,
                             tracks=TRACKS, artists=ARTISTS, listeners=listeners))
    con.close()
    exclusions = '{"stats_exclude_artists": ["GAMMA"], "stats_exclude_tracks": [], "stats_min_play_ms": 300000}'
    result = dbt(warehouse, "build", "--vars", exclusions, "--exclude", "test_type:unit")
    assert result.returncode == 0, result.stdout[-4000:]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert _summary(con, "2025")["minutes_listened"] == 6
        assert con.execute("select count(*) from marts.fct_plays").fetchone() == (len(EXTENDED + OLD_FAVOURITE) + 1,)
        excluded = {r["listener_id"]: r for r in _rows(con, "select * from marts.stats_exclusions")}
        assert (excluded["t"]["plays_excluded_artist"], excluded["t"]["plays_excluded_shorter_than_minimum"],
                excluded["t"]["minutes_excluded"]) == (1, 5, 30)
        assert (excluded["u"]["plays_excluded"], list(excluded["u"]["exclude_artists"])) == (1, ["gamma"])
    finally:
        con.close()


def test_a_refresh_right_after_an_upgrade_exports_the_statistics_the_old_daily_run_built(stats, tmp_path):
    """Before the next daily run, the statistics are those an older version built: no new marts,
    no new columns. The export still validates, the new keys empty."""
    from export.build import build_dashboard
    from export.write import validate

    import shutil

    built = stats.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()[0]
    old = tmp_path / "stats.duckdb"  # the same name: views name their database
    shutil.copy(built, old)
    con = duckdb.connect(str(old))
    try:
        for table in ("stats_eras", "stats_genre_periods", "stats_genre_evolution", "stats_household",
                      "stats_household_lists", "stats_exclusions"):
            con.execute(f"drop table if exists marts.{table}")
        con.execute("alter table marts.stats_period_summary drop column longest_streak_days")
        con.execute("alter table marts.stats_period_summary drop column longest_streak_start")
        data = build_dashboard(con, "t")
    finally:
        con.close()
    validate(data)
    found = data["listening_stats"]
    assert found["household"] is None and found["genre_activity"] == [] and found["exclusions"] is None
    assert found["periods"][0]["longest_streak"] == {"days": None, "start": None}
