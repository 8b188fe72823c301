"""A throwaway PostgreSQL server for tests and benchmarks: a new cluster in a temporary directory,
listening on a free 127.0.0.1 port, stopped and deleted afterwards.

It uses Debian's server binaries (/usr/lib/postgresql/<version>/bin, package `postgresql`). PostgreSQL
refuses to run as root, so as root the cluster is made and run by the `postgres` system user (which
the package creates) through runuser. Nothing here installs anything: `.ci/run` does that on CI, and a
developer installs the package once (the message below says how).

    python -m tests.pg_server --check    # exit 1 with instructions when the binaries are missing
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INSTALL_HINT = ("PostgreSQL server binaries not found (looked for /usr/lib/postgresql/*/bin/initdb and initdb on "
                "PATH). The PostgreSQL store and replica tests run against a real server: install it once with\n"
                "    sudo apt-get install postgresql        (Debian/Ubuntu; CI's .ci/run does this by itself)\n"
                "or run the other tests alone with SKIP_POSTGRES=1 make test (refused on CI).")


def server_bindir() -> Path | None:
    """The newest PostgreSQL server bin directory, or None when no server is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and (Path(initdb).parent / "postgres").exists() else None


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, however it dies (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes
    import signal
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


PORT_ATTEMPTS = 5   # a port found free can be taken by another process before postgres binds it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """initdb + postgres in a temporary directory; `url(dbname)` for clients; `stop()` removes it all."""

    def __init__(self, *, fast: bool = True, max_connections: int = 200):
        bindir = server_bindir()
        if bindir is None:
            raise RuntimeError(INSTALL_HINT)
        self.bindir, self.fast, self.max_connections = bindir, fast, max_connections
        self.root = Path(tempfile.mkdtemp(prefix="mode-advisor-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._as: list[str] = []
        if os.geteuid() == 0:                   # postgres will not run as root
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._databases = 0

    def start(self, timeout: float = 30.0) -> "PostgresServer":
        log = self.root / "initdb.log"
        with log.open("wb") as out:
            done = subprocess.run([*self._as, str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                                   "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
                                  stdout=out, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {log.read_text(errors='replace')[-2000:]}")
        deadline = time.monotonic() + timeout
        for attempt in range(PORT_ATTEMPTS):
            if attempt:                         # another process took the port between looking and binding
                self.port = free_port()
            if self._launch(deadline):
                return self
        self.stop()
        raise RuntimeError(f"postgres found no free port in {PORT_ATTEMPTS} attempts")

    def _launch(self, deadline: float) -> bool:
        """Start postgres on self.port: True once it accepts connections, False when the port was taken."""
        options = ["-c", "listen_addresses=127.0.0.1", "-p", str(self.port), "-k", str(self.root),
                   "-c", f"max_connections={self.max_connections}", "-c", "shared_buffers=64MB"]
        if self.fast:                           # tests: durability is not what is tested
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = self.root / "postgres.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen([*self._as, str(self.bindir / "postgres"), "-D", str(self.data), *options],
                                         stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = log.read_text(errors="replace")
                if "Address already in use" in text:
                    return False
                raise RuntimeError(f"postgres exited: {text[-2000:]}")
            ready = subprocess.run([str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"])
            if ready.returncode == 0:
                return True
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("postgres did not become ready")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        done = subprocess.run([str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                               "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", dbname, "-c", sql],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        return done.stdout.strip()

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its URL."""
        self._databases += 1
        name = f"{prefix}{self._databases}_{os.getpid()}"
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._fast_shutdown()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)

    def _fast_shutdown(self) -> None:
        """SIGINT to the postmaster itself (under runuser, self.proc is runuser): PostgreSQL's fast shutdown,
        which does not wait for clients to disconnect; a throwaway cluster has nothing to wait for."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGINT)
        except (OSError, ValueError, IndexError):
            self.proc.terminate()

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    if "--check" in sys.argv:
        if server_bindir() is None:
            print(INSTALL_HINT, file=sys.stderr)
            sys.exit(1)
        print(f"PostgreSQL server binaries: {server_bindir()}")
        sys.exit(0)
    with PostgresServer() as server:
        print(server.url(), flush=True)
        try:
            server.proc.wait()
        except KeyboardInterrupt:
            pass
