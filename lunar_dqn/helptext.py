"""Each command's `--help`, rendered from the YAML files that hold every default with its meaning
(one key a line), so the help can never disagree with the defaults. Hydra's own help stays
behind `--hydra-help`."""

from __future__ import annotations

import os
import re
import sys
import textwrap
from pathlib import Path

from lunar_dqn.config import CONF_DIR, GROUPS

KEY_LINE = re.compile(r"^(?P<key>\w+):\s*(?P<value>.*?)\s*(?:#\s*(?P<meaning>.*))?$")
PRESET_GROUPS = ("experiment", "debug", "hparams_search")  # chosen as GROUP=NAME
WIDTH = 36  # the KEY=DEFAULT column

ABOUT = {
    "train": "Train a DQN lander until it solves (the average of the last 100 episodes reaches "
             "200) or its budget ends. Each run writes into its own directory, "
             "outputs/runs/<date>/<time>/ (hydra.run.dir=DIR chooses it).",
    "evaluate": "Play greedy episodes of a trained model on seeds never used in training; print "
                "their figures and write evaluation.json into "
                "outputs/evaluations/<date>/<time>/ (hydra.run.dir=DIR chooses it).",
    "plot": "Redraw a run's training curve from its history.csv.",
    "inspect": "Reset LunarLander on a seed, take one action and print the lab's table.",
}
EXAMPLES = {
    "train": ["agent.tau=0.001 seed=3", "experiment=seed_notebook", "resume=outputs/runs/DATE/TIME",
              "-m seed=0,1,2,3 hydra/launcher=joblib   (a sweep; launchers and Optuna need "
              "pip install \"lunar_dqn[sweeps]\")", "--cfg job   (print the composed config)"],
    "evaluate": ["run_dir=outputs/runs/DATE/TIME", "checkpoint=model.pt episodes=20 video=true"],
    "plot": ["run_dir=outputs/runs/DATE/TIME first=300 last=600 window=50"],
    "inspect": ["action=2 seed=0", "'action=Fire left engine'"],
}


def invocation(command: str) -> str:
    """How the user started the command: its console script, or `python -m`."""
    script = f"lunar-dqn-{command}"
    return script if os.path.basename(sys.argv[0]) == script else f"python -m lunar_dqn.{command}"


def options(path: Path, prefix: str = "") -> list[tuple[str, str]]:
    """(`prefix+key=default`, meaning) for each top-level key of a YAML file."""
    found = []
    for line in path.read_text().splitlines():
        match = KEY_LINE.match(line)
        if match and match["key"] not in ("defaults", "hydra"):
            found.append((f"{prefix}{match['key']}={match['value']}", match["meaning"] or ""))
    return found


def _first_comment(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("#") and "@package" not in line:
            return line.lstrip("# ").rstrip(":")
    return ""


def _selected_files() -> dict[str, str]:
    """group -> the file conf/config.yaml selects for it."""
    text = (CONF_DIR / "config.yaml").read_text()
    return {g: m[1] for g in GROUPS if (m := re.search(rf"^\s*- {g}: (\w+)", text, re.MULTILINE))}


def _rows(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"  {left:<{WIDTH}} {meaning}".rstrip() for left, meaning in pairs]


def render(command: str) -> str:
    """The `--help` text of `command` (train, evaluate, plot, inspect)."""
    prog = invocation(command)
    lines = [f"usage: {prog} [KEY=VALUE ...]", "", textwrap.fill(ABOUT[command], 100), "",
             "Options (KEY=DEFAULT, then what it means):"]
    if command == "train":
        lines += _rows(options(CONF_DIR / "config.yaml"))
        for group, name in _selected_files().items():
            lines += ["", f"{group}.* ({group}/{name}.yaml):"]
            lines += _rows(options(CONF_DIR / group / f"{name}.yaml", f"{group}."))
        lines += ["", "Presets (GROUP=NAME):"]
        lines += _rows([(f"{group}={path.stem}", _first_comment(path))
                        for group in PRESET_GROUPS
                        for path in sorted((CONF_DIR / group).glob("*.yaml"))])
    else:
        lines += _rows(options(CONF_DIR / f"{command}.yaml"))
    lines += ["", "Examples:"] + [f"  {prog} {example}" for example in EXAMPLES[command]]
    lines += ["", "--hydra-help shows Hydra's own options (--cfg, --multirun, --config-dir...)."]
    return "\n".join(lines)
