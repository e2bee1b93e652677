"""The evaluation during training: its seeds and schedule, the best model it keeps, the model a run
hands over, the polish, and exact resume with evaluation on."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from conftest import compose_config, env_config
from lunar_dqn.config import EvalConfig
from lunar_dqn.errors import CheckpointError, ConfigError
from lunar_dqn.play.evaluation import choose_subject
from lunar_dqn.play.greedy import EVAL_SEED_BASE
from lunar_dqn.play.video import play_greedy
from lunar_dqn.run.checkpoint import load_checkpoint, load_model
from lunar_dqn.run.envs import make_env
from lunar_dqn.run.evaluator import BestModel, Evaluation, Evaluator
from lunar_dqn.run.logger import EVAL_LANDED, EVAL_POINTS
from lunar_dqn.run.rundir import (
    BEST_MODEL,
    CHECKPOINT,
    EVALUATIONS,
    FINAL_MODEL,
    SOLVED_MODEL,
    find_model,
    handed_over,
)
from lunar_dqn.run.trainer import Trainer
from lunar_dqn.seeds import TEST_SEED_BASE, VALIDATION_SEED_BASE, validation_seeds
from lunar_dqn.sweep.objective import objective
from lunar_dqn.train import train
from lunar_dqn.validation import validate
from runutil import tiny_network
from tbutil import scalars

SMOKE = ("debug=smoke", "train.max_episodes=1000", "train.solve_score=1000")
SHORT = env_config(max_episode_steps=60, num_envs=1)


def evaluations(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / EVALUATIONS, newline="") as f:
        return list(csv.DictReader(f))


def history_points(run_dir: Path) -> list[str]:
    with open(run_dir / "history.csv", newline="") as f:
        return [row["points"] for row in csv.DictReader(f)]


def same_weights(a: Path, b: Path) -> bool:
    x, y = load_model(a)[0].state_dict(), load_model(b)[0].state_dict()
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


# -- seeds ------------------------------------------------------------------------------------


def test_validation_seeds_are_apart_from_evaluates_and_from_training():
    assert validation_seeds(3) == [900_000, 900_001, 900_002]
    assert (VALIDATION_SEED_BASE, TEST_SEED_BASE) == (900_000, EVAL_SEED_BASE) == (900_000,
                                                                                  1_000_000)
    validate(compose_config("eval.episodes=100000"))  # up to 999 999: never evaluate's
    for seed in (0, 899_992, 900_010):  # training seeds seed..seed+7 against 900 000..900 009
        validate(compose_config(f"seed={seed}"))


@pytest.mark.parametrize(("override", "message"), [
    ("seed=899993", "seed=899993 is invalid: training's reset seeds (seed + i, i < env.num_envs) "
                    "would overlap the evaluation's, 900000-900009"),
    ("seed=900009", "seed=900009 is invalid"),
    ("eval.episodes=0", "eval.episodes=0 is invalid: must be in [1, 100000]"),
    ("eval.episodes=100001", "eval.episodes=100001 is invalid"),
    ("eval.every_env_steps=0", "eval.every_env_steps=0 is invalid: must be >= 1 or null"),
    ("train.polish_env_steps=-1", "train.polish_env_steps=-1 is invalid: must be >= 0"),
])
def test_evaluation_options_out_of_range_name_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        validate(compose_config(override))
    assert str(err.value).startswith(message)


def test_a_polish_without_evaluation_is_refused_and_no_evaluation_frees_the_seeds():
    with pytest.raises(ConfigError, match=r"train.polish_env_steps=1000 is invalid: needs "
                                          r"evaluations \(eval.every_env_steps\)"):
        validate(compose_config("train.polish_env_steps=1000", "eval.every_env_steps=null"))
    validate(compose_config("train.polish_env_steps=1000", "eval.every_env_steps=null",
                            "train.stop_when_solved=false"))  # no solve to polish after
    validate(compose_config("seed=900000", "eval.every_env_steps=null",
                            "train.polish_env_steps=0"))


def test_evaluation_plays_each_episode_on_its_validation_seed():
    network = tiny_network([8])
    evaluator = Evaluator(EvalConfig(every_env_steps=10, episodes=3), SHORT)
    try:
        evaluation, best = evaluator.evaluate(network, env_steps=10)
    finally:
        evaluator.close()
    env = make_env(SHORT)
    try:
        alone = [play_greedy(network, env, seed) for seed in (900_000, 900_001, 900_002)]
    finally:
        env.close()
    assert evaluation.points == [e.points for e in alone]
    assert evaluation.steps == [e.steps for e in alone]
    assert best and evaluation.env_steps == 10


# -- the schedule and the best model ----------------------------------------------------------


def test_the_schedule_is_every_period_the_solve_and_the_polish_end_once_each():
    evaluator = Evaluator(EvalConfig(every_env_steps=500, episodes=1), SHORT)
    network = tiny_network([8])
    try:
        for env_steps in range(8, 2001, 8):  # 8 envs; solved at 536, polished 800 env steps
            if evaluator.due(env_steps, env_steps == 536, env_steps == 1336):
                evaluator.evaluate(network, env_steps)
            assert not evaluator.due(env_steps, env_steps == 536, env_steps == 1336)
    finally:
        evaluator.close()
    assert [e.env_steps for e in evaluator.evaluations] == [504, 536, 1000, 1336, 1504, 2000]
    assert evaluator.next_env_steps == 2500
    off = Evaluator(EvalConfig(every_env_steps=None, episodes=1), SHORT)
    assert off.envs == [] and not off.due(500, True, True)


def test_the_best_model_is_the_highest_mean_and_an_equal_one_keeps_the_earlier():
    best = BestModel()
    networks = [tiny_network([4], seed=k) for k in range(6)]
    offers = [best.offer(Evaluation(1000 * k, points, [1] * len(points), 0.0), networks[k])
              for k, points in enumerate([[10.0], [20.0, 40.0], [25.0], [30.0], [45.0], [-5.0]])]
    assert offers == [True, True, False, False, True, False]
    assert best.evaluation.env_steps == 4000 and best.evaluation.mean == 45.0
    kept = networks[4].state_dict()
    assert all(torch.equal(best.weights[k], kept[k]) for k in kept)
    with torch.no_grad():  # a copy: training the network on does not change the best
        networks[4][0].weight.add_(1.0)
    assert not torch.equal(best.weights["0.weight"], networks[4][0].weight)


def test_landed_counts_episodes_of_200_points_or_more():
    assert Evaluation(0, [199.9, 200.0, 250.0, -10.0], [1] * 4, 0.0).landed == 0.5


# -- in a run ---------------------------------------------------------------------------------


def test_a_run_evaluates_on_schedule_logs_it_and_hands_over_the_best(tmp_path, caplog):
    run = tmp_path / "run"
    caplog.set_level(logging.INFO, logger="lunar_dqn")
    summary = train(compose_config("debug=smoke", "train.stop_when_solved=true",
                                   "train.max_episodes=1000", "train.polish_env_steps=1000",
                                   "eval.every_env_steps=300", "agent.dueling=false"), run)
    solved = summary["solved_env_steps"]
    assert solved == 538 and summary["env_steps"] == solved + 1000  # 2 envs: exact
    assert ("polishing: 1000 env steps more, the best evaluated network handed over "
            "(train.polish_env_steps=0 stops here)") in caplog.messages
    rows = evaluations(run)
    expected = sorted({*range(300, solved + 1001, 300), solved, solved + 1000})
    assert [int(r["env_steps"]) for r in rows] == expected
    tags = scalars(run)
    assert [s for s, _ in tags[EVAL_POINTS]] == [s for s, _ in tags[EVAL_LANDED]] == expected
    assert [round(v, 2) for _, v in tags[EVAL_POINTS]] == [
        round(float(r["mean_points"]), 2) for r in rows]
    best = max(rows, key=lambda r: float(r["mean_points"]))  # the first of equals
    assert summary["model"] == BEST_MODEL and find_model(run) == run / BEST_MODEL
    assert summary["model_eval_env_steps"] == int(best["env_steps"])
    assert summary["model_eval_points"] == float(best["mean_points"])
    assert summary["model_eval_landed"] == float(best["landed_share"])
    assert summary["model_passes"] is True  # smoke's bar is -1000
    assert summary["evaluations"] == len(rows) and summary["eval_time_s"] > 0
    assert 0 < summary["solved_wall_time_s"] <= summary["wall_time_s"]
    # the best file is the network of that evaluation: replayed, it scores the same
    env = make_env(env_config())
    try:
        replayed = [play_greedy(load_model(run / BEST_MODEL)[0], env, s).points
                    for s in validation_seeds(2)]
    finally:
        env.close()
    assert round(sum(replayed) / 2, 3) == float(best["mean_points"])


def test_evaluation_changes_nothing_in_the_training(tmp_path):
    on = train(compose_config(*SMOKE, "train.max_env_steps=1500"), tmp_path / "on")
    off = train(compose_config(*SMOKE, "train.max_env_steps=1500", "eval.every_env_steps=null"),
                tmp_path / "off")
    assert history_points(tmp_path / "on") == history_points(tmp_path / "off")
    assert on["evaluations"] == 3 and off["evaluations"] == 0
    assert same_weights(tmp_path / "on" / FINAL_MODEL, tmp_path / "off" / FINAL_MODEL)
    assert not (tmp_path / "off" / EVALUATIONS).exists()
    assert off["model"] == FINAL_MODEL and off["model_eval_points"] is off["model_passes"] is None


def test_without_a_polish_the_run_stops_at_the_solve_evaluated(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="lunar_dqn")
    summary = train(compose_config("debug=smoke", "train.stop_when_solved=true",
                                   "logger.tensorboard=false", "agent.dueling=false"), tmp_path)
    assert summary["env_steps"] == summary["solved_env_steps"] == 538
    assert not any(m.startswith("polishing") for m in caplog.messages)
    assert [int(r["env_steps"]) for r in evaluations(tmp_path)] == [500, 538]


def test_a_run_that_solves_with_a_model_below_the_bar_is_penalised(tmp_path):
    # training's epsilon-greedy episodes average above -300; the greedy network crashes below it
    summary = train(compose_config("debug=smoke", "train.solve_score=-300",
                                   "train.stop_when_solved=true", "logger.tensorboard=false"),
                    tmp_path)
    assert summary["solved"] and summary["model_passes"] is False
    assert summary["model_eval_points"] < -300
    assert objective(summary, 3000) == summary["solved_env_steps"] + 3000


# -- the handed-over file ----------------------------------------------------------------------


@pytest.mark.parametrize(("files", "chosen"), [
    ((BEST_MODEL, SOLVED_MODEL, FINAL_MODEL), BEST_MODEL),
    ((BEST_MODEL, FINAL_MODEL), BEST_MODEL),
    ((SOLVED_MODEL, FINAL_MODEL), SOLVED_MODEL),
    ((FINAL_MODEL,), FINAL_MODEL),
    ((), None),
])
def test_the_handed_over_model_is_the_best_else_the_solved_else_the_final(tmp_path, files,
                                                                          chosen):
    for name in files:
        (tmp_path / name).write_bytes(b"")
    assert handed_over(tmp_path) == (None if chosen is None else tmp_path / chosen)
    if chosen is None:
        with pytest.raises(CheckpointError, match=f"has no model file \\({BEST_MODEL}, "):
            find_model(tmp_path)


def test_evaluate_says_it_plays_the_best_evaluated_network(tmp_path):
    train(compose_config("debug=smoke", "train.max_env_steps=600", "logger.tensorboard=false"),
          tmp_path)  # a full run directory, its config in .hydra/
    subject = choose_subject(str(tmp_path), None)
    assert subject.model == tmp_path / BEST_MODEL
    assert subject.note == "the best network of the evaluations during training"


# -- resume -----------------------------------------------------------------------------------


def test_resume_keeps_the_evaluations_and_the_best_model_exactly(tmp_path):
    full = compose_config(*SMOKE, "train.max_env_steps=3000", "train.checkpoint_every=700")
    train(full, tmp_path / "full")
    # killed after its checkpoint at 1400 env steps: what it wrote since is redone on resume
    split = tmp_path / "split"
    trainer = Trainer(full, split)
    try:
        trainer.train(env_steps=2000)
    finally:
        trainer.close()
    state = load_checkpoint(split / CHECKPOINT)
    assert state["counters"]["env_steps"] == 1400 and len(state["evaluation"]["points"]) == 2
    assert state["evaluation"]["next_env_steps"] == 1500
    trainer = Trainer(full, split, resume=True)  # best_model.pt put back to the checkpoint's
    try:
        kept = state["evaluation"]["best_weights"]
        saved = torch.load(split / BEST_MODEL, weights_only=True)["state_dict"]
        assert all(torch.equal(saved[k], kept[k]) for k in kept)
        summary = trainer.run()
    finally:
        trainer.close()
    def without_seconds(run_dir: Path) -> list[dict[str, str]]:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in evaluations(run_dir)]

    assert without_seconds(split) == without_seconds(tmp_path / "full")
    assert len(evaluations(split)) == 6
    assert same_weights(split / BEST_MODEL, tmp_path / "full" / BEST_MODEL)
    full_summary = json.loads((tmp_path / "full" / "summary.json").read_text())
    for key in ("model_eval_env_steps", "model_eval_points", "evaluations", "env_steps"):
        assert summary[key] == full_summary[key]
    assert [s for s, _ in scalars(split)[EVAL_POINTS]] == [
        int(r["env_steps"]) for r in evaluations(split)]  # each evaluation once


def test_a_checkpoint_from_before_the_evaluation_resumes_with_the_next_period(tmp_path):
    run = tmp_path / "run"
    train(compose_config(*SMOKE, "train.max_env_steps=700", "logger.tensorboard=false",
                         "eval.every_env_steps=null"), run)
    state = load_checkpoint(run / CHECKPOINT)
    del state["evaluation"], state["counters"]["solved_wall_time"]
    config = OmegaConf.create(state["config"])  # nor did its config have an eval group
    del config["eval"], config["train"]["polish_env_steps"]
    state["config"] = OmegaConf.to_yaml(config)
    torch.save(state, run / CHECKPOINT)
    summary = train(compose_config(*SMOKE, "train.max_env_steps=1600",
                                   "logger.tensorboard=false"), run, resume=True)
    assert [int(r["env_steps"]) for r in evaluations(run)] == [1000, 1500]
    assert summary["solved_wall_time_s"] is None and summary["model"] == BEST_MODEL
