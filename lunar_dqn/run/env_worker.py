"""`env.vectorization_mode=worker`: the whole vector env stepped in one process of its own.

The trainer learns between `step_async` and `step_wait`; with this backend the environments
meanwhile simulate on another core. It hosts the very SyncVectorEnv the `sync` mode would use
(same sub-envs, wrappers, seeds, SAME_STEP autoreset), so a run is step for step the same.
Observations, rewards, terminated and truncated flags and the actions cross through shared
memory; a vector step is one pipe round-trip, whose reply carries the step's infos only when
an episode ended (they are empty otherwise). One process for all the sub-envs, not one each as
in `async`: on few cores the hand-offs, not the physics, set the price.

The worker is forked (Linux, macOS), ignores SIGINT, SIGTERM and SIGUSR2 (the trainer's: it
checkpoints, then closes the worker), and ends by itself when the trainer dies, however it dies.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import signal
import threading
import time
from multiprocessing.connection import Pipe
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv

from lunar_dqn.errors import ConfigError, EnvWorkerError
from lunar_dqn.run.env_worker_process import OK, STEP, serve
from lunar_dqn.run.signals import STOP_SIGNALS

CLOSE_TIMEOUT_S = 10.0


class _SharedArrays:
    """The step's arrays in one anonymous shared mapping, seen by both processes after fork."""

    def __init__(self, layout: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
        sizes = {name: int(np.prod(shape)) * np.dtype(dtype).itemsize
                 for name, (shape, dtype) in layout.items()}
        self._memory = mmap.mmap(-1, max(1, sum(sizes.values())))
        self.arrays: dict[str, np.ndarray] = {}
        offset = 0
        for name, (shape, dtype) in layout.items():
            self.arrays[name] = np.ndarray(shape, dtype, buffer=self._memory, offset=offset)
            offset += sizes[name]

    def close(self) -> None:
        self.arrays.clear()
        self._memory.close()


def _check_can_host(envs: VectorEnv) -> None:
    if not hasattr(os, "fork"):
        raise ConfigError("env.vectorization_mode=worker needs os.fork (Linux, macOS): use sync")
    for what, space in (("observation", envs.single_observation_space),
                        ("action", envs.single_action_space)):
        if not isinstance(space, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete,
                                  spaces.MultiBinary)):
            raise ConfigError(f"env.vectorization_mode=worker needs array {what}s, "
                              f"not {type(space).__name__}: use sync or async")


