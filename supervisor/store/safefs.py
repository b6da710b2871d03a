"""Files and folders under state/, opened without following symlinks, 0600 / 0700 whatever the umask.

A repo clone can ship symlinks inside state/: every file we write there is opened with O_NOFOLLOW
(a planted link at the name is removed and a file of ours created in its place, so the link's
target is never written), every folder is checked with lstat before use, and modes are set with
fchmod on the open descriptor, so the umask does not matter and a link is never chmod'ed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class UnsafeState(Exception):
    """state/ (or a folder in it) is a symlink we must not follow; the message says which and why."""

    user_error = True  # run_guarded: printed as is, exit status 2


def check_state_dir(state_dir: Path, team_dir: Path) -> None:
    """Refuse a state/ that is a symlink owned by someone else or pointing outside the team."""
    try:
        st = os.lstat(state_dir)
    except FileNotFoundError:
        return
    if not stat.S_ISLNK(st.st_mode):
        return
    if st.st_uid != os.getuid():
        raise UnsafeState(f"{state_dir} is a symlink owned by uid {st.st_uid}, not by you: "
                          "remove it (teamctl creates state/ itself)")
    target = Path(os.path.realpath(state_dir))
    team = Path(os.path.realpath(team_dir))
    roots = [team, team.parent] if team.name == ".team" else [team]
    if not any(target == r or r in target.parents for r in roots) or target == team:
        raise UnsafeState(f"{state_dir} is a symlink to {target}, outside the team {roots[-1]}: "
                          "remove it (teamctl creates state/ itself)")


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) 0700 whatever the umask; refuse a symlink at `path`.

    A folder that was there already keeps its mode (a mailbox may live in a shared folder)."""
    created = _mkdir(path)
    try:
        fd = os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafeState(f"{path} is a symlink or not a folder: teamctl will not write through it"
                              " (remove it)") from None
        raise
    try:
        if created and stat.S_IMODE(os.fstat(fd).st_mode) != DIR_MODE:
            os.fchmod(fd, DIR_MODE)
    finally:
        os.close(fd)
    return path


def _mkdir(path: Path) -> bool:
    try:
        os.mkdir(path, DIR_MODE)
        return True
    except FileExistsError:
        return False
    except FileNotFoundError:
        private_dir(path.parent)
        return _mkdir(path)


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    """Open (creating) a file under state/ without following a link at its name; 0600 by fchmod.

    A symlink (or other non-file) planted at the name is unlinked and a fresh file created, so
    whatever it pointed to is never written.
    """
    flags |= os.O_CREAT | _NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # a planted FIFO must not block us
    for _ in range(3):
        try:
            fd = os.open(path, flags, FILE_MODE)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
                raise
            if os.path.isdir(path) and not os.path.islink(path):
                raise
            os.unlink(path)
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                os.unlink(path)
                continue
            if stat.S_IMODE(st.st_mode) != FILE_MODE:
                os.fchmod(fd, FILE_MODE)
        except OSError:
            os.close(fd)
            raise
        return fd
    raise OSError(errno.ELOOP, f"{path}: keeps being replaced by a link")


def write_private(path: Path, text: str | bytes) -> None:
    """Replace the file's content as one step: written beside it, then renamed over it, so a reader
    (another agent's watcher, `status`) or a kill never meets a half-written file. The rename
    replaces a planted link itself; nothing is written through it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_TRUNC)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text if isinstance(text, bytes) else text.encode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_nofollow(path: Path, *, owned: bool = False, limit: int | None = None) -> bytes:
    """The file's bytes, refusing a symlink at the name (OSError ELOOP) and anything but a regular
    file (OSError EINVAL): a fifo planted at the name is opened without waiting for a writer and is
    never read, so no caller blocks on it. `owned`: also refuse a file that is not the user's own or
    that others may write (EPERM), for a file whose content runs; `limit`: one of more bytes (EFBIG)."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"{path}: not a regular file")
        if owned and (st.st_uid != os.geteuid() or st.st_mode & 0o022):
            raise OSError(errno.EPERM, f"{path}: not yours alone")
        data = fh.read() if limit is None else fh.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise OSError(errno.EFBIG, f"{path}: over {limit} bytes")
        return data


def real_folder(path: Path) -> bool | None:
    """True: `path` is a folder; False: there is nothing there; None: something else (a symlink,
    which is never followed, or a file)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode) or None
    except FileNotFoundError:
        return False
    except OSError:
        return None
