"""One of two processes that open new Dagster homes at the same moment, round after round:
`python open_home_together.py ROOT ROUNDS NAME`. In round k it says it is ready (ROOT/k/ready-NAME),
waits for the test to start the round (ROOT/k/go), opens the home ROOT/k/home the way every
command does, reads from its storages and writes ROOT/k/done-NAME; an error is printed and
ends the process with exit 1."""

import os
import sys
import time
from pathlib import Path

import dagster  # noqa: F401  the slow import done before the first round, so both open at once

from orchestration.runner import dagster_instance


def main(root: Path, rounds: int, name: str) -> None:
    for k in range(rounds):
        folder = root / str(k)
        os.environ["DAGSTER_HOME"] = str(folder / "home")
        (folder / f"ready-{name}").touch()
        while not (folder / "go").exists():
            time.sleep(0.001)
        with dagster_instance() as instance:
            instance.get_runs(limit=1)
            instance.all_instigator_state()
        (folder / f"done-{name}").touch()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
