"""Each command's `--help` shows its own options with their meaning, and command-line mistakes
Hydra would answer with a grammar error or a missing config get a line saying what to type."""

import os
import subprocess
import sys

import pytest
from omegaconf import OmegaConf
from test_config import DOCUMENTED_DEFAULTS

from conftest import CONF_DIR, REPO, run_module
from lunar_dqn import arguments
from lunar_dqn.arguments import check_arguments
from lunar_dqn.errors import ConfigError
from lunar_dqn.helptext import render
from runutil import make_run


def option_line(text: str, option: str) -> str:
    found = [line for line in text.splitlines() if line.strip().startswith(option)]
    assert len(found) == 1, (option, found)
    return found[0]


def test_train_help_names_every_option_with_its_default_and_meaning():
    text = render("train")
    assert "soft target update: w_target <- tau * w + (1 - tau) * w_target" in option_line(
        text, "agent.tau=5.0e-3 ")
    for group, values in DOCUMENTED_DEFAULTS.items():
        for key in values if isinstance(values, dict) else [None]:
            name = f"{group}.{key}" if key else group
            assert len(option_line(text, f"{name}=").split()) >= 2, name  # a meaning beside it
    for preset in ("experiment=seed_notebook", "debug=smoke", "hparams_search=optuna"):
        option_line(text, preset)
    assert "base_" not in text  # the schemas are no choices


@pytest.mark.parametrize("command", ["evaluate", "plot", "inspect"])
def test_other_commands_list_their_own_options_only(command):
    text = render(command)
    options = OmegaConf.load(CONF_DIR / f"{command}.yaml")
    for key in options:
        if key not in ("defaults", "hydra"):
            assert len(option_line(text, f"{key}=").split()) >= 2, key
    for training in ("agent.", "env.", "experiment=", "train.", "base_"):
        assert training not in text


def test_a_bare_path_gets_the_option_to_type(tmp_path):
    run = make_run(tmp_path / "run")
    model = run / "final_model.pt"

    def message(command, *argv):
        with pytest.raises(ConfigError) as err:
            check_arguments(command, list(argv))
        return str(err.value)

    assert message("evaluate", str(run), "episodes=5") == (
        f"{run} is not an option: to use that run, type python -m lunar_dqn.evaluate "
        f"run_dir={run}")
    assert message("evaluate", str(model)) == (
        f"{model} is not an option: to evaluate that model file, type python -m "
        f"lunar_dqn.evaluate checkpoint={model}")
    assert message("plot", str(run)).endswith(f"type python -m lunar_dqn.plot run_dir={run}")
    assert message("train", str(run)).endswith(f"type python -m lunar_dqn.train resume={run}")
    assert message("evaluate", "typo") == (
        "typo is not an option: options are KEY=VALUE (e.g. python -m lunar_dqn.evaluate "
        "run_dir=DIR); python -m lunar_dqn.evaluate --help lists them")
    # flags, their values, deletions and overrides pass
    check_arguments("train", ["-m", "--cfg", "job", "-cd", "my_conf", "--info", "config",
                              "~agent.max_grad_norm", "seed=1,2", "+env.kwargs.gravity=-5"])


def test_a_launcher_or_sweeper_without_its_plugin_says_which_extra_to_install(monkeypatch):
    for override in ("hydra/launcher=joblib", "hydra/launcher=slurm",
                     "hydra/launcher=submitit_local", "hparams_search=optuna"):
        check_arguments("train", ["-m", override])  # installed here (the dev extra)
    monkeypatch.setattr(arguments, "_installed", lambda module: "joblib" not in module)
    with pytest.raises(ConfigError) as err:
        check_arguments("train", ["-m", "hydra/launcher=joblib", "seed=0,1"])
    assert str(err.value) == ("hydra/launcher=joblib needs the sweep plugins, which are not "
                              'installed: pip install "lunar_dqn[sweeps]"')
    check_arguments("train", ["-m", "hparams_search=optuna"])


# A joblib launcher that cannot be imported, as where the sweeps extra is not installed.
WITHOUT_JOBLIB_PLUGIN = """
import importlib.abc, sys
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith("hydra_plugins.hydra_joblib_launcher"):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Missing())
sys.argv = ["lunar-dqn-train", "-m", "hydra/launcher=joblib", "seed=0,1"]
from lunar_dqn.train import cli
cli()
"""


@pytest.mark.slow
def test_commands_help_and_mistakes_from_the_command_line(tmp_path):
    result = run_module("lunar_dqn.train", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "agent.tau=5.0e-3" in result.stdout
    result = run_module("lunar_dqn.evaluate", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "seed_base=1000000" in result.stdout
    assert "agent." not in result.stdout
    result = run_module("lunar_dqn.train", "--hydra-help", cwd=tmp_path)
    assert result.returncode == 0 and "Hydra (" in result.stdout  # Hydra's own help
    run = make_run(tmp_path / "run")
    result = run_module("lunar_dqn.evaluate", str(run), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {run} is not an option: to use that run, type python -m lunar_dqn.evaluate "
        f"run_dir={run}"]
    assert not (tmp_path / "outputs").exists()
    result = subprocess.run([sys.executable, "-c", WITHOUT_JOBLIB_PLUGIN], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        'error: hydra/launcher=joblib needs the sweep plugins, which are not installed: '
        'pip install "lunar_dqn[sweeps]"']


def console_script(command: str, *argv: str, cwd) -> subprocess.CompletedProcess:
    """What `lunar-dqn-COMMAND ARGV` runs once installed: the module's entry point, imported."""
    entry = "main" if command == "report" else "cli"
    code = (f"import sys; sys.argv = ['lunar-dqn-{command}', *{list(argv)!r}]; "
            f"from lunar_dqn.{command} import {entry}; {entry}()")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.slow
def test_the_console_scripts_run_from_another_folder(tmp_path):
    trained = console_script("train", "debug=smoke", "hydra.run.dir=run", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    evaluated = console_script("evaluate", "run_dir=run", "episodes=2", "num_envs=2",
                               "hydra.run.dir=evaluation", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert (tmp_path / "evaluation" / "evaluation.json").is_file()
    plotted = console_script("plot", "run_dir=run", "out=curve.png", cwd=tmp_path)
    assert plotted.returncode == 0 and (tmp_path / "curve.png").is_file(), plotted.stderr
    inspected = console_script("inspect", "action=2", cwd=tmp_path)
    assert inspected.returncode == 0 and "Fire main engine" in inspected.stdout
    reported = console_script("report", "run", cwd=tmp_path)
    assert reported.returncode == 0 and "debug=smoke" in reported.stdout, reported.stderr
    mistake = console_script("train", "agent.tau=5", cwd=tmp_path)
    assert mistake.returncode == 2
    assert mistake.stderr.strip().splitlines() == [
        "error: agent.tau=5.0 is invalid: must be in (0, 1]"]
