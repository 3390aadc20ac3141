"""The cluster's processes: started in sessions of their own, found by pid file, stopped as groups.

Each process `cluster.py up` starts runs in its own session (so that stopping it stops its
children), logs to `<cluster dir>/logs/<name>.log` and records its pid in `<cluster dir>/run/<name>.pid`;
`stop` sends SIGTERM to the groups at once and SIGKILL to what is left after a grace period.
`wait_for_port` and `wait_for_http` wait for a server to answer, or say which log to read.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent  # where every process runs
STARTUP_SECONDS = float(os.environ.get("POPPY_CLUSTER_STARTUP_SECONDS", "180"))
# How long `down` lets a process finish what it is doing before it is killed.
STOP_SECONDS = float(os.environ.get("POPPY_CLUSTER_STOP_SECONDS", "20"))


class ClusterError(RuntimeError):
    pass


def _pidfile(env: dict[str, str], name: str) -> Path:
    return Path(env["POPPY_CLUSTER_DIR"]) / "run" / f"{name}.pid"


def pid_of(env: dict[str, str], name: str) -> int | None:
    """The pid of a process started by `up` if it is still running."""
    path = _pidfile(env, name)
    if not path.exists():
        return None
    pid = int(path.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def spawn(env: dict[str, str], name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> int:
    """Start `argv` in its own session (so `down` stops it with its children), logging to logs/<name>.log."""
    running = pid_of(env, name)
    if running:
        return running
    folder = Path(env["POPPY_CLUSTER_DIR"])
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    (folder / "run").mkdir(parents=True, exist_ok=True)
    with open(folder / "logs" / f"{name}.log", "ab") as log:
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            env={**os.environ, **env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _pidfile(env, name).write_text(str(process.pid))
    return process.pid


def stop(env: dict[str, str], *names: str, grace: float = STOP_SECONDS) -> None:
    """SIGTERM the process groups of `names` at once, SIGKILL what is left after `grace` seconds."""
    pids = [pid for name in names if (pid := pid_of(env, name))]
    for pid in pids:
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(map(_group_alive, pids)):
        time.sleep(0.2)
    for pid in pids:
        _signal_group(pid, signal.SIGKILL)
    for name in names:
        _pidfile(env, name).unlink(missing_ok=True)


def kill(env: dict[str, str], name: str) -> None:
    """SIGKILL `name` and its children at once (a crash, for the fault tests)."""
    pid = pid_of(env, name)
    if pid:
        _signal_group(pid, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_port(port: int, what: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise ClusterError(f"{what} did not listen on 127.0.0.1:{port} within {STARTUP_SECONDS:.0f} s; see {log}")


def wait_for_http(url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise ClusterError(f"{url} did not answer within {STARTUP_SECONDS:.0f} s; see {log}")
