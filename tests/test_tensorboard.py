"""TensorBoard as the field uses it: episode points against env steps beside the lab's
per-episode curves, the HParams entry from the start of a run, and greedy episodes filmed while
it learns."""

import csv
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, compose_config
from lunar_dqn.run.logger import (
    AVERAGE_POINTS,
    AVERAGE_RETURN,
    EPISODE_POINTS,
    EPISODIC_RETURN,
    GREEDY_EPISODE_TAG,
)
from lunar_dqn.run.rundir import CHECKPOINT, SUMMARY_FIGURES
from lunar_dqn.run.trainer import Trainer
from lunar_dqn.train import train
from tbutil import hparams_entries, hparams_metrics, images, scalars

SMOKE = ("debug=smoke", "train.max_episodes=1000", "train.solve_score=1000")


def history_rows(run_dir):
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def test_episode_points_are_logged_against_env_steps_and_against_the_episode(tmp_path):
    train(compose_config(*SMOKE, "train.max_env_steps=1200"), tmp_path)
    rows = history_rows(tmp_path)
    tags = scalars(tmp_path)
    by_steps = [(int(r["env_steps"]), float(r["points"])) for r in rows]
    assert [s for s, _ in tags[EPISODIC_RETURN]] == [s for s, _ in by_steps]
    assert [v for _, v in tags[EPISODIC_RETURN]] == pytest.approx([p for _, p in by_steps])
    assert [v for _, v in tags[AVERAGE_RETURN]] == pytest.approx(
        [float(r["average"]) for r in rows])
    assert [s for s, _ in tags[EPISODE_POINTS]] == list(range(1, len(rows) + 1))
    assert [s for s, _ in tags[AVERAGE_POINTS]] == list(range(1, len(rows) + 1))
    # each group keeps one x-axis: episodes/ counts episodes, charts/, losses/, eval/ env steps
    assert {tag.split("/")[0] for tag in tags} == {"charts", "losses", "eval", "episodes", "final"}
    assert all(tag in (EPISODE_POINTS, AVERAGE_POINTS) for tag in tags if tag.startswith("epi"))


def test_the_hparams_entry_is_written_when_the_run_starts(tmp_path):
    trainer = Trainer(compose_config(*SMOKE, "agent.tau=0.001"), tmp_path)
    try:
        entries = hparams_entries(tmp_path)
        metrics = hparams_metrics(tmp_path)
    finally:
        trainer.close()
    assert len(entries) == 1
    assert entries[0]["agent.tau"] == pytest.approx(0.001)
    assert entries[0]["train.max_env_steps"] == 3000
    assert entries[0]["agent.hidden_sizes"] == "[16, 16]"  # lists as their text
    assert metrics == [f"final/{name}" for name in SUMMARY_FIGURES]
    assert not any(tag.startswith("final/") for tag in scalars(tmp_path))


def test_a_resumed_run_has_one_hparams_entry_with_its_new_budget_and_its_final_figures(tmp_path):
    gifs = "logger.gif_every_steps=400"
    train(compose_config(*SMOKE, "train.max_env_steps=1000", gifs), tmp_path)
    train(compose_config(*SMOKE, "train.max_env_steps=2000", gifs), tmp_path, resume=True)
    entries = hparams_entries(tmp_path)
    assert [entry["train.max_env_steps"] for entry in entries] == [2000]
    tags = scalars(tmp_path)
    finals = {tag: values for tag, values in tags.items() if tag.startswith("final/")}
    assert all(len(values) == 1 for values in finals.values())  # the last session's only
    assert finals["final/env_steps"][0][1] == 2000
    assert finals["final/episodes"][0][1] == len(history_rows(tmp_path))
    # greedy episodes filmed before the checkpoint are kept, the rest filmed again, once each
    assert [step for step, _ in images(tmp_path, GREEDY_EPISODE_TAG)] == [400, 800, 1200, 1600,
                                                                           2000]


def test_filming_greedy_episodes_while_training_leaves_the_run_unchanged(tmp_path):
    run = (*SMOKE, "train.max_env_steps=1200", "logger.tensorboard=true")
    filmed = train(compose_config(*run, "logger.gif_every_steps=300"), tmp_path / "filmed")
    plain = train(compose_config(*run), tmp_path / "plain")
    assert history_rows(tmp_path / "filmed") == history_rows(tmp_path / "plain")
    assert filmed["gradient_steps"] == plain["gradient_steps"]
    found = images(tmp_path / "filmed", GREEDY_EPISODE_TAG)
    assert [step for step, _ in found] == [300, 600, 900, 1200]
    assert all((image.width, image.height) == (150, 100) for _, image in found)
    assert images(tmp_path / "plain", GREEDY_EPISODE_TAG) == []


@pytest.mark.slow
def test_a_run_stopped_by_sigint_has_its_hparams_entry(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lunar_dqn.train", *SMOKE, "train.max_env_steps=20000",
         "train.checkpoint_every=500", f"hydra.run.dir={run}"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while proc.poll() is None and not (run / CHECKPOINT).exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 128 + signal.SIGINT, proc.stdout.read()
    entries = hparams_entries(run)
    assert [entry["train.max_env_steps"] for entry in entries] == [20000]
    assert hparams_metrics(run) == [f"final/{name}" for name in SUMMARY_FIGURES]
