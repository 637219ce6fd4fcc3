#!/usr/bin/env python3
"""A one-node SLURM cluster on this machine, for trying `hydra/launcher=slurm` and for the tests.

    python scripts/slurm_local.py up       # or: make slurm-up
    export SLURM_CONF=/tmp/cnngan-slurm/slurm.conf
    cnngan-train -m hydra/launcher=slurm ...
    python scripts/slurm_local.py down     # or: make slurm-down

Needs root and Debian's `slurm-wlm` and `munge` packages (`apt-get install -y slurm-wlm munge`).
Everything lives in one folder (`--dir`, default /tmp/cnngan-slurm): slurm.conf, a private munge
key and socket, the state, spool, log and pid files, and `pids.json` with the process ids of the
three daemons this script started (munged, slurmctld, slurmd). `down` cancels the cluster's jobs
and stops exactly those processes; nothing else on the machine is touched, so a system-wide munge
or SLURM keeps running. Daemons run in the foreground of their own session (no double fork), so
the recorded ids are the daemons themselves.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

DEFAULT_DIR = Path("/tmp/cnngan-slurm")
DEFAULT_PORT = 6817  # slurmctld; slurmd listens on the next port
PARTITION = "debug"
DAEMONS = ("munged", "slurmctld", "slurmd")


class ClusterError(RuntimeError):
    """The cluster cannot start here (missing packages, not root, a daemon died)."""


# ------------------------------------------------------------------------------------- config
def host_name() -> str:
    return socket.gethostname().split(".")[0]


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def slurm_conf_text(folder: Path, port: int) -> str:
    """slurm.conf of a single node with all of this machine's CPUs, every path inside `folder`.

    `SlurmdParameters=config_overrides` makes slurmd trust this node line instead of probing the
    hardware (containers often see more CPUs than they may use). No accounting daemon: `sacct`
    does not answer, so submitit learns that a job ended from its result file.
    """
    host = host_name()
    return "\n".join(
        [
            "ClusterName=cnngan",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={port}",
            f"SlurmdPort={port + 1}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            # cred_expire is also how long a requeued job waits before it starts again (120 s)
            f"AuthInfo=socket={folder / 'munge' / 'munge.socket.2'},cred_expire=20",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerType=sched/backfill",
            "MpiDefault=none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "SlurmdParameters=config_overrides",
            "ReturnToService=2",
            "KillWait=5",  # seconds between SIGTERM and SIGKILL (scancel, requeue, time limit)
            "MinJobAge=600",  # finished jobs stay visible to scontrol for 10 minutes
            "JobRequeue=1",
            "SchedulerParameters=sched_interval=2",
            f"StateSaveLocation={folder / 'state'}",
            f"SlurmdSpoolDir={folder / 'spool'}",
            f"SlurmctldPidFile={folder / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={folder / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={folder / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={folder / 'log' / 'slurmd.log'}",
            f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpu_count()} State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP",
            "",
        ]
    )


def client_env(folder: Path) -> dict[str, str]:
    """This process's environment plus SLURM_CONF, as every SLURM client here needs it."""
    return {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")}


# -------------------------------------------------------------------------------------- checks
def missing_requirements() -> str | None:
    """Why the cluster cannot start here, or None when it can."""
    if os.geteuid() != 0:
        return "the local SLURM cluster needs root (slurmd runs jobs as their user)"
    tools = ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "srun", "scontrol", "scancel")
    missing = [t for t in tools if shutil.which(t, path=_sbin_path()) is None]
    if missing:
        return f"missing {', '.join(missing)}: apt-get install -y slurm-wlm munge"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user: apt-get install -y munge"
    return None


def _sbin_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def _tool(name: str) -> str:
    path = shutil.which(name, path=_sbin_path())
    if path is None:
        raise ClusterError(f"{name} not found: apt-get install -y slurm-wlm munge")
    return path


# ---------------------------------------------------------------------------------------- up
def prepare_folder(folder: Path, port: int) -> None:
    """Fresh state/spool/log/run folders, slurm.conf, and a munge key owned by munge."""
    for sub in ("state", "spool", "log", "run"):
        shutil.rmtree(folder / sub, ignore_errors=True)
        (folder / sub).mkdir(parents=True)
    folder.chmod(0o755)  # munged runs as user munge and must reach its own folder
    (folder / "slurm.conf").write_text(slurm_conf_text(folder, port))
    _prepare_munge(folder / "munge")


def _prepare_munge(munge_dir: Path) -> None:
    user = pwd.getpwnam("munge")
    shutil.rmtree(munge_dir, ignore_errors=True)
    munge_dir.mkdir()
    munge_dir.chmod(0o711)  # munged: "execute permissions for all required" on its socket dir
    key = munge_dir / "munge.key"
    key.write_bytes(os.urandom(128))  # a private key: this cluster trusts no other munged
    key.chmod(0o400)
    for path in (munge_dir, key):
        os.chown(path, user.pw_uid, user.pw_gid)


