"""A throwaway PostgreSQL cluster for the test session (Debian's PostgreSQL 15 binaries)."""

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root; the cluster then belongs to the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class TempCluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="registry-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()

    @staticmethod
    def available() -> bool:
        return all(shutil.which(tool) for tool in ("initdb", "pg_ctl"))

    def start(self) -> str:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        subprocess.run(_as_postgres(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                                     "--no-sync", "-E", "UTF8"]),
                       check=True, capture_output=True)
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        subprocess.run(_as_postgres(["pg_ctl", "-D", str(self.data), "-o", options, "-w",
                                     "-l", str(self.root / "log"), "start"]),
                       check=True, capture_output=True)
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def stop(self) -> None:
        subprocess.run(_as_postgres(["pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
