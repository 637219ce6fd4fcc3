#!/usr/bin/env python3
"""A SLURM cluster of one or more nodes on this machine, for `hydra/launcher=slurm` and the tests.

    python scripts/slurm_local.py up --nodes 2   # or: make slurm-up NODES=2
    export SLURM_CONF=/tmp/cnngan-slurm/slurm.conf
    cnngan-train -m hydra/launcher=slurm trainer=ddp_cpu trainer.num_nodes=2 trainer.devices=1 ...
    python scripts/slurm_local.py down           # or: make slurm-down

Needs root and Debian's `slurm-wlm` and `munge` packages (`apt-get install -y slurm-wlm munge`).
Every node is one `slurmd -N n<i>` daemon on this host with its own port and its share of the
CPUs (see `cpus_per_node`), all reached at 127.0.0.1. The node names do not resolve, so a
task prolog gives every task `MASTER_ADDR=127.0.0.1` (the first node's address), which
Lightning's SLURM environment would otherwise derive from the first node's name.

Everything lives in one folder (`--dir`, default /tmp/cnngan-slurm): slurm.conf, the task prolog,
a private munge key and socket, the state, spool, log and pid files, and `pids.json` with the
process ids of the daemons this script started (munged, slurmctld, one slurmd per node). `down`
cancels the cluster's jobs and stops exactly those processes; nothing else on the machine is
touched, so a system-wide munge or SLURM keeps running. Daemons run in the foreground of their
own session (no double fork), so the recorded ids are the daemons themselves.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

DEFAULT_DIR = Path("/tmp/cnngan-slurm")
DEFAULT_PORT = 6817  # slurmctld; node i (1..N) listens on port + i
PARTITION = "debug"
SERVICES = ("munged", "slurmctld")


class ClusterError(RuntimeError):
    """The cluster cannot start here (missing packages, not root, a daemon died)."""


# ------------------------------------------------------------------------------------- config
def node_names(nodes: int) -> list[str]:
    return [f"n{i}" for i in range(1, nodes + 1)]


def node_list(nodes: int) -> str:
    """The nodes in SLURM's range notation: n1, or n[1-N]."""
    return "n1" if nodes == 1 else f"n[1-{nodes}]"


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def cpus_per_node(nodes: int) -> int:
    """Each node's share of this machine's CPUs, but at least two where the machine has two: a
    one-node job of two DDP processes (`trainer=ddp_cpu trainer.devices=2`) must fit on a node.
    On a 2-core machine two nodes then share the cores."""
    return max(cpu_count() // nodes, min(2, cpu_count()))


def slurm_conf_text(folder: Path, port: int, nodes: int) -> str:
    """slurm.conf of `nodes` nodes, each with its share of the CPUs, every path inside `folder`.

    `SlurmdParameters=config_overrides` makes slurmd trust its node line instead of probing the
    hardware (every node sees the whole machine). `%n` gives each slurmd its own spool, pid and
    log file. No accounting daemon: `sacct` does not answer, so submitit learns that a job ended
    from its result file. No preemption is configured: `scancel --signal USR2 <id>` sends what a
    preempting scheduler with `SlurmctldParameters=preempt_send_user_signal` would.
    """
    cpus = cpus_per_node(nodes)
    lines = [
        "ClusterName=cnngan",
        f"SlurmctldHost={_host_name()}(127.0.0.1)",
        f"SlurmctldPort={port}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        # cred_expire is also how long a requeued job waits before it starts again (120 s)
        f"AuthInfo=socket={folder / 'munge' / 'munge.socket.2'},cred_expire=20",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        f"TaskProlog={folder / 'task_prolog.sh'}",
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
        f"SlurmdSpoolDir={folder / 'spool' / '%n'}",
        f"SlurmctldPidFile={folder / 'run' / 'slurmctld.pid'}",
        f"SlurmdPidFile={folder / 'run' / 'slurmd-%n.pid'}",
        f"SlurmctldLogFile={folder / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={folder / 'log' / 'slurmd-%n.log'}",
    ]
    for i, name in enumerate(node_names(nodes), start=1):
        lines.append(
            f"NodeName={name} NodeAddr=127.0.0.1 Port={port + i} CPUs={cpus} State=UNKNOWN"
        )
    lines.append(
        f"PartitionName={PARTITION} Nodes={node_list(nodes)} Default=YES MaxTime=INFINITE "
        "State=UP LLN=YES"  # LLN: a job goes to the least loaded node, so jobs spread out
    )
    return "\n".join(lines) + "\n"


# every task of every job: the first node's address, as a resolvable name would give it
TASK_PROLOG = """#!/bin/sh
# slurmd runs this before every task; "export NAME=value" lines become the task's environment
echo "export MASTER_ADDR=127.0.0.1"
"""


def client_env(folder: Path) -> dict[str, str]:
    """This process's environment plus SLURM_CONF, as every SLURM client here needs it."""
    return {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")}


def _host_name() -> str:
    return socket.gethostname().split(".")[0]


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
def prepare_folder(folder: Path, port: int, nodes: int) -> None:
    """Fresh state/spool/log/run folders, slurm.conf, the task prolog, a munge key."""
    for sub in ("state", "spool", "log", "run"):
        shutil.rmtree(folder / sub, ignore_errors=True)
        (folder / sub).mkdir(parents=True)
    for name in node_names(nodes):
        (folder / "spool" / name).mkdir()
    folder.chmod(0o755)  # munged runs as user munge and must reach its own folder
    (folder / "slurm.conf").write_text(slurm_conf_text(folder, port, nodes))
    prolog = folder / "task_prolog.sh"
    prolog.write_text(TASK_PROLOG)
    prolog.chmod(0o755)
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


def start_daemons(folder: Path, nodes: int) -> dict[str, int]:
    """munged (as munge, private socket), then slurmctld and one slurmd per node (root, -D)."""
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
    for name in node_names(nodes):
        command = [_tool("slurmd"), "-D", "-N", name, "-f", conf]
        pids[f"slurmd {name}"] = _start(f"slurmd {name}", command, log / f"slurmd-{name}.out")
        _write_pids(folder, pids)
    return pids


def node_states(folder: Path) -> dict[str, str]:
    """Every node's state as sinfo prints it (idle, mixed, alloc, down*, ...); {} if no answer."""
    try:
        out = subprocess.run(
            [_tool("sinfo"), "-h", "-N", "-o", "%N %T"],
            env=client_env(folder),
            capture_output=True,
            text=True,
            timeout=10,
        )
    except subprocess.TimeoutExpired:
        return {}
    if out.returncode != 0:
        return {}
    return dict(line.split(None, 1) for line in out.stdout.splitlines() if line.strip())


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}")


def _all_idle(folder: Path, nodes: int) -> bool:
    states = node_states(folder)
    return sorted(states) == node_names(nodes) and set(states.values()) == {"idle"}


def free_ports(count: int) -> int:
    """A port p such that p .. p + count - 1 are free (slurmctld, then one slurmd per node)."""
    for _ in range(50):
        port = random.randrange(20000, 40000)
        try:
            for candidate in range(port, port + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise ClusterError(f"no {count} consecutive free ports found")


def up(folder: Path, port: int, nodes: int, timeout: float) -> None:
    """Start the cluster and wait until every node is idle; stop what started on any failure."""
    if reason := missing_requirements():
        raise ClusterError(reason)
    if nodes < 1:
        raise ClusterError(f"--nodes {nodes}: a cluster needs at least one node")
    if alive_pids(folder):
        raise ClusterError(f"a cluster of {folder} is running already ({folder / 'pids.json'})")
    folder.mkdir(parents=True, exist_ok=True)
    prepare_folder(folder, port or free_ports(nodes + 1), nodes)
    try:
        start_daemons(folder, nodes)
        _wait_for(lambda: _all_idle(folder, nodes), timeout, "every node to be idle in sinfo")
        if dead := _read_pids(folder).keys() - alive_pids(folder).keys():
            raise ClusterError(f"{', '.join(sorted(dead))} died; see {folder / 'log'}")
    except BaseException:
        down(folder, quiet=True)
        raise
    print(
        f"SLURM is up: {nodes} node(s) {node_list(nodes)} idle, {cpus_per_node(nodes)} CPU(s) "
        f"each, partition {PARTITION}"
    )
    print(f"export SLURM_CONF={folder / 'slurm.conf'}")


# -------------------------------------------------------------------------------------- down
def _write_pids(folder: Path, pids: dict[str, int]) -> None:
    (folder / "pids.json").write_text(json.dumps(pids, indent=2) + "\n")


def _read_pids(folder: Path) -> dict[str, int]:
    path = folder / "pids.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _is_ours(daemon: str, pid: int) -> bool:
    """The process `pid` is alive (not a zombie) and still runs `daemon` ("munged", "slurmctld"
    or "slurmd n2"): guards `down` against a process id the system has given to another process
    since."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    program, *node = daemon.split()
    return (
        state not in ("Z", "X")
        and Path(argv[0]).name == program
        and all(f"-N\0{n}\0" in "\0".join(argv) + "\0" for n in node)
    )


def alive_pids(folder: Path) -> dict[str, int]:
    return {n: p for n, p in _read_pids(folder).items() if _is_ours(n, p)}


def _cancel_jobs(folder: Path) -> None:
    """Cancel every job of this private cluster so the slurmds end their steps before they stop."""
    env = client_env(folder)

    def job_ids(states: str) -> list[str]:
        out = subprocess.run(
            [_tool("squeue"), "-h", "-t", states, "-o", "%i"],
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.split() if out.returncode == 0 else []

    if ids := job_ids("all"):
        subprocess.run([_tool("scancel"), *ids], env=env, capture_output=True, timeout=20)
    deadline = time.monotonic() + 15
    while job_ids("RUNNING,COMPLETING") and time.monotonic() < deadline:
        time.sleep(1)


def _stop(daemon: str, pid: int, grace: float = 15) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _is_ours(daemon, pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _is_ours(daemon, pid):
        os.kill(pid, signal.SIGKILL)


def down(folder: Path, quiet: bool = False) -> None:
    """Cancel the jobs, then stop the slurmds, slurmctld and munged: exactly the recorded ids."""
    pids = alive_pids(folder)
    if set(SERVICES) <= pids.keys() and len(pids) > len(SERVICES):
        with contextlib.suppress(subprocess.TimeoutExpired, ClusterError):
            _cancel_jobs(folder)
    for daemon in reversed(list(pids)):  # the slurmds first, munged last
        _stop(daemon, pids[daemon])
    if (folder / "pids.json").exists():
        _write_pids(folder, {})
    if not quiet:
        print(f"SLURM is down ({', '.join(f'{n} {p}' for n, p in pids.items()) or 'none ran'})")


# ------------------------------------------------------------------------------------ status
def status(folder: Path) -> int:
    """Print the daemons and the nodes' states; exit status 0 only when the nodes answer."""
    pids = _read_pids(folder)
    for daemon, pid in pids.items() or {d: None for d in SERVICES}.items():
        alive = pid is not None and _is_ours(daemon, pid)
        print(f"{daemon:10s} {pid if pid else '-':>8}  {'running' if alive else 'stopped'}")
    states = node_states(folder) if pids and shutil.which("sinfo", path=_sbin_path()) else {}
    for name, state in states.items() or {"nodes": "no answer"}.items():
        print(f"node {name}: {state}")
    print(f"SLURM_CONF={folder / 'slurm.conf'}")
    return 0 if states else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the cluster's folder")
    parser.add_argument("--nodes", type=int, default=1, help="number of nodes (slurmd daemons)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="slurmctld port (node i: port + i); 0: free ports found here",
    )
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for idle")
    args = parser.parse_args(argv)
    folder = args.dir.resolve()
    try:
        if args.action == "up":
            up(folder, args.port, args.nodes, args.timeout)
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