def _start(name: str, command: list[str], log: Path, user: str | None = None) -> int:
    """Start one daemon in the foreground of a new session; return its process id."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            close_fds=True,
        )
    time.sleep(0.5)
    if proc.poll() is not None:
        raise ClusterError(f"{name} exited at once ({proc.returncode}); see {log}")
    return proc.pid


def start_daemons(folder: Path) -> dict[str, int]:
    """munged (as munge, private socket), then slurmctld and slurmd (as root, -D)."""
    munge = folder / "munge"
    conf = str(folder / "slurm.conf")
    pids: dict[str, int] = {}
    _write_pids(folder, pids)
    munged = [
        _tool("munged"),
        "--foreground",
        f"--socket={munge / 'munge.socket.2'}",
        f"--key-file={munge / 'munge.key'}",
        f"--pid-file={munge / 'munged.pid'}",
        f"--log-file={munge / 'munged.log'}",
        f"--seed-file={munge / 'munged.seed'}",
    ]
    pids["munged"] = _start("munged", munged, folder / "log" / "munged.out", user="munge")
    _write_pids(folder, pids)
    _wait_for(lambda: (munge / "munge.socket.2").exists(), 20, "munged's socket")
    log = folder / "log"
    pids["slurmctld"] = _start(
        "slurmctld", [_tool("slurmctld"), "-D", "-i", "-f", conf], log / "slurmctld.out"
    )
    _write_pids(folder, pids)
    pids["slurmd"] = _start("slurmd", [_tool("slurmd"), "-D", "-f", conf], log / "slurmd.out")
    _write_pids(folder, pids)
    return pids


def node_state(folder: Path) -> str | None:
    """The node's state as sinfo prints it (idle, mixed, alloc, down*, ...), None if no answer."""
    try:
        out = subprocess.run(
            [_tool("sinfo"), "-h", "-N", "-o", "%T"],
            env=client_env(folder),
            capture_output=True,
            text=True,
            timeout=10,
        )
    except subprocess.TimeoutExpired:
        return None
    state = out.stdout.strip()
    return state if out.returncode == 0 and state else None


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}")


def up(folder: Path, port: int, timeout: float) -> None:
    """Start the cluster and wait until its node is idle; stop what started on any failure."""
    if reason := missing_requirements():
        raise ClusterError(reason)
    if alive_pids(folder):
        raise ClusterError(f"a cluster of {folder} is running already ({folder / 'pids.json'})")
    folder.mkdir(parents=True, exist_ok=True)
    prepare_folder(folder, port)
    try:
        start_daemons(folder)
        _wait_for(lambda: node_state(folder) == "idle", timeout, "the node to be idle in sinfo")
        if dead := set(DAEMONS) - alive_pids(folder).keys():
            raise ClusterError(f"{', '.join(sorted(dead))} died; see {folder / 'log'}")
    except BaseException:
        down(folder, quiet=True)
        raise
    print(f"SLURM is up: node {host_name()} idle, {cpu_count()} CPUs, partition {PARTITION}")
    print(f"export SLURM_CONF={folder / 'slurm.conf'}")


# -------------------------------------------------------------------------------------- down
def _write_pids(folder: Path, pids: dict[str, int]) -> None:
    (folder / "pids.json").write_text(json.dumps(pids, indent=2) + "\n")


def _read_pids(folder: Path) -> dict[str, int]:
    path = folder / "pids.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _is_ours(name: str, pid: int) -> bool:
    """The process `pid` is alive (not a zombie) and still runs daemon `name`: guards `down`
    against a process id that the system has given to another process since."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") and Path(command).name == name


def alive_pids(folder: Path) -> dict[str, int]:
    return {n: p for n, p in _read_pids(folder).items() if _is_ours(n, p)}


def _cancel_jobs(folder: Path) -> None:
    """Cancel every job of the partition so slurmd ends their steps before it stops."""
    env = client_env(folder)
    subprocess.run(
        [_tool("scancel"), "--partition", PARTITION], env=env, capture_output=True, timeout=20
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        out = subprocess.run(
            [_tool("squeue"), "-h", "-t", "RUNNING,COMPLETING", "-o", "%i"],
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if out.returncode != 0 or not out.stdout.strip():
            return
        time.sleep(1)


def _stop(name: str, pid: int, grace: float = 15) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _is_ours(name, pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _is_ours(name, pid):
        os.kill(pid, signal.SIGKILL)


def down(folder: Path, quiet: bool = False) -> None:
    """Cancel the jobs, then stop slurmd, slurmctld and munged: exactly the recorded processes."""
    pids = alive_pids(folder)
    if {"slurmctld", "slurmd", "munged"} <= pids.keys():
        with contextlib.suppress(subprocess.TimeoutExpired, ClusterError):
            _cancel_jobs(folder)
    for name in reversed(DAEMONS):
        if name in pids:
            _stop(name, pids[name])
    if (folder / "pids.json").exists():
        _write_pids(folder, {})
    if not quiet:
        print(f"SLURM is down ({', '.join(f'{n} {p}' for n, p in pids.items()) or 'none ran'})")


# ------------------------------------------------------------------------------------ status
def status(folder: Path) -> int:
    """Print the daemons and the node state; exit status 0 only when the node answers."""
    pids = _read_pids(folder)
    for name in DAEMONS:
        pid = pids.get(name)
        alive = pid is not None and _is_ours(name, pid)
        print(f"{name:10s} {pid if pid else '-':>8}  {'running' if alive else 'stopped'}")
    state = node_state(folder) if pids and shutil.which("sinfo", path=_sbin_path()) else None
    print(f"node {host_name()}: {state or 'no answer'}")
    print(f"SLURM_CONF={folder / 'slurm.conf'}")
    return 0 if state else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the cluster's folder")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="slurmctld port (+1: slurmd)"
    )
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for idle")
    args = parser.parse_args(argv)
    folder = args.dir.resolve()
    try:
        if args.action == "up":
            up(folder, args.port, args.timeout)
        elif args.action == "down":
            down(folder)
        else:
            return status(folder)
    except ClusterError as err:
        print(f"slurm_local: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
