from orchestration.cli import main


def test_bad_setting_stops_at_start_up_with_its_name(env, monkeypatch, capsys):
    monkeypatch.setenv("SPOTIFY_BRAIN_TIMEZONE", "Nowhere/City")
    assert main(["run"]) == 2
    assert "SPOTIFY_BRAIN_TIMEZONE" in capsys.readouterr().err
