"""Config keys: every key a schema knows, and one line for a key it does not, naming the known
key closest to it. Hydra lets `+key=value` add any key; a typo added that way would be ignored
silently, so every composed config is checked against its schema."""

from __future__ import annotations

import difflib
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lunar_dqn.errors import ConfigError

# Free-form keys: the environment's own options, checked by building the environment.
FREE_FORM = ("env.kwargs",)


def known_keys(schema: type) -> set[str]:
    """Every dotted key of `schema` (a dataclass), the groups included (`agent`, `agent.tau`)."""
    keys: set[str] = set()

    def walk(node: Any, prefix: str) -> None:
        for key, value in node.items():
            keys.add(f"{prefix}{key}")
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")

    walk(OmegaConf.to_container(OmegaConf.structured(schema)), "")
    return keys


def unknown_key(key: str, known: set[str]) -> str:
    """The one line for a key no schema knows; never Hydra's advice to add it with `+`."""
    closest = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    hint = f" (did you mean {closest[0]}?)" if closest else ""
    return f"{key} is not a config key{hint}"


def check_known_keys(cfg: Any, schema: type) -> None:
    """Raise ConfigError for the first key of `cfg` (a composed DictConfig) that `schema` does
    not know, outside the free-form `env.kwargs`. Plain dataclasses hold only known keys."""
    if not isinstance(cfg, DictConfig):
        return
    known = known_keys(schema)

    def walk(node: dict, prefix: str) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if name in FREE_FORM:
                continue
            if name not in known:
                raise ConfigError(unknown_key(name, known))
            if isinstance(value, dict):
                walk(value, f"{name}.")

    walk(OmegaConf.to_container(cfg, resolve=False), "")
