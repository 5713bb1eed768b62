"""Every file a trtforge command writes: regular files only, all of them or none.

One module, used by every CLI (trt-check's report, trt-rewrite's model, external data and
`--report`, trt-build's engine, sidecar and timing cache), so that one set of rules holds:

- **Regular files only.** An OUT that exists and is a device (`/dev/null`, `/dev/full`), a
  FIFO, a socket or a directory is refused (exit 2, one line): trtforge never renames over it
  and never writes through it. An OUT that is a **symbolic link** is refused too, whatever it
  points to (writing through it would replace a file elsewhere; replacing the link would
  surprise whoever made it): give the real path. Links in the folders above OUT are followed.
- **All or nothing.** Files are first written in full under temporary names in their own
  folder (`.<name>.trtforge-<host>-<pid>-<random>.tmp`), flushed to disk, and only then renamed
  into place together (`OutputSet.commit`): a model and its `--report`, an engine and its JSON
  sidecar. Any error before the renames removes the temporary files and leaves every OUT as it
  was; if a later rename fails, the files renamed before it are put back as they were.
- **One line for disk errors.** Permission denied, a read-only file system, a full disk, a
  missing folder or a name too long become a `UserError` (exit 2) naming the path.
- **Signals.** SIGINT, SIGTERM and SIGHUP interrupt the command (exit 128 + signal number,
  "nothing written") and the temporary files are removed on the way out. From the first
  rename on, they are deferred: the command finishes (its outputs are complete, its exit
  status is its real one) and says a signal came late. SIGHUP or SIGINT that the parent set
  to be ignored (nohup, background jobs) stay ignored. One that arrives during an import or
  in a finalizer takes effect once that is over (`_in_import`, `_in_finalizer`).
- **Mode.** Files get the mode a plain `open()` would give them under the umask (0666 minus
  umask), not `mkstemp`'s 0600.
- **After SIGKILL.** A kill that cannot be caught can leave a temporary file. The next write to
  the same OUT removes the temporaries of earlier trtforge runs on this host whose process is
  gone and that belong to the current user; anything else (another host's, a live process's,
  another user's) is left alone.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from trtforge.analyzer.errors import UserError

CHUNK = 1 << 20
#: the part of every temporary name that marks it as trtforge's.
TAG = ".trtforge-"
#: characters of OUT's name kept in a temporary name (file names are limited to 255 bytes).
NAME_KEEP = 80
SIGNALS = tuple(
    s
    for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
    if s is not None
)


class Interrupted(KeyboardInterrupt):
    """A SIGINT, SIGTERM or SIGHUP arrived before any output was renamed into place."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _State:
    deferring = False  # from the first rename on: signals are recorded, not raised
    pending: int | None = None  # the signal that came while deferring
    inputs: set[str] = set()  # real paths of the files read as input (never replaced)
    #: (device, inode) of those files: one file reached by two paths that are not links of
    #: each other (a folder bind-mounted twice, a case-insensitive file system, a hard link)
    identities: set[tuple[int, int]] = set()


_STATE = _State()


def _on_signal(signum, frame) -> None:
    if _STATE.deferring:
        _STATE.pending = _STATE.pending or signum
        return
    if _in_finalizer(frame) or _in_import(frame):
        _redeliver(signum)
        return
    raise Interrupted(signum)


