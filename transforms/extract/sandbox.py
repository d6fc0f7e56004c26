"""Time and memory bounds for work that may not return: a killable child and an in-process watchdog.

Neither knows what it runs: the work is a parameter (a module-level function and its arguments),
so the extractor and its isolation change independently.

* ``Sandbox``: one long-lived child process, killed and replaced when a call overruns or the
  child dies. The child is a fresh interpreter running this module's ``serve`` (never a fork of a
  worker that runs gRPC threads, and never ``multiprocessing``'s spawn, which re-imports the
  parent's main module and with it Beam and the pipeline): it imports only what its work needs.
  Its address space can be capped, so a page that needs too much memory fails alone.
* ``Watchdog``: a deadline on a call in the calling thread. Threads cannot be killed and signals
  only reach the main thread, so when the deadline passes the watchdog raises ``WatchdogTimeout``
  asynchronously in the thread (``PyThreadState_SetAsyncExc``). The interpreter delivers it
  between bytecodes: it stops runaway Python loops, not one long call inside a C library, which
  is why work that could spend long in C (very large or very link-dense pages) goes to a
  ``Sandbox`` instead. ``WatchdogTimeout`` derives from ``BaseException`` so the ``except
  Exception`` blocks inside libraries do not swallow it; it is raised again every second until
  the call returns.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import logging
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

_BOOT = (
    "import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
    "from transforms.extract.sandbox import serve; serve(sys.argv[2:])"
)


class SandboxTimeout(RuntimeError):
    """The call kept the child busy past its timeout; the child was killed."""


class SandboxCrash(RuntimeError):
    """The child process died (killed by the OS, out of memory) or could not start."""


class WorkError(RuntimeError):
    """The work raised in the child; the message is ``"<ExceptionType>: <message>"``."""


def _limit_memory(megabytes: int) -> None:
    """Cap the child's address space where the OS allows it (Linux workers); else run uncapped."""
    try:
        import resource

        limit = megabytes * 1024 * 1024
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or hard > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError) as err:
        logger.warning("cannot cap sandbox memory at %d MB: %s", megabytes, err)


def serve(argv: list[str]) -> None:
    """Child entry point: ``FD MEMORY_MB MODULE...``; answer calls until the connection closes."""
    from multiprocessing.connection import Connection

    conn = Connection(int(argv[0]))
    memory_limit_mb = int(argv[1])
    for name in argv[2:]:  # before "ready": start-up is not charged to the first call
        importlib.import_module(name)
    conn.send(("ready", None))
    if memory_limit_mb:
        _limit_memory(memory_limit_mb)
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            work, args = pickle.loads(request)
            reply: tuple[str, Any] = ("ok", work(*args))
        except BaseException as err:  # report everything, including MemoryError
            reply = ("error", f"{type(err).__name__}: {err}")
        try:
            conn.send(reply)
        except Exception as err:  # an unpicklable result is the work's failure, not the child's
            conn.send(("error", f"{type(err).__name__}: {err}"))


