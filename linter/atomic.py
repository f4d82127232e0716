"""Writing a file whole or not at all.

A regular file (or a new one) is written beside the target and renamed over it, keeping the
target's mode, so that a reader never sees half of it and a failed write leaves the old one.
Anything else at the path (a device such as /dev/null, a pipe, /dev/stdout) is written to as it
is: renaming over it would replace the device with a regular file.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable


def write(name: str | os.PathLike[str], chunks: Iterable[str]) -> None:
    try:
        mode: int | None = os.stat(name).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(name, "w", encoding="utf-8") as fh:
            fh.writelines(chunks)
        return
    import tempfile

    path = os.fspath(name)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(chunks)
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        else:
            os.chmod(tmp, stat.S_IMODE(mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
