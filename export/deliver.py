"""Deliver the export to the website's git repository: commit only when the content changed.

The repository is a local path or an HTTPS remote (WEBSITE_REPO). For HTTPS the token
(WEBSITE_REPO_PAT) reaches git as an HTTP header through GIT_CONFIG_* environment variables:
never in a URL, a command line or `.git/config`, and every git message is scrubbed of it
before it is shown. The working copy lives under SPOTIFY_BRAIN_DATA_DIR and belongs to us:
each delivery resets it to the remote branch first.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from warehouse.settings import Settings

AUTHOR = ("spotify-brain", "spotify-brain@users.noreply.github.com")


class DeliveryError(RuntimeError):
    """git failed; the message names the step and never contains the token."""


@dataclass
class Delivery:
    committed: bool
    commit: str | None
    message: str


class _Git:
    def __init__(self, settings: Settings, checkout: Path):
        self.checkout = checkout
        self.secrets: list[str] = []
        self.env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": AUTHOR[0],
                    "GIT_AUTHOR_EMAIL": AUTHOR[1], "GIT_COMMITTER_NAME": AUTHOR[0], "GIT_COMMITTER_EMAIL": AUTHOR[1]}
        token = settings.website_repo_pat.get_secret_value() if settings.website_repo_pat else ""
        if token and settings.website_repo.startswith("https://"):
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            self.env |= {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                         "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}
            self.secrets = [token, basic]

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def __call__(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(["git", *args], cwd=cwd or self.checkout, env=self.env, capture_output=True,
                                text=True, timeout=300)
        if check and result.returncode:
            raise DeliveryError(f"git {args[0]} failed for WEBSITE_REPO: "
                                f"{self.scrub((result.stderr or result.stdout).strip())[-1500:]}")
        return result


def _sync(git: _Git, settings: Settings) -> None:
    """A working copy equal to the remote branch (or an empty branch, if the remote has none)."""
    branch = settings.website_repo_branch
    if not (git.checkout / ".git").is_dir():
        shutil.rmtree(git.checkout, ignore_errors=True)
        git.checkout.parent.mkdir(parents=True, exist_ok=True)
        git("clone", "--quiet", "--no-checkout", settings.website_repo, str(git.checkout), cwd=git.checkout.parent)
    git("fetch", "--quiet", "origin")
    if git("rev-parse", "--verify", "--quiet", f"origin/{branch}", check=False).returncode == 0:
        git("checkout", "--quiet", "-B", branch, f"origin/{branch}")
        git("reset", "--quiet", "--hard", f"origin/{branch}")
    else:
        git("checkout", "--quiet", "--orphan", branch, check=False)


def _same_apart_from_generated_at(old: Path, new: Path) -> bool:
    """A refresh that found nothing new still stamps a new generated_at: that is not worth a commit."""
    try:
        before, after = json.loads(old.read_text()), json.loads(new.read_text())
    except (FileNotFoundError, ValueError):
        return False
    before.pop("generated_at", None), after.pop("generated_at", None)
    return before == after


def deliver(json_path: Path, settings: Settings, summary: str, target: str | None = None) -> Delivery:
    """Commit `json_path` to WEBSITE_REPO at `target` (default WEBSITE_REPO_FILE) if its content
    changed, and push."""
    git = _Git(settings, settings.data_dir.resolve() / "website-checkout")
    target = target or settings.website_repo_file
    for _ in range(2):  # a push that lost a race is retried once on the new remote head
        _sync(git, settings)
        destination = git.checkout / target
        if _same_apart_from_generated_at(destination, json_path):
            return Delivery(False, None, f"{target} unchanged apart from generated_at: nothing committed")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(json_path, destination)
        git("add", "--", target)
        if git("diff", "--cached", "--quiet", check=False).returncode == 0:
            return Delivery(False, None, f"{target} unchanged in {settings.website_repo_branch}: nothing committed")
        message = f"Update {target}: {summary}"
        git("commit", "--quiet", "-m", message)
        push = git("push", "--quiet", "origin", f"HEAD:{settings.website_repo_branch}", check=False)
        if push.returncode == 0:
            return Delivery(True, git("rev-parse", "HEAD").stdout.strip(), message)
    raise DeliveryError("git push failed for WEBSITE_REPO twice (the branch moved under us, or access was "
                        f"refused): {git.scrub((push.stderr or push.stdout).strip())[-1500:]}")
