#!/usr/bin/env python3
"""A private PostgreSQL 15 server on this machine, for a search shared by many jobs (docs/search.md).

    python scripts/postgres_local.py up        # prints the storage URL
    cnngan-train hparams_search=classifier_optuna hydra.sweeper.storage=<that URL> ...
    python scripts/postgres_local.py down

Needs Debian's `postgresql` package (`apt-get install -y postgresql`: initdb, pg_ctl and postgres
in /usr/lib/postgresql/15/bin) and its system user `postgres`. The server cannot run as root, so
run as root this script starts it as that user (as any other user, as that user itself). Everything
lives in one folder (`--dir`, default /tmp/cnngan-postgres): the data folder, the socket, the log,
`url` (the SQLAlchemy URL of the database `cnngan`) and `pids.json` with the server's process id.
`down` stops exactly that process (a fast shutdown), so another PostgreSQL on the machine keeps
running. The server listens on `--host` (default 127.0.0.1) and a free port, and trusts every
connection from there: a private server for tests and one-machine clusters, not a shared service.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_DIR = Path("/tmp/cnngan-postgres")
BIN_DIR = Path(os.environ.get("PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"
DB_USER = DB_NAME = "cnngan"


class ServerError(RuntimeError):
    """The server cannot start here (missing package, no system user, start failed)."""


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def storage_url(host: str, port: int) -> str:
    """The SQLAlchemy URL of the database (SQLAlchemy 2.1 drives it with psycopg 3, installed by
    the `sweep` extra)."""
    return f"postgresql://{DB_USER}@{host}:{port}/{DB_NAME}"


def _tool(name: str) -> str:
    path = BIN_DIR / name
    if not path.is_file():
        raise ServerError(f"{path} not found: apt-get install -y postgresql (PostgreSQL 15)")
    return str(path)


def _server_user() -> pwd.struct_passwd | None:
    """The user the server runs as: `postgres` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ServerError(
            f"no system user {SERVER_USER!r}: apt-get install -y postgresql"
        ) from None


def _run_as_server(command: list[str], log: Path, timeout: float = 120) -> None:
    """Run one command as the server's user; its output goes to `log`."""
    user = _server_user()
    ids = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": "/tmp"}
    with log.open("ab") as out:
        proc = subprocess.run(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout, **ids
        )
    if proc.returncode != 0:
        raise ServerError(f"{Path(command[0]).name} failed ({proc.returncode}); see {log}")


def prepare_folder(folder: Path) -> None:
    """Fresh data, socket and log folders, owned by the server's user."""
    user = _server_user()
    for sub in ("data", "run", "log"):
        shutil.rmtree(folder / sub, ignore_errors=True)
        (folder / sub).mkdir(parents=True)
        if user:
            os.chown(folder / sub, user.pw_uid, user.pw_gid)
    folder.chmod(0o755)  # the server's user must reach its folders
    (folder / "data").chmod(0o700)  # postgres refuses a data folder others can read


def start_server(folder: Path, host: str, port: int) -> int:
    """initdb, then pg_ctl start (waits until the server accepts connections); returns the
    server's process id (the first line of postmaster.pid). The server writes its own log."""
    log = folder / "log" / "postgres.log"
    data = folder / "data"
    _run_as_server(
        [_tool("initdb"), "-D", str(data), "-U", DB_USER, "--auth=trust", "-E", "UTF8"],
        folder / "log" / "initdb.log",
    )
    options = f"-p {port} -k {folder / 'run'} -c listen_addresses={host} -c max_connections=200"
    _run_as_server(
        [
            _tool("pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(data),
            "-l",
            str(log),
            "-o",
            options,
        ],
        folder / "log" / "pg_ctl.log",
    )
    return int((data / "postmaster.pid").read_text().splitlines()[0])


def create_database(host: str, port: int) -> None:
    proc = subprocess.run(
        [_tool("createdb"), "-h", host, "-p", str(port), "-U", DB_USER, DB_NAME],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise ServerError(f"createdb failed: {proc.stderr.strip()}")


def up(folder: Path, host: str, port: int | None) -> str:
    """Start the server and create the database; stop it again on any failure. Returns the URL."""
    if is_ours(folder, read_pid(folder)):
        raise ServerError(
            f"a server of {folder} is running already: {(folder / 'url').read_text()}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    prepare_folder(folder)
    port = port or free_port(host)
    try:
        pid = start_server(folder, host, port)
        _write_pid(folder, pid)
        create_database(host, port)
    except BaseException:
        down(folder, quiet=True)
        raise
    url = storage_url(host, port)
    (folder / "url").write_text(url + "\n")
    return url


# -------------------------------------------------------------------------------------- down
def _write_pid(folder: Path, pid: int | None) -> None:
    (folder / "pids.json").write_text(json.dumps({"postgres": pid} if pid else {}) + "\n")


def read_pid(folder: Path) -> int | None:
    path = folder / "pids.json"
    return json.loads(path.read_text()).get("postgres") if path.exists() else None


def is_ours(folder: Path, pid: int | None) -> bool:
    """`pid` is alive and is the postgres server of this folder's data (guards against a
    process id the system gave to another process since)."""
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    data = str(folder / "data").encode()
    return state not in ("Z", "X") and Path(args[0].decode()).name == "postgres" and data in args


def down(folder: Path, quiet: bool = False, grace: float = 30) -> None:
    """Fast shutdown (SIGINT) of the recorded server; SIGKILL if it is still up after `grace`."""
    pid = read_pid(folder)
    if is_ours(folder, pid):
        assert pid is not None
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + grace
        while is_ours(folder, pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if is_ours(folder, pid):
            os.kill(pid, signal.SIGKILL)
    else:
        pid = None
    if (folder / "pids.json").exists():
        _write_pid(folder, None)
    if not quiet:
        print(f"PostgreSQL is down ({f'postgres {pid}' if pid else 'none ran'})")


def status(folder: Path) -> int:
    pid = read_pid(folder)
    running = is_ours(folder, pid)
    print(f"postgres {pid or '-':>8}  {'running' if running else 'stopped'}")
    if running and (folder / "url").exists():
        print((folder / "url").read_text().strip())
    return 0 if running else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the server's folder")
    parser.add_argument("--host", default="127.0.0.1", help="address the server listens on")
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    args = parser.parse_args(argv)
    folder = args.dir.resolve()
    try:
        if args.action == "up":
            url = up(folder, args.host, args.port)
            print(f"PostgreSQL is up (process {read_pid(folder)}); storage URL:\n{url}")
        elif args.action == "down":
            down(folder)
        else:
            return status(folder)
    except ServerError as err:
        print(f"postgres_local: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
