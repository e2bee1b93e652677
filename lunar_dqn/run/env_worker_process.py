"""The env worker process of `env.vectorization_mode=worker` (`env_worker.WorkerVectorEnv` is
the trainer's side): it steps the vector env on request, writes each step into shared memory and
answers through the pipe, until the trainer closes it or is gone."""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from gymnasium.vector import VectorEnv
from threadpoolctl import threadpool_info, threadpool_limits

from lunar_dqn.errors import fault_line
from lunar_dqn.run.signals import STOP_SIGNALS  # the trainer's: it checkpoints, then closes us

STEP = b"s"  # the trainer's whole message for a vector step: the actions are in shared memory
OK, FAILED = b"o", b"e"  # the first byte of every reply
PARENT_CHECK_S = 0.5  # how often an idle worker checks that its parent is still there


def _pin_one_thread() -> None:
    """The environments need no thread pools: keep torch and BLAS (inherited from the trainer,
    which may use more) to one thread, lest the worker compete with the learner's core."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    if any(pool["num_threads"] > 1 for pool in threadpool_info()):
        threadpool_limits(1)


def serve(envs: VectorEnv, conn: Connection, arrays: dict[str, np.ndarray], parent: int) -> None:
    """The worker's life: answer the parent's requests until `close`, the parent's death or
    the pipe's end; then exit without running any of the parent's exit handlers."""
    code = 1  # anything but a close, the parent's death or the pipe's end is a failure
    try:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        _pin_one_thread()
        commands: dict[str, Callable[..., Any]] = {
            "reset": envs.reset, "call": envs.call, "get_attr": envs.get_attr,
            "set_attr": envs.set_attr, "render": envs.render, "close": envs.close,
        }
        poller = select.poll()  # not select.select: the pipe's descriptor may be above 1023
        poller.register(conn.fileno(), select.POLLIN)
        while True:
            while not poller.poll(PARENT_CHECK_S * 1000):
                if os.getppid() != parent:
                    code = 0
                    return
            message = conn.recv_bytes()
            try:
                if message == STEP:
                    reply = _step(envs, arrays)
                else:
                    command, args, kwargs = pickle.loads(message)
                    result = commands[command](*args, **kwargs)
                    if command == "reset":
                        np.copyto(arrays["obs"], result[0])
                        result = result[1]
                    reply = OK + pickle.dumps(result)
                    if command == "close":
                        conn.send_bytes(reply)
                        code = 0
                        return
            except Exception as err:
                reply = FAILED + fault_line(err).encode()
            conn.send_bytes(reply)
    except (EOFError, OSError):
        code = 0  # the parent is gone
    finally:
        os._exit(code)


def _step(envs: VectorEnv, arrays: dict[str, np.ndarray]) -> bytes:
    obs, rewards, terminated, truncated, infos = envs.step(arrays["actions"].copy())
    np.copyto(arrays["obs"], obs)
    np.copyto(arrays["rewards"], rewards)
    np.copyto(arrays["terminated"], terminated)
    np.copyto(arrays["truncated"], truncated)
    return OK + pickle.dumps(infos) if infos else OK