def _in_finalizer(frame) -> bool:
    """Whether the handler runs inside a `__del__` (the garbage collector finalizing an
    object), where Python prints an exception and drops it (found by fuzzing: SIGHUP during a
    ZipFile's `__del__` printed a traceback and the command went on)."""
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def _in_import(frame) -> bool:
    """Whether the handler runs inside an import: a C extension that calls back into Python
    while it initializes (onnx's, as it defines its enums) cannot unwind an exception
    raised there, and the process died of SIGSEGV or SIGABRT instead of exiting 143 (found
    by fuzzing: SIGTERM 65 ms after start). The signal waits until the import is over."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _redeliver(signum: int) -> None:
    """Sends `signum` to the main thread again shortly, once the finalizer has returned."""
    timer = threading.Timer(0.01, signal.pthread_kill, (threading.main_thread().ident, signum))
    timer.daemon = True
    timer.start()


def _unraisable(previous):
    """A `sys.unraisablehook` for `signal_guard`: an `Interrupted` dropped by a finalizer that
    `_in_finalizer` did not see (a weakref callback) is delivered again, not printed."""

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, Interrupted):
            _redeliver(unraisable.exc_value.signum)
            return
        previous(unraisable)

    return hook


@contextlib.contextmanager
def signal_guard(keep: bool = False) -> Iterator[_State]:
    """Turns SIGINT/SIGTERM/SIGHUP into `Interrupted` for the duration of a CLI command.

    Yields the state: `pending` is the signal that arrived once outputs were being committed.
    With `keep` (the command run as a process, about to exit), the handlers stay installed,
    deferring, after the block: a signal between the end of the command and the exit of the
    process cannot turn a complete run into a KeyboardInterrupt traceback. Does nothing
    outside the main thread (signals can only be handled there).
    """
    _STATE.deferring = False
    _STATE.pending = None
    _STATE.inputs = set()
    _STATE.identities = set()
    if threading.current_thread() is not threading.main_thread():
        yield _STATE
        return
    previous = {}
    unraisable_hook = sys.unraisablehook
    sys.unraisablehook = _unraisable(unraisable_hook)
    for signum in SIGNALS:
        try:
            old = signal.getsignal(signum)
            if old == signal.SIG_IGN:
                continue  # nohup, or a background job: keep ignoring it
            signal.signal(signum, _on_signal)
            previous[signum] = old
        except (OSError, ValueError):
            continue
    try:
        yield _STATE
    finally:
        if keep:  # the process exits next, with the command's status
            _STATE.deferring = True
        else:
            for signum, old in previous.items():
                signal.signal(signum, old if old is not None else signal.SIG_DFL)
            _STATE.deferring = False
            sys.unraisablehook = unraisable_hook


def interruptible(call, *args):
    """`call(*args)` — native code that runs long without returning to Python (TensorRT's
    parser and builder, an onnxruntime session) — in a way a signal can stop.

    Python runs a signal handler only between bytecodes of the main thread, so SIGINT or a
    CI job's SIGTERM waited for such a call to return: minutes for a large engine build, a
    minute for a verification run. The call runs in a worker thread (these libraries release
    the GIL) while the main thread waits, handling signals; an interrupted call is abandoned
    and ends with the process, which a console command leaves without waiting for it
    (`cli._args.exit_now`). Off the main thread the call is made directly.
    """
    if threading.current_thread() is not threading.main_thread():
        return call(*args)
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = call(*args)
        except BaseException as err:  # noqa: BLE001 - raised again in the main thread
            result["error"] = err

    worker = threading.Thread(target=run, name="trtforge-native", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)  # signals are handled between these waits
    if "error" in result:
        raise result["error"]
    return result.get("value")


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


# --- checks --------------------------------------------------------------------------------


def protect(*paths: str | os.PathLike) -> None:
    """Marks files read as input (a model, its external data): no output may replace them,
    whatever path names them. The marks last until the next command starts (`signal_guard`)."""
    for path in paths:
        try:
            _STATE.inputs.add(os.path.realpath(path))
        except (ValueError, OSError):  # a NUL in the name: nothing can be written there
            continue
        try:
            st = os.stat(path)
        except (ValueError, OSError):  # not there (yet): its path is what is known
            continue
        _STATE.identities.add((st.st_dev, st.st_ino))


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def check_output(path: str | os.PathLike, what: str = "-o") -> Path:
    """Refuses an output path trtforge must not write (see the module docstring).

    Returns:
        The path.

    Raises:
        UserError: it is a device, FIFO, socket, directory or symbolic link, or its folder
            does not exist.
    """
    text = os.fspath(path)
    if not text:
        raise UserError(f"{what}: empty file name", "give the path of the file to write")
    out = Path(text)
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise _disk_error(err, out, what) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        extra = ""
        if stat.S_ISLNK(st.st_mode):
            extra = f" (to '{os.readlink(out)}')"
        raise UserError(
            f"{out}: is {_kind(st.st_mode)}{extra}; trtforge writes only regular files",
            f"give {what} the path of a regular file (a new one, or one to replace)"
            + ("; for a link, its real path" if extra else ""),
        )
    same_file = st is not None and (st.st_dev, st.st_ino) in _STATE.identities
    if same_file or (_STATE.inputs and os.path.realpath(out) in _STATE.inputs):
        raise UserError(
            f"{out}: is an input of this command; writing it would overwrite the input",
            f"choose another {what} path; inputs are never modified",
        )
    parent = out.parent
    if not parent.is_dir():
        raise UserError(
            f"{out}: folder '{parent}' does not exist", f"create it, or choose another {what} path"
        )
    return out


def _disk_error(err: OSError, path: Path, what: str = "-o") -> UserError:
    reason = err.strerror or str(err)
    hints = {
        errno.EACCES: "check the folder's permissions, or choose another",
        errno.EPERM: "check the folder's permissions, or choose another",
        errno.EROFS: "the file system is read-only: choose a writable folder",
        errno.ENOSPC: "the disk is full: free some space or write elsewhere",
        errno.EDQUOT: "the disk quota is exceeded: free some space or write elsewhere",
        errno.ENAMETOOLONG: "choose a shorter file name",
        errno.ENOENT: "create the folder first, or choose another",
        errno.ENOTDIR: "a part of the path is not a folder: choose another",
    }
    hint = hints.get(err.errno, "choose another output path")
    return UserError(f"{path}: cannot write it ({reason})", f"{hint} ({what})")


# --- temporary names -----------------------------------------------------------------------


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode(errors="replace")).hexdigest()[:8]


def _stem(out: Path) -> str:
    return f".{out.name[:NAME_KEEP]}{TAG}"


def temp_path(out: Path) -> Path:
    """A fresh temporary name beside `out`, recognizably trtforge's (host, pid)."""
    return out.with_name(f"{_stem(out)}{_host()}-{os.getpid()}-{secrets.token_hex(4)}.tmp")


