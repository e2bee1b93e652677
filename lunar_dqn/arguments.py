"""Command-line mistakes Hydra would answer with a grammar error or a missing-config message,
caught before Hydra starts, each with a line that says what to type instead."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lunar_dqn.errors import ConfigError
from lunar_dqn.helptext import invocation

# Hydra's flags that take the next argument as their value.
FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name",
                    "-cn", "--config-dir", "-cd", "--experimental-rerun"}
INFO_TOPICS = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}
SWEEPS_EXTRA = 'pip install "lunar_dqn[sweeps]"'
# GROUP=CHOICE -> the modules it needs, which the sweeps extra installs
SUBMITIT = ("hydra_plugins.hydra_submitit_launcher", "submitit")
PLUGINS = {
    "hydra/launcher": {"joblib": ("hydra_plugins.hydra_joblib_launcher", "joblib"),
                       "slurm": SUBMITIT, "submitit_local": SUBMITIT, "submitit_slurm": SUBMITIT},
    "hydra/sweeper": {"optuna": ("hydra_plugins.hydra_optuna_sweeper", "optuna")},
    "hparams_search": {"optuna": ("hydra_plugins.hydra_optuna_sweeper", "optuna")},
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def overrides(argv: list[str]) -> tuple[list[str], list[str]]:
    """Hydra's command line split into its KEY=VALUE overrides and anything else that is not a
    flag or a flag's value (which Hydra would reject with a grammar error)."""
    found, stray = [], []
    after = ""
    for arg in argv:
        flag, after = after, ""
        if flag in FLAGS_WITH_VALUE or (flag in ("--info", "-i") and arg in INFO_TOPICS):
            continue
        if arg.startswith("-"):
            after = arg
        elif "=" in arg:
            found.append(arg)
        elif not arg.startswith("~"):  # ~KEY deletes a key
            stray.append(arg)
    return found, stray


def _stray_message(command: str, arg: str) -> str:
    prog, path = invocation(command), Path(arg)
    if command in ("evaluate", "plot") and path.is_dir():
        return f"{arg} is not an option: to use that run, type {prog} run_dir={arg}"
    if command == "evaluate" and path.is_file():
        return f"{arg} is not an option: to evaluate that model file, type {prog} checkpoint={arg}"
    if command == "train" and path.is_dir():
        return f"{arg} is not an option: to continue that run, type {prog} resume={arg}"
    return (f"{arg} is not an option: options are KEY=VALUE (e.g. {prog} "
            f"{'run_dir=DIR' if command in ('evaluate', 'plot') else 'seed=1'}); {prog} --help "
            "lists them")


def check_arguments(command: str, argv: list[str]) -> None:
    """Raise ConfigError for a bare argument (a path without `run_dir=`...) or for a launcher or
    sweeper whose plugin is not installed."""
    found, stray = overrides(argv)
    if stray:
        raise ConfigError(_stray_message(command, stray[0]))
    for override in found:
        key, value = override.split("=", 1)
        needed = PLUGINS.get(key.lstrip("+"), {}).get(value, ())
        if not all(_installed(module) for module in needed):
            raise ConfigError(f"{override} needs the sweep plugins, which are not installed: "
                              f"{SWEEPS_EXTRA}")
