"""Memory of the processes a benchmark starts, read from Linux's /proc (the benchmarks run on Linux only)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def children(pid: int) -> list[int]:
    """The direct children of a process (gunicorn's workers under its master)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue   # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


# Linux carries a process's RSS high-water mark across fork and exec, so a command started straight from the
# benchmark (hundreds of MB) would report at least the benchmark's own peak: a small interpreter starts it instead
# and reports what wait4 says of that command alone.
_WRAPPER = ("import os, subprocess, sys\n"
            "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
            "_pid, status, usage = os.wait4(child.pid, 0)\n"
            "print(usage.ru_maxrss)\n"
            "sys.exit(os.waitstatus_to_exitcode(status))\n")


def run_peak_rss_mb(command: list[str], *, env: dict, cwd: Path) -> float:
    """Run a command to its end; its peak resident set in MB (wait4's ru_maxrss, kilobytes on Linux)."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *command], env=env, cwd=cwd, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-400:]}")
    return int(done.stdout.split()[-1]) / 1024
