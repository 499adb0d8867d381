from orchestration.cli import main


def test_bad_setting_stops_at_start_up_with_its_name(env, monkeypatch, capsys):
    monkeypatch.setenv("SPOTIFY_BRAIN_TIMEZONE", "Nowhere/City")
    assert main(["run"]) == 2
    assert "SPOTIFY_BRAIN_TIMEZONE" in capsys.readouterr().err


def test_a_first_run_that_fails_ends_with_its_own_message_not_a_traceback(env, dbt_manifest, monkeypatch, capsys):
    monkeypatch.setenv("SPOTIFY_BRAIN_INGEST_SOURCE", "spotify")  # and no refresh token: the pull fails first
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", "id")
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "secret")
    assert main(["run", "--job", "refresh"]) == 1
    captured = capsys.readouterr()
    assert "ingest FAILED: the Spotify pull failed for demo: SPOTIFY_REFRESH_TOKEN is not set" in captured.err
    assert "nothing built yet" in captured.out
    assert "Traceback" not in captured.out + captured.err and "CatalogException" not in captured.out + captured.err


def test_only_the_console_script_freezes_what_it_loaded(monkeypatch):
    import gc

    from orchestration import heap

    before = gc.get_freeze_count()
    heap.loaded()  # a process running many commands (this one): earlier commands' garbage stays collectable
    assert gc.get_freeze_count() == before
    monkeypatch.setattr(heap, "_freeze", False)
    heap.freeze_when_loaded()  # what `spotify-brain` does first
    try:
        heap.loaded()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