class Sandbox:
    """One child process that runs calls one at a time, replaced when a call overruns."""

    STARTUP_SECONDS = 300.0

    def __init__(
        self, timeout_seconds: float, memory_limit_mb: int = 0, preload: tuple[str, ...] = ()
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.memory_limit_mb = memory_limit_mb
        self.preload = preload
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Any = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _start(self) -> None:
        from multiprocessing import Pipe

        parent, child = Pipe(duplex=True)
        paths = json.dumps([p for p in sys.path if p])
        command = [sys.executable, "-c", _BOOT, paths, str(child.fileno())]
        command += [str(self.memory_limit_mb), *self.preload]
        try:
            process = subprocess.Popen(
                command, pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, close_fds=True
            )
        except OSError as err:
            parent.close()
            raise SandboxCrash(f"sandbox process did not start: {err}") from err
        finally:
            child.close()
        self._process, self._conn = process, parent
        try:
            ready = parent.poll(self.STARTUP_SECONDS) and parent.recv()[0] == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.close()
            raise SandboxCrash("sandbox process did not start")

    def run(self, work: Callable[..., Any], *args: Any) -> Any:
        """``work(*args)`` in the child; its exception comes back as ``WorkError``."""
        if not self.alive():
            self.close()
            self._start()
        try:
            self._conn.send_bytes(pickle.dumps((work, args), protocol=pickle.HIGHEST_PROTOCOL))
            ready = self._conn.poll(self.timeout_seconds)
            reply = self._conn.recv() if ready else None
        except (EOFError, OSError) as err:
            self.close()
            raise SandboxCrash(f"sandbox process died: {type(err).__name__}") from err
        if reply is None:
            self.close()
            raise SandboxTimeout(f"took longer than {self.timeout_seconds:g}s")
        status, value = reply
        if status == "error":
            raise WorkError(value)
        return value

    def close(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            process.kill()
            process.wait(timeout=5)


class SandboxPool:
    """Up to ``size`` sandboxes shared by all threads of one process, started on first use.

    A runner may run many threads (hence DoFn instances) per process; one child each would
    multiply memory for nothing when the work is CPU-bound. Threads borrow an idle child, or wait
    for one once ``size`` exist. A worker that never needs a child never starts one.
    """

    def __init__(
        self,
        size: int,
        timeout_seconds: float,
        memory_limit_mb: int = 0,
        preload: tuple[str, ...] = (),
    ) -> None:
        self.size = size
        self._args = (timeout_seconds, memory_limit_mb, preload)
        self._idle: queue.LifoQueue[Sandbox] = queue.LifoQueue()
        self._lock = threading.Lock()
        self.created = 0

    def _take(self) -> Sandbox:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self.created < self.size:
                self.created += 1
                return Sandbox(*self._args)
        return self._idle.get()

    def run(self, work: Callable[..., Any], *args: Any) -> Any:
        sandbox = self._take()
        try:
            return sandbox.run(work, *args)
        finally:
            self._idle.put(sandbox)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


_POOLS: dict[tuple[Any, ...], SandboxPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(
    size: int, timeout_seconds: float, memory_limit_mb: int, preload: tuple[str, ...]
) -> SandboxPool:
    """The process-wide pool for these settings (its children die with the process)."""
    key = (size, timeout_seconds, memory_limit_mb, preload)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = SandboxPool(*key)
    return pool


class WatchdogTimeout(BaseException):
    """Raised inside the guarded thread when its deadline passed (see the module docstring)."""


class _Guard:
    __slots__ = ("deadline", "fired", "ident")

    def __init__(self, ident: int, deadline: float) -> None:
        self.ident, self.deadline, self.fired = ident, deadline, False


def _raise_in(ident: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(exc) if exc is not None else None
    )


class Watchdog:
    """One daemon thread per process watching the deadlines of guarded calls in any thread."""

    REPEAT_SECONDS = 1.0

    def __init__(self) -> None:
        self._guards: set[_Guard] = set()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def _watch(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for guard in self._guards:
                    if guard.deadline <= now:
                        guard.fired = True
                        guard.deadline = now + self.REPEAT_SECONDS
                        _raise_in(guard.ident, WatchdogTimeout)
                wait = min((g.deadline for g in self._guards), default=now + 3600) - now
                self._cond.wait(max(wait, 0.01))

    @contextmanager
    def guard(self, seconds: float) -> Iterator[None]:
        """Raise ``WatchdogTimeout`` in this thread if the block runs longer than ``seconds``."""
        guard = _Guard(threading.get_ident(), time.monotonic() + seconds)
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)
                self._thread.start()
            self._guards.add(guard)
            self._cond.notify()
        try:
            yield
        finally:
            with self._cond:
                self._guards.discard(guard)
                if guard.fired:  # a timeout set but not yet delivered must not escape the block
                    _raise_in(guard.ident, None)


_WATCHDOG = Watchdog()


def run_with_deadline(seconds: float, work: Callable[..., Any], *args: Any) -> Any:
    """``work(*args)`` in this thread, stopped by ``WatchdogTimeout`` after ``seconds``."""
    with _WATCHDOG.guard(seconds):
        return work(*args)
