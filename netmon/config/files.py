"""Reading a config, profile or key file without ever blocking or reading something unbounded.

`-c /dev/zero` used to end in a MemoryError and a FIFO hung the loader for ever. A file is
opened non-blocking (a FIFO then opens at once instead of waiting for a writer), checked with
`fstat` on the opened descriptor (no race between the check and the read), refused unless it
is a regular file no larger than the limit, and read with a bounded read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from netmon.errors import ConfigurationError
from netmon.i18n import N_, _

MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""A 100,000-device inventory is ~10 MB of YAML; anything larger is not a config file."""
MAX_KEY_BYTES = 64 * 1024

_KINDS = ((stat.S_ISDIR, N_("a folder")), (stat.S_ISFIFO, N_("a FIFO (named pipe)")),
          (stat.S_ISCHR, N_("a character device")), (stat.S_ISBLK, N_("a block device")),
          (stat.S_ISSOCK, N_("a socket")))


class FileProblem(ConfigurationError):
    """Why a file cannot be read; the message says what to do, the caller adds the file name."""

    def __init__(self, message: str, line: int = 1, strerror: str | None = None,
                 permission: bool = False) -> None:
        super().__init__(message)
        self.line = line
        self.strerror = strerror
        """The system's reason when the file could not be opened (None for every other problem)."""
        self.permission = permission


def read_text(path: Path, limit: int = MAX_CONFIG_BYTES) -> str:
    """The file's UTF-8 text; raises `FileProblem` (or FileNotFoundError) with a message to show."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise
    except ValueError:
        raise FileProblem(_("the path contains a NUL character; check the path")) from None
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise FileProblem(_("cannot open it ({why}); check the path and its permissions").format(why=why), 1, why,
                          isinstance(exc, PermissionError)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((_(name) for test, name in _KINDS if test(info.st_mode)), _("not a regular file"))
            raise FileProblem(_("is {kind}, not a regular file; give the path of a YAML file").format(kind=kind))
        if info.st_size > limit:
            raise FileProblem(_("is {size}, more than netmon reads ({limit}); check the path").format(
                size=_size(info.st_size), limit=_size(limit)))
        data = _read_bounded(fd, limit)
    except OSError as exc:
        raise FileProblem(_("cannot read it ({why}); check the path and its permissions").format(
            why=exc.strerror or exc)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileProblem(_("grew past {limit} while being read; check the path").format(limit=_size(limit)))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileProblem(_("is not UTF-8 text here; save the file as UTF-8"), line) from None


def _read_bounded(fd: int, limit: int) -> bytes:
    chunks, total = [], 0
    while total <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n / 1024:.0f} KB"
