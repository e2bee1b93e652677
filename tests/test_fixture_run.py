"""A run directory written by an earlier version (commit e5ed9db: `python -m lunar_dqn.train
debug=smoke buffer.capacity=500 train.max_env_steps=600`) still resumes and evaluates, with the
figures that version gave. `expected/` holds what that version wrote when it resumed the run to
1200 env steps (`train.max_episodes=1000`) and evaluated it on 5 episodes with 2 envs.
(`.hydra/hydra.yaml`, which names the folders it ran in and which nothing reads, was left out.)"""

import json
import shutil
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from conftest import compose_config
from lunar_dqn.play.evaluation import evaluate
from lunar_dqn.run.checkpoint import load_checkpoint, load_model
from lunar_dqn.run.resume import resume_config
from lunar_dqn.train import train

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "e5ed9db"
# the run's own command again (its agent.backward, manual, was the default then), a larger budget
RESUME_OVERRIDES = ["debug=smoke", "buffer.capacity=500", "train.max_env_steps=1200",
                    "train.max_episodes=1000"]
NEW_SUMMARY_KEYS = ["solved_wall_time_s", "model", "model_eval_env_steps", "model_eval_points",
                    "model_eval_landed", "model_passes", "evaluations", "eval_time_s"]


@pytest.fixture
def old_run(tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(FIXTURE / "run", run)
    return run


def test_an_older_run_resumes_exactly_as_its_own_version_did(old_run):
    current = compose_config(f"resume={old_run}", *RESUME_OVERRIDES)
    cfg = resume_config(old_run, [f"resume={old_run}", *RESUME_OVERRIDES], current)
    assert cfg.agent.backward == "manual" and cfg.train.max_env_steps == 1200
    summary = train(cfg, old_run, resume=True)
    assert summary["env_steps"] == 1200 and summary["episodes"] == 12
    # keys the older version lacked take what the command sets (debug=smoke's evaluation)
    assert (cfg.eval.every_env_steps, summary["evaluations"]) == (500, 1)  # at 1000
    expected = FIXTURE / "expected"
    assert (old_run / "history.csv").read_text() == (expected / "resumed_history.csv").read_text()
    got = load_model(old_run / "final_model.pt")[0].state_dict()
    want = load_model(expected / "resumed_final_model.pt")[0].state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in got)


def shape(value):
    """A file's structure: keys, and each leaf's kind (a tensor's dtype and rank)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, len(value)]
    if isinstance(value, torch.Tensor):
        return ["tensor", str(value.dtype), value.dim()]
    return type(value).__name__


def test_the_files_written_today_have_the_formats_of_the_older_version(old_run):
    before = {name: (old_run / name).read_bytes() for name in ("summary.json", "history.csv")}
    old_checkpoint = load_checkpoint(old_run / "checkpoint.pt")
    old_model = torch.load(old_run / "final_model.pt", weights_only=True)
    train(resume_config(old_run, [f"resume={old_run}", *RESUME_OVERRIDES],
                        compose_config(f"resume={old_run}", *RESUME_OVERRIDES)),
          old_run, resume=True)
    new_checkpoint = shape(load_checkpoint(old_run / "checkpoint.pt"))
    # what this version adds: the evaluation during training's state, the loop's time to solve
    assert set(new_checkpoint.pop("evaluation")) == {
        "next_env_steps", "env_steps", "points", "steps", "seconds", "best", "best_weights"}
    assert new_checkpoint["counters"].pop("solved_wall_time") == "NoneType"  # solved before
    assert new_checkpoint == shape(old_checkpoint)
    new_model = shape(torch.load(old_run / "final_model.pt", weights_only=True))
    assert (new_model.pop("layer_norm"), new_model.pop("dueling")) == ("bool", "bool")
    assert new_model == shape(old_model)
    old_summary = json.loads(before["summary.json"])
    new_summary = json.loads((old_run / "summary.json").read_text())
    # the same keys in the same order, then the budget the last session ran with, the
    # handed-over model's figures and the evaluations'
    assert list(new_summary) == [*old_summary, "max_env_steps", "max_episodes", *NEW_SUMMARY_KEYS]
    assert (new_summary["max_env_steps"], new_summary["max_episodes"]) == (1200, 1000)
    assert (new_summary["episodes"], new_summary["env_steps"]) == (12, 1200)
    assert new_summary["solved_env_steps"] == old_summary["solved_env_steps"] == 538
    header = before["history.csv"].decode().splitlines()[0]
    assert (old_run / "history.csv").read_text().splitlines()[0] == header


def test_an_older_run_evaluates_as_its_own_version_did(old_run, tmp_path):
    options = OmegaConf.merge(compose_config(config_name="evaluate"),
                              {"run_dir": str(old_run), "episodes": 5, "num_envs": 2})
    results = evaluate(options, tmp_path / "eval")
    expected = json.loads((FIXTURE / "expected" / "evaluation.json").read_text())
    assert results["points"] == expected["points"]
    assert results["model"] == str(old_run / "lunar_lander_model.pt")