class WorkerVectorEnv(VectorEnv):
    """A vector env run by one forked worker process; see the module's docstring."""

    def __init__(self, envs: VectorEnv) -> None:
        """Take over `envs` (a SyncVectorEnv not yet reset): the worker gets it, this process
        keeps only its description."""
        try:
            _check_can_host(envs)
        except ConfigError:
            envs.close()
            raise
        self.num_envs = envs.num_envs
        self.single_observation_space = envs.single_observation_space
        self.single_action_space = envs.single_action_space
        self.observation_space, self.action_space = envs.observation_space, envs.action_space
        self.metadata = dict(envs.metadata)
        self.render_mode, self.spec = envs.render_mode, envs.spec
        n, obs, act = self.num_envs, self.single_observation_space, self.single_action_space
        self._shared = _SharedArrays({
            "obs": ((n, *obs.shape), obs.dtype), "actions": ((n, *act.shape), act.dtype),
            "rewards": ((n,), np.float64), "terminated": ((n,), np.bool_),
            "truncated": ((n,), np.bool_),
        })
        self._conn, child_conn = Pipe()
        self._stepping = False
        self._exit_status: int | None = None
        parent = self._owner = os.getpid()
        # The worker is born ignoring the stop signals, so that a Ctrl-C that reaches the whole
        # process group at once cannot catch it before it says so itself (only the main thread
        # may set handlers; from another thread the worker sets them first thing).
        main = threading.current_thread() is threading.main_thread()
        saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS} if main else {}
        try:
            self._pid = os.fork()
            if self._pid == 0:  # the worker: never returns
                self._conn.close()
                serve(envs, child_conn, self._shared.arrays, parent)
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)
        child_conn.close()

    # -- the vector env ------------------------------------------------------------------------

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        infos = self._request("reset", seed=seed, options=options)
        return self._shared.arrays["obs"].copy(), infos

    def step(self, actions: np.ndarray) -> tuple:
        self.step_async(actions)
        return self.step_wait()

    def step_async(self, actions: np.ndarray) -> None:
        np.copyto(self._shared.arrays["actions"], actions, casting="same_kind")
        self._send(STEP)
        self._stepping = True

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        self._stepping = False
        infos = self._reply()
        a = self._shared.arrays
        return (a["obs"].copy(), a["rewards"].copy(), a["terminated"].copy(),
                a["truncated"].copy(), infos)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return self._request("call", name, *args, **kwargs)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        return self._request("get_attr", name)

    def set_attr(self, name: str, values: Any) -> None:
        self._request("set_attr", name, values)

    def render(self) -> tuple[Any, ...] | None:
        return self._request("render")

    def close_extras(self, **kwargs: Any) -> None:
        """Ask the worker to close its envs and exit; kill it if it does not within
        CLOSE_TIMEOUT_S. Safe after the worker failed or died."""
        if os.getpid() != self._owner:
            return  # a copy in a process forked from the trainer: the worker is not its own
        try:
            if self._stepping:  # a step still on its way (the learner raised meanwhile)
                self._stepping = False
                self._reply(timeout=CLOSE_TIMEOUT_S)
            self._request("close", timeout=CLOSE_TIMEOUT_S)
        except EnvWorkerError:
            pass  # already failed or gone: nothing more to ask it
        finally:
            self._conn.close()
            self._reap()
            self._shared.close()

    def __del__(self) -> None:
        if not getattr(self, "closed", True) and hasattr(self, "_pid"):
            with contextlib.suppress(Exception):  # at interpreter exit modules may be gone
                self.close()

    # -- the pipe ------------------------------------------------------------------------------

    def _request(self, command: str, *args: Any, timeout: float | None = None,
                 **kwargs: Any) -> Any:
        self._send(pickle.dumps((command, args, kwargs)))
        return self._reply(timeout)

    def _send(self, message: bytes) -> None:
        try:
            self._conn.send_bytes(message)
        except OSError:
            raise self._ended() from None

    def _reply(self, timeout: float | None = None) -> Any:
        try:
            if timeout is not None and not self._conn.poll(timeout):
                raise EnvWorkerError(f"the env worker process gave no answer in {timeout:.0f} s")
            reply = self._conn.recv_bytes()
        except (EOFError, OSError):
            raise self._ended() from None
        if reply[:1] == OK:
            return pickle.loads(reply[1:]) if len(reply) > 1 else {}
        raise EnvWorkerError("the environment failed in the env worker process: "
                             + reply[1:].decode())

    def _ended(self) -> EnvWorkerError:
        self._reap()
        status = self._exit_status
        how = (f"killed by {signal.Signals(-status).name}" if status is not None and status < 0
               else f"exit code {status}")
        return EnvWorkerError(f"the env worker process (pid {self._pid}) ended unexpectedly "
                              f"({how})")

    def _reap(self) -> None:
        """Wait for the worker to exit, killing it if it outstays CLOSE_TIMEOUT_S; keep its
        exit status (negative: the signal that ended it)."""
        if self._exit_status is not None:
            return
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        pid, status = os.waitpid(self._pid, os.WNOHANG)
        while pid == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
            pid, status = os.waitpid(self._pid, os.WNOHANG)
        if pid == 0:
            os.kill(self._pid, signal.SIGKILL)
            pid, status = os.waitpid(self._pid, 0)
        self._exit_status = os.waitstatus_to_exitcode(status)
