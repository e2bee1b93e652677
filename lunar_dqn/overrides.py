"""Overrides as the command line writes them, for runs started from Python: what turns the
defaults into a config (saved as the run's `.hydra/overrides.yaml`, which the sweep report groups
runs by), and what a resume from Python names."""

from __future__ import annotations

import json
from typing import Any

from omegaconf import OmegaConf

from lunar_dqn.config import default_config, flatten


def override_text(key: str, value: Any) -> str:
    """`key=value` as the command line writes it: `agent.hidden_sizes=[64,64]`, `x=null`."""
    if isinstance(value, (list, dict, bool)) or value is None:
        text = json.dumps(value, separators=(",", ":"))
    else:
        text = str(value)
    return f"{key}={text}"


def overrides_from_defaults(cfg: Any) -> list[str]:
    """The overrides that turn the defaults into `cfg` (a `+` before keys the defaults lack)."""
    container = cfg if isinstance(cfg, dict) else OmegaConf.to_container(OmegaConf.structured(cfg))
    now, default = flatten(container), flatten(OmegaConf.to_container(default_config()))
    return [("" if key in default else "+") + override_text(key, value)
            for key, value in now.items() if key not in default or default[key] != value]