_TEMP_RE = re.compile(r"-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def remove_stale(out: Path) -> list[Path]:
    """Removes temporaries of earlier runs writing `out` that provably were ours and died.

    Provably ours: the trtforge temporary name for `out`, made on this host by a process that
    no longer exists, owned by the current user, a plain file or a plain folder (never a
    link). Returns what was removed.
    """
    removed = []
    stem, host, uid = _stem(out), _host(), os.getuid()
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(stem):
            continue
        match = _TEMP_RE.search(entry.name[len(stem) - 1 :])
        if match is None or match["host"] != host:
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if st.st_uid != uid:
                continue
            if stat.S_ISREG(st.st_mode):
                os.unlink(entry.path)
            elif stat.S_ISDIR(st.st_mode):
                shutil.rmtree(entry.path)
            else:
                continue
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


# --- writing -------------------------------------------------------------------------------


def _write_file(path: Path, data: bytes | Callable) -> None:
    """Creates `path` (must not exist) with the umask's mode, writes, flushes to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    with os.fdopen(fd, "wb") as handle:
        if callable(data):
            data(handle)
        else:
            view = memoryview(data)
            for start in range(0, len(view), CHUNK):
                handle.write(view[start : start + CHUNK])
        handle.flush()
        os.fsync(handle.fileno())


class OutputSet:
    """Files committed together: each written in full under a temporary name, then renamed.

    Use as a context manager; whatever is not committed when the block ends is removed::

        with OutputSet() as out:
            out.add_bytes(engine_path, engine)
            out.add_text(sidecar_path, text)
            out.commit()
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []  # (temporary, final)
        self._scratch: list[Path] = []  # temporary folders
        self.committed = False

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()

    def _final(self, path: str | os.PathLike, what: str) -> Path:
        out = check_output(path, what)
        if any(final == out for _, final in self._staged):
            raise UserError(f"{out}: given twice as an output", f"choose another {what} path")
        remove_stale(out)
        return out

    def add_bytes(self, path: str | os.PathLike, data: bytes | Callable, what: str = "-o") -> Path:
        """Stages `data` (bytes, or a function writing to a binary handle) for `path`.

        Returns:
            The temporary file (complete; readable until commit or discard).
        """
        out = self._final(path, what)
        tmp = temp_path(out)
        try:
            _write_file(tmp, data)
        except OSError as err:
            _unlink(tmp)
            raise _disk_error(err, out, what) from None
        except BaseException:
            _unlink(tmp)
            raise
        self._staged.append((tmp, out))
        return tmp

    def add_text(self, path: str | os.PathLike, text: str, what: str = "-o") -> Path:
        return self.add_bytes(path, text.encode("utf-8", errors="backslashreplace"), what)

    def scratch_dir(self, out: str | os.PathLike, what: str = "-o") -> Path:
        """A temporary folder beside `out` (removed at the end) to build files in."""
        final = check_output(out, what)
        remove_stale(final)
        tmp = temp_path(final)
        try:
            os.mkdir(tmp, 0o700)
        except OSError as err:
            raise _disk_error(err, final, what) from None
        self._scratch.append(tmp)
        return tmp

    def add_file(self, tmp: Path, path: str | os.PathLike, what: str = "-o") -> None:
        """Stages an already written file (in a `scratch_dir`) for `path`: flushed, moded."""
        out = self._final(path, what)
        try:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
        except OSError as err:
            raise _disk_error(err, out, what) from None
        self._staged.append((tmp, out))

    def commit(self) -> list[Path]:
        """Renames every staged file into place, in the order staged. Signals are deferred
        from here on (see `signal_guard`).

        Returns:
            The paths written.
        """
        for _, final in self._staged:  # nothing renamed yet: a late swap is still refused
            check_output(final)
        _STATE.deferring = True
        done: list[tuple[Path, Path | None]] = []  # (final, backup of what it replaced)
        try:
            for tmp, final in self._staged:
                backup = None
                if final.exists():
                    backup = temp_path(final)
                    try:
                        os.link(final, backup)
                    except OSError:
                        backup = None
                os.replace(tmp, final)
                done.append((final, backup))
        except OSError as err:
            for final, backup in reversed(done):
                if backup is not None:
                    os.replace(backup, final)
                else:
                    _unlink(final)
            for _, backup in done:
                _unlink(backup)
            _STATE.deferring = False
            raise _disk_error(err, final) from None
        for _, backup in done:
            _unlink(backup)
        self.committed = True
        written = [final for _, final in self._staged]
        self._staged = []
        self.discard()
        return written

    def discard(self) -> None:
        """Removes every staged temporary file and scratch folder."""
        for tmp, _ in self._staged:
            _unlink(tmp)
        self._staged = []
        for folder in self._scratch:
            shutil.rmtree(folder, ignore_errors=True)
        self._scratch = []


def _unlink(path: Path | None) -> None:
    if path is None:
        return
    with contextlib.suppress(OSError):
        os.unlink(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes, what: str = "-o") -> Path:
    """Writes one file atomically (see the module docstring)."""
    with OutputSet() as out:
        out.add_bytes(path, data, what)
        return out.commit()[0]


def write_text(path: str | os.PathLike, text: str, what: str = "-o") -> Path:
    """Writes one text file atomically (see the module docstring)."""
    return write_bytes(path, text.encode("utf-8", errors="backslashreplace"), what)
