"""Delivery of the export to the website's git repository, against local bare repositories."""

from __future__ import annotations

import copy
import subprocess

import pytest

from export.deliver import DeliveryError, deliver
from export.write import write_export
from test_export import _valid
from warehouse.settings import load_settings


def git(*args: str, cwd) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def website(env, monkeypatch):
    bare = env / "website.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare), cwd=env)
    monkeypatch.setenv("WEBSITE_REPO", str(bare))
    monkeypatch.setenv("WEBSITE_REPO_FILE", "public/data/dashboard_data.json")
    return bare


def commits(bare) -> list[str]:
    return git("log", "--format=%s", "main", cwd=bare).splitlines()


def test_commits_new_content_once_and_unchanged_content_never(website):
    settings = load_settings()
    data = _valid()
    write_export(data, settings.export_path)
    first = deliver(settings.export_path, settings, "listener demo")
    assert first.committed and commits(website) == ["Update public/data/dashboard_data.json: listener demo"]
    assert not deliver(settings.export_path, settings, "listener demo").committed

    restamped = copy.deepcopy(data)
    restamped["generated_at"] = "2026-11-01T10:30:00+01:00"  # a refresh that found nothing new
    write_export(restamped, settings.export_path)
    assert not deliver(settings.export_path, settings, "listener demo").committed

    restamped["top_hours"][0]["probability"] = 0.2
    write_export(restamped, settings.export_path)
    assert deliver(settings.export_path, settings, "listener demo").committed
    assert len(commits(website)) == 2
    shown = git("show", "main:public/data/dashboard_data.json", cwd=website)
    assert '"probability": 0.2' in shown


def test_someone_elses_commit_on_the_branch_is_kept(website, tmp_path):
    settings = load_settings()
    write_export(_valid(), settings.export_path)
    deliver(settings.export_path, settings, "first")
    other = tmp_path / "other"
    git("clone", "--quiet", str(website), str(other), cwd=tmp_path)
    (other / "index.html").write_text("<h1>my site</h1>")
    git("add", "index.html", cwd=other)
    git("-c", "user.name=me", "-c", "user.email=me@example.com", "commit", "--quiet", "-m", "site", cwd=other)
    git("push", "--quiet", "origin", "main", cwd=other)
    changed = _valid()
    changed["top_hours"][0]["hour"] = 9
    write_export(changed, settings.export_path)
    assert deliver(settings.export_path, settings, "second").committed
    files = git("ls-tree", "-r", "--name-only", "main", cwd=website).splitlines()
    assert files == ["index.html", "public/data/dashboard_data.json"]


def test_the_token_never_appears_in_errors_or_on_disk(env, monkeypatch):
    monkeypatch.setenv("WEBSITE_REPO", "https://127.0.0.1:9/me/site.git")  # nothing listens there
    monkeypatch.setenv("WEBSITE_REPO_PAT", "ghp_supersecret123")
    settings = load_settings()
    write_export(_valid(), settings.export_path)
    with pytest.raises(DeliveryError) as failure:
        deliver(settings.export_path, settings, "x")
    assert "git clone failed" in str(failure.value) and "ghp_supersecret123" not in str(failure.value)
    leftovers = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    assert all("ghp_supersecret123" not in p.read_text(errors="ignore") for p in leftovers)


def test_a_url_with_credentials_is_refused_without_echoing_it(env, monkeypatch):
    from warehouse.settings import SettingsError

    monkeypatch.setenv("WEBSITE_REPO", "https://me:ghp_abc@github.com/me/site.git")
    with pytest.raises(SettingsError, match="WEBSITE_REPO_PAT") as failure:
        load_settings()
    assert "ghp_abc" not in str(failure.value)
