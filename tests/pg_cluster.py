"""A throwaway PostgreSQL cluster for the test suite.

Uses ``MINUTEBILL_POSTGRES_DSN`` when set; otherwise starts a cluster with ``initdb`` and
``pg_ctl`` on loopback in a temporary directory (as the ``postgres`` user when running as root,
since the server refuses to run as root), and stops it afterwards. When neither is possible the
PostgreSQL tests are skipped with the reason; ``.ci/run`` refuses such skips.

The throwaway cluster's databases sort text by language rules (ICU en-US), as ``initdb``
usually sets up (it takes the machine's locale, most often en_US.UTF-8); on a server without
ICU they use the C locale. `collated_dsn` gives a database that sorts by language rules: the
server's own when it does, else one created for the run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

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
        _initdb(prefix, initdb, data, env)
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


def _initdb(prefix: list[str], initdb: str, data: Path, env: dict[str, str]) -> None:
    """Make the cluster, its databases sorting text by language (ICU en-US) when possible.

    That is what a real server usually does (initdb takes the machine's locale, most often
    en_US.UTF-8), so every PostgreSQL test runs where code point order must be asked for;
    a server without ICU gets the C locale, and `collated_dsn` then creates one database.
    """
    base = [*prefix, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync", "--no-instructions"]  # fmt: skip
    try:
        subprocess.run(
            [*base, "--locale-provider=icu", "--icu-locale=en-US", "--locale=C"],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
    except subprocess.CalledProcessError:
        shutil.rmtree(data, ignore_errors=True)
        subprocess.run(base, check=True, capture_output=True, env=env)


# Ways to create a database whose default collation is not code point order, tried in turn:
# ICU needs PostgreSQL 15 built with ICU but no operating-system locale; libc needs the
# en_US.UTF-8 locale installed on the server's machine.
_COLLATIONS = (
    "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'",
    "LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'en_US.UTF-8'",
)


def _sorts_by_language(conn: psycopg.Connection[Any]) -> bool:
    """Whether the database's default collation puts 'a' before 'B' (code points do not)."""
    row = conn.execute("SELECT 'a' < 'B'").fetchone()
    return bool(row and row[0])


def _create_collated(conn: psycopg.Connection[Any], name: str) -> None:
    """Create database `name` with the first of `_COLLATIONS` the server accepts."""
    failures: list[str] = []
    for options in _COLLATIONS:
        try:
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' {options}")
        except psycopg.Error as exc:
            failures.append(f"{options}: {str(exc).strip()}")
        else:
            return
    raise ClusterUnavailable(
        f"could not create a database with a non-C collation ({'; '.join(failures)}); "
        "give the tests a server whose default collation is en_US.UTF-8, or PostgreSQL 15 "
        "with ICU"
    )


@contextmanager
def collated_dsn(dsn: str) -> Iterator[str]:
    """Yield a DSN of a database whose default collation is not code point order (en-US).

    The database of `dsn` itself when its default collation already is one; otherwise a
    database created for the run, dropped afterwards.

    Raises:
        ClusterUnavailable: if no such database can be created (the message says why).
    """
    name = f"minutebill_collated_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        if _sorts_by_language(conn):
            name = ""
        else:
            _create_collated(conn, name)
    if not name:
        yield dsn
        return
    try:
        yield make_conninfo(dsn, dbname=name)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            # FORCE (PostgreSQL 13+): a connection a failed test left open must not keep it.
            force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')
