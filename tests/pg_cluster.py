"""A throwaway PostgreSQL cluster for the test suite.

Uses ``MINUTEBILL_POSTGRES_DSN`` when set; otherwise starts a cluster with ``initdb`` and
``pg_ctl`` on loopback in a temporary directory (as the ``postgres`` user when running as root,
since the server refuses to run as root), and stops it afterwards. When neither is possible the
PostgreSQL tests are skipped with the reason; ``.ci/run`` refuses such skips.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV_DSN = "MINUTEBILL_POSTGRES_DSN"
HOW_TO_ENABLE = (
    f"set {ENV_DSN} to a PostgreSQL DSN, or install the PostgreSQL server binaries "
    "(initdb, pg_ctl) so the tests can start a throwaway cluster"
)


def _find(binary: str) -> str | None:
    found = shutil.which(binary)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        candidate = folder / binary
        if candidate.exists():
            return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ClusterUnavailable(Exception):
    """No DSN was given and no cluster could be started; the message says why."""


@contextmanager
def postgres_dsn() -> Iterator[str]:
    """Yield a DSN for a database the tests may use freely."""
    given = os.environ.get(ENV_DSN)
    if given:
        yield given
        return
    initdb, pg_ctl = _find("initdb"), _find("pg_ctl")
    if not initdb or not pg_ctl:
        raise ClusterUnavailable(f"no PostgreSQL server binaries found; {HOW_TO_ENABLE}")
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    prefix: list[str] = []
    if as_root:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise ClusterUnavailable(f"running as root without runuser; {HOW_TO_ENABLE}")
        prefix = [runuser, "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="minutebill-pg-"))
    data = base / "data"
    port = _free_port()
    if as_root:
        shutil.chown(base, "postgres")
    env = {**os.environ, "LC_ALL": "C"}
    try:
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=60"
        )
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w",
             "-t", "30", "start"],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(base, ignore_errors=True)
        raise ClusterUnavailable(
            f"could not start a cluster ({exc}: {detail.decode(errors='replace')[-300:]}); "
            f"{HOW_TO_ENABLE}"
        ) from exc
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False, capture_output=True, env=env,
        )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
