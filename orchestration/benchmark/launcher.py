"""Start one command, wait for it, and write its wall seconds, peak memory and exit code as JSON.

Run by the benchmark as `python -m orchestration.benchmark.launcher REPORT COMMAND...`, not from the
benchmark's own process: on Linux a child's peak memory counts the memory of the process it was
started from, and the benchmark holds the generated histories."""

import json
import os
import subprocess
import sys
import time


def main(report: str, command: list[str]) -> None:
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    with open(report, "w") as out:
        json.dump({"s": time.perf_counter() - started, "peak_kb": usage.ru_maxrss,
                   "code": os.waitstatus_to_exitcode(status)}, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
