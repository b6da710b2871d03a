"""Start a program under a new pty, as pexpect 4.9 / ptyprocess 0.7 did for us, without them.

A watcher only ever needed their fork: the pid and the pty's fd (the relay reads the fd itself). Their
import brought shutil (with bz2, lzma and zlib), pty, tty and two packages: about 0.9 MiB in each idle
watcher, fifty to two hundred of them. What the runtime sees is unchanged: argv[0] is the full path
found on the runtime's own PATH, the pty has the given size before exec, every fd but 0-2 is closed,
`preexec` runs in the child; a failed exec is raised in the parent as the same error. PWD names the
folder the runtime starts in, as a shell's would: Bun-built CLIs (opencode) take their project folder
from $PWD, and a watcher's own PWD may name another folder (an agent's compose `cwd`, a hand-run watcher).
"""

from __future__ import annotations

import builtins
import fcntl
import os
import resource
import struct
import termios
from collections.abc import Callable, Mapping


class SpawnError(Exception):
    """The program could not be started (pexpect's ExceptionPexpect said the same words)."""


def which(name: str, path: str | None = None) -> str | None:
    """shutil.which(name, path=path) for a bare name, without importing shutil: the first file on
    `path` (else $PATH, else the system default) that exists, is executable and is no directory."""
    if path is None:
        path = os.environ.get("PATH")
        if path is None:
            try:
                path = os.confstr("CS_PATH")
            except (AttributeError, ValueError):
                path = os.defpath
    if not path:
        return None
    seen: set[str] = set()
    for folder in os.fsdecode(path).split(os.pathsep):
        if folder in seen:
            continue
        seen.add(folder)
        candidate = os.path.join(folder, name)
        if os.path.exists(candidate) and os.access(candidate, os.F_OK | os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def _executable(path: str) -> bool:
    real = os.path.realpath(path)
    return os.path.isfile(real) and os.access(real, os.X_OK)


def _find(command: str, env: Mapping[str, str]) -> str | None:
    """pexpect's lookup: a name with a folder as it is, else the first executable on env's PATH."""
    if os.path.dirname(command) and _executable(command):
        return command
    return which(command, env.get("PATH") or os.defpath)


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def spawn(argv: list[str], cwd: str, env: Mapping[str, str], rows: int, cols: int,
          preexec: Callable[[], None] | None = None) -> tuple[int, int]:
    """Fork `argv` under a new pty (its session leader, the pty its terminal); (pid, our pty fd)."""
    command = _find(argv[0], env)
    if command is None:
        raise SpawnError(f"The command was not found or was not executable: {argv[0]}.")
    args = [command, *argv[1:]]
    env = {**env, "PWD": os.path.abspath(cwd)}
    err_read, err_write = os.pipe()  # both close on exec: an exec that works closes it unwritten
    pid, fd = os.forkpty()
    if pid == 0:  # pragma: no cover - the child, until exec
        _child(args, cwd, env, rows, cols, preexec, err_read, err_write)
    os.close(err_write)
    try:
        said = os.read(err_read, 4096)
    finally:
        os.close(err_read)
    if said:
        os.close(fd)
        try:
            os.waitpid(pid, 0)  # it exited right after saying why: no zombie left behind
        except ChildProcessError:
            pass
        raise _error_from(said)
    try:
        set_size(fd, rows, cols)
    except OSError:
        pass
    return pid, fd


def _child(args: list[str], cwd: str, env: Mapping[str, str], rows: int, cols: int,
           preexec: Callable[[], None] | None, err_read: int, err_write: int) -> None:  # pragma: no cover
    """Never returns: exec, or say why not on the pipe and exit (the watcher's code never runs on here)."""
    try:
        try:
            os.setsid()
        except OSError:
            pass  # forkpty made us the session leader already
        try:
            set_size(0, rows, cols)
        except OSError:
            pass
        os.close(err_read)
        top = min(1048576, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        os.closerange(3, err_write)
        os.closerange(err_write + 1, top)
        os.chdir(cwd)
        if preexec is not None:
            try:
                preexec()
            except Exception as exc:
                os.write(err_write, f"{type(exc).__name__}:0:{exc}".encode())
                os._exit(1)
        os.execvpe(args[0], args, env)
    except OSError as exc:
        os.write(err_write, f"OSError:{exc.errno}:{exc}".encode())
        os._exit(os.EX_OSERR)
    except BaseException as exc:
        os.write(err_write, f"{type(exc).__name__}:0:{exc}".encode())
    os._exit(1)


def _error_from(said: bytes) -> Exception:
    """The child's `Class:errno:message` as the exception it was (an OSError keeps its errno)."""
    try:
        name, number, message = said.split(b":", 2)
        kind = getattr(builtins, name.decode("ascii"), Exception)
        exc = kind(message.decode("utf-8", "replace"))
        if kind is OSError:
            exc.errno = int(number)
    except Exception:
        return Exception(f"Subprocess failed, got bad error data: {said!r}")
    return exc
