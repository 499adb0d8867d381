"""What every file format's record checks are made of, shared by the import rooms
(`spotify_download/`, `lastfm_export/`, `listenbrainz_export/`).

A format is a dict:
- `fields`: field -> expected type (string, boolean, count); only these are ever read, so a
  private field (IP address, user name) cannot reach the warehouse;
- `objects` (optional): SQL reading the file (`$path`) into `record_no` and, per field,
  `<field>_json` (its JSON value); without it, the file is read as a JSON list of objects;
- `checks`: (condition, reason) pairs, the first that holds rejects the record;
- `set_aside`: a condition for records that are not music plays (counted, not landed);
- `columns`: the staged play columns (see STAGED_COLUMNS) from the checked fields;
- `source`: the `raw.plays.source` its plays land with; `expected`: what the file should be,
  in the words of a message about a file that is not.
In conditions, a field's name is its typed value, `<field>_type` its JSON type and
`<field>_json` its JSON text.
"""

from __future__ import annotations

INT32_MAX = 2_147_483_647


QUOTED = 120  # characters of a value a reason quotes


# "any": read as it is, never checked (an optional length a source may give in any shape)
SQL_TYPES = {"string": "varchar", "boolean": "boolean", "count": "bigint", "any": "varchar"}


JSON_TYPES = {"string": "'VARCHAR'", "boolean": "'BOOLEAN'", "count": "'UBIGINT', 'BIGINT'"}


# what a format's `columns` must give, in this order (raw.plays' columns and the track's names)
STAGED_COLUMNS = ("track_id", "played_at", "started_at", "ms_played", "skipped", "reason_start", "reason_end",
                  "shuffle", "platform", "track_name", "album_name", "artist_name")


def quoted(sql: str) -> str:
    """A value as a reason quotes it: at most QUOTED characters (a record can hold megabytes)."""
    return f"left({sql}, {QUOTED})"


def type_checks(fields: dict[str, str]) -> list[tuple[str, str]]:
    """A field of the wrong JSON type rejects the record; counts must be present and fit raw.plays."""
    checks = []
    for name, kind in fields.items():
        if kind == "any":
            continue
        shown = quoted(f"coalesce({name}_json::varchar, 'missing')")
        if kind == "count":
            checks.append((f"{name}_type is null or {name}_type not in ({JSON_TYPES[kind]}) "
                           f"or not coalesce({name} between 0 and {INT32_MAX}, false)",
                           f"'{name} is not a non-negative integer: ' || {shown}"))
        else:
            checks.append((f"{name}_type not in ('NULL', {JSON_TYPES[kind]})",
                           f"'{name} has type ' || lower({name}_type) || ', expected {kind}: ' || {shown}"))
    return checks


def field_columns(fields: dict[str, str]) -> str:
    """Per field: its JSON type and its value as a SQL type (null if it does not cast)."""
    columns = []
    for name, kind in fields.items():
        value = f"{name}_json ->> '$'" if kind == "string" else f"try_cast({name}_json::varchar as {SQL_TYPES[kind]})"
        columns.append(f"json_type({name}_json) as {name}_type, {value} as {name}")
    return ",\n".join(columns)


def name_track_id(artist: str, track: str) -> str:
    """The track id of a play known by its names only (`name:<hash>`): the same for every source,
    so account data and scrobbles of one track share it; dbt resolves it to a real track
    (int_plays__track_resolved)."""
    return f"'name:' || sha256(lower(trim({artist})) || chr(31) || lower(trim({track})))[1:22]"


def names_missing(artist: str, track: str) -> tuple[str, str]:
    """A check: a play needs an artist and a track name."""
    return (f"coalesce(trim({artist}), '') = '' or coalesce(trim({track}), '') = ''",
            f"'{artist} or {track} is missing'")


def scrobble_columns(track_id: str, at: str, ms: str, track: str, album: str, artist: str,
                     at_is_end: str = "false") -> str:
    """Staged columns of a scrobble: a play known by one time (when it started, unless `at_is_end`)
    and, at most, the length of its track. A start-timed play is keyed by its start plus that
    length (zero when unknown); dbt gives it its minutes (int_plays__track_resolved)."""
    ms = f"coalesce({ms}, 0)"
    return f"""{track_id} as track_id,
        case when {at_is_end} then {at} else {at} + to_milliseconds({ms}) end as played_at,
        case when {at_is_end} then null else {at} end as started_at,
        {ms} as ms_played, null::boolean as skipped, null::varchar as reason_start,
        null::varchar as reason_end, null::boolean as shuffle, null::varchar as platform,
        {track} as track_name, {album} as album_name, {artist} as artist_name"""


def optional_ms(sql: str) -> str:
    """A length in milliseconds a source may give (a track's duration): null unless a whole,
    plausible number (under a day); a bad one is no reason to refuse the play."""
    return f"case when try_cast({sql} as bigint) between 1 and 86400000 then try_cast({sql} as bigint) end"


def unix_time(sql: str, ms_per_unit: int = 1000) -> str:
    """A Unix time (seconds, or milliseconds with ms_per_unit=1) as naive UTC; null unless a whole
    number before the year 3000 (so no value can overflow the conversion)."""
    value = f"try_cast({sql} as bigint)"
    return f"case when {value} between 0 and {32_503_680_000_000 // ms_per_unit} then epoch_ms({value} * {ms_per_unit}) end"


def csv_objects(fields: list[str], header: bool, delimiter: str = ",") -> str:
    """SQL reading a CSV file (`$path`) as text into record_no and `<field>_json`. The fields are
    the file's columns in order; with a header, its names are not read (one format's header holds
    the user name). A short row is padded with nulls, so the checks name it; a long one fails the file."""
    columns = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in fields) + "}"
    picked = ", ".join(f"to_json({name}) as {name}_json" for name in fields)
    return (f"select row_number() over () - 1 as record_no, {picked} "
            f"from read_csv($path, delim='{delimiter}', quote='\"', escape='\"', header=false, "
            f"skip={1 if header else 0}, columns={columns}, null_padding=true, auto_detect=false)")
