"""The benchmark scripts' own logic: seed lists, medians of unfinished runs, tables, the window
arithmetic of the throughput benchmark, and end-to-end runs of the scripts on tiny configs."""

import cProfile
import json
import pstats
import sys
from argparse import ArgumentTypeError
from pathlib import Path

import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser

from benchmarks import (
    eval_choices,
    learn_step,
    profile_loop,
    side_by_side,
    throughput,
    time_to_solve,
)
from benchmarks.anchor.runner import run_seed
from benchmarks.harness import (
    Table,
    compose_checked,
    hydra_value,
    machine_line,
    parse_seeds,
    run_overrides,
    window,
)
from conftest import REPO, run_module
from lunar_dqn.config import compose_config
from lunar_dqn.errors import ConfigError
from lunar_dqn.run.trainer import Trainer
from lunar_dqn.sweep.runs import Run
from lunar_dqn.sweep.seeds import aggregate, seed_row
from lunar_dqn.sweep.stats import Median, censored_median

# -- harness ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, seeds", [
    ("0-9", list(range(10))), ("0,2,5", [0, 2, 5]), ("3", [3]), ("0-2,7", [0, 1, 2, 7]),
    (" 4 , 6-7", [4, 6, 7]), ("5-5", [5]),
])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "5-3", "1,1", "0-2,2", "-1", "0-", "1;2", "0,,1"])
def test_parse_seeds_rejects(text):
    with pytest.raises(ArgumentTypeError):
        parse_seeds(text)


def test_median_of_finished_runs_is_exact():
    assert censored_median([3, 1, 2], [True] * 3) == Median(2, lower_bound=False)
    assert censored_median([4, 1, 2, 3], [True] * 4) == Median(2.5, lower_bound=False)


def test_median_ignores_unfinished_runs_above_it():
    # the unfinished run would stay above the median whatever its true value
    assert censored_median([1, 2, 10], [True, True, False]) == Median(2, lower_bound=False)
    assert censored_median([1, 2, 3, 10], [True, True, True, False]) == Median(2.5, False)


def test_median_is_a_lower_bound_when_an_unfinished_run_can_raise_it():
    assert censored_median([1, 3, 5], [True, False, True]) == Median(3, lower_bound=True)
    assert censored_median([1, 2, 3, 10], [True, True, False, True]) == Median(2.5, True)
    assert Median(3, True).format(".1f") == ">=3.0" and Median(3, False).format(".0f") == "3"


def test_table_rows_line_up_with_the_header():
    table = Table([("seed", 3), ("a long name", 2), ("x", 6)])
    header, rule = table.header().splitlines()
    row = table.row(["7", "yes", "12.5"])
    assert header == "seed  a long name       x"
    assert len(row) == len(header) == len(rule) and set(rule) == {"-"}
    assert row.split() == ["7", "yes", "12.5"] and row.endswith("  12.5")


def test_the_machine_line_carries_the_calibration_when_measured():
    info = {"cpu": "CPU", "cores": 2, "torch": "2", "torch_threads": 1, "device": "cpu",
            "gpu": None}
    assert machine_line(info) == "machine: CPU, 2 cores, torch 2, 1 torch thread(s), device cpu"
    assert machine_line({**info, "calibration_env_steps_per_s": 31250}) == (
        "machine: CPU, 2 cores, torch 2, 1 torch thread(s), device cpu; calibration: 31250 "
        "LunarLander steps/s (one env, random actions)")
    assert machine_line({**info, "load_average": [1.2, 0.5, 2.0]}) == (
        "machine: CPU, 2 cores, torch 2, 1 torch thread(s), device cpu; load average 1.2, 0.5, "
        "2.0 (1, 5, 15 min)")


def test_the_anchor_runs_as_a_module_with_its_own_requirements():
    result = run_module("benchmarks.anchor", "--help", cwd=REPO)
    assert result.returncode == 0 and "--budget" in result.stdout
    requirements = (REPO / "benchmarks" / "anchor" / "requirements.txt").read_text()
    assert "stable-baselines3" in requirements.split()


def test_compose_config_applies_presets_then_overrides():
    cfg = compose_config("experiment=seed_notebook", "env.num_envs=4", "seed=7")
    assert cfg.env.num_envs == 4 and cfg.seed == 7 and cfg.agent.gamma == 0.995


def test_compose_checked_ends_with_one_line_on_a_bad_key(capsys):
    with pytest.raises(SystemExit) as exit_info:
        compose_checked("agent.taux=1")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Could not override 'agent.taux'") and err.count("\n") == 1


def test_compose_checked_validates_ranges():
    with pytest.raises(ConfigError, match=r"agent\.tau=5\.0 is invalid"):
        compose_checked("agent.tau=5")


# -- time to solve --------------------------------------------------------------------------------


def row(seed, solved, episodes, env_steps, wall, sps=1000.0, mean=250.0, landed=95.0,
        eval_s=None, polish_s=None):
    return {"seed": seed, "status": "solved" if solved else "budget", "solved": solved,
            "episodes": episodes, "env_steps": env_steps,
            "wall_s": wall, "env_steps_per_s": sps, "eval_mean": mean, "landed_pct": landed,
            "eval_s": eval_s, "polish_s": polish_s}


def test_cli_passes_overrides_through_and_puts_its_own_last():
    args = time_to_solve.parse_args(["--seeds", "0,2", "--", "experiment=seed_notebook",
                                     "agent.tau=0.005"])
    assert args.seeds == [0, 2] and args.eval_episodes == 100
    assert run_overrides(args.overrides, 2) == [
        "experiment=seed_notebook", "agent.tau=0.005", "train.stop_when_solved=true",
        "logger.progress_bar=false", "logger.video=false", "seed=2"]


@pytest.mark.parametrize("folder", ["out/s_agent.lr=1e-3,x y/seed0", "out/it's/seed1"])
def test_run_folders_with_hydra_grammar_characters_stay_one_value(folder):
    override = OverridesParser.create().parse_override(
        hydra_value("hydra.run.dir", Path(folder)))
    assert override.key_or_group == "hydra.run.dir" and override.value() == folder


@pytest.mark.parametrize("override", ["seed=3", "hydra.run.dir=x", "+seed=1"])
def test_cli_refuses_keys_the_benchmark_sets(override, capsys):
    with pytest.raises(SystemExit) as exit_info:
        time_to_solve.parse_args(["--seeds", "0", "--", override])
    assert exit_info.value.code == 2
    assert "is set by the benchmark" in capsys.readouterr().err


def test_summary_row_uses_the_solve_when_solved_and_the_budget_when_not():
    summary = {"status": "solved", "solved": True, "solved_episode": 300,
               "solved_env_steps": 90_000, "episodes": 330, "env_steps": 120_000,
               "gradient_steps": 22_500, "wall_time_s": 12.0, "solved_wall_time_s": 9.0,
               "eval_time_s": 1.5}
    evaluation = {"episodes": 100, "mean": 260.0, "std": 20.0, "min": 120.0,
                  "landed_share": 0.93}
    solved = seed_row(4, Run(REPO, summary, (), "seed4", evaluation))
    assert (solved["episodes"], solved["env_steps"], solved["wall_s"]) == (300, 90_000, 9.0)
    assert solved["env_steps_per_s"] == 10_000 and solved["landed_pct"] == pytest.approx(93)
    assert (solved["eval_s"], solved["polish_s"]) == (1.5, 3.0)  # polish: after the solve
    unsolved = seed_row(4, Run(REPO, {**summary, "status": "budget", "solved": False,
                                      "solved_episode": None, "solved_env_steps": None,
                                      "solved_wall_time_s": None, "episodes": 900,
                                      "env_steps": 1_000_000}, (), "seed4", evaluation))
    assert (unsolved["episodes"], unsolved["env_steps"], unsolved["wall_s"]) == (
        900, 1_000_000, 12.0)
    assert unsolved["polish_s"] is None
    assert time_to_solve.format_row(solved).split() == [
        "4", "yes", "300", "90000", "9.0", "10000", "260.0", "93", "1.5", "3.0"]
    # a run written before the loop's time to solve was recorded: its wall-clock if it stopped
    older = {k: v for k, v in summary.items() if k not in ("solved_wall_time_s", "eval_time_s")}
    assert seed_row(4, Run(REPO, {**older, "env_steps": 90_000}, (), "s"))["wall_s"] == 12.0


def test_a_diverged_seed_is_a_row_without_greedy_figures():
    summary = {"status": "diverged", "solved": False, "solved_episode": None,
               "solved_env_steps": None, "episodes": 250, "env_steps": 60_000,
               "gradient_steps": 15_000, "wall_time_s": 6.0}
    diverged = seed_row(1, Run(REPO, summary, (), "seed1"))
    assert diverged["eval_mean"] is None and diverged["landed_pct"] is None
    assert time_to_solve.format_row(diverged).split() == [
        "1", "diverged", "250", "60000", "6.0", "10000", "-", "-", "-", "-"]
    agg = aggregate([diverged, row(0, True, 300, 80_000, 8.0, mean=260, landed=95),
                                   row(2, True, 400, 90_000, 9.0, mean=240, landed=91)])
    assert agg["medians"]["eval_mean"] == 250 and agg["worst"]["landed_pct"] == 91
    # the diverged seed counts as unsolved: it sits lowest, so every to-solve median may rise
    assert agg["medians"]["solved"] == 2
    assert agg["lower_bounds"] == ["episodes", "env_steps", "wall_s"]


def test_medians_and_worst_over_seeds():
    rows = [row(0, True, 300, 80_000, 8.0, sps=9000, mean=260, landed=95, eval_s=1.0, polish_s=4),
            row(1, True, 500, 120_000, 14.0, sps=8000, mean=240, landed=90, eval_s=2.0,
                polish_s=6),
            row(2, True, 400, 100_000, 10.0, sps=10000, mean=270, landed=97, eval_s=3.0,
                polish_s=5)]
    agg = aggregate(rows)
    assert agg["medians"] == {"solved": 3, "seeds": 3, "episodes": 400, "env_steps": 100_000,
                              "wall_s": 10.0, "env_steps_per_s": 9000, "eval_mean": 260,
                              "landed_pct": 95, "eval_s": 2.0, "polish_s": 5}
    # the worst costs are the largest
    assert agg["worst"] == {"solved": 3, "seeds": 3, "episodes": 500, "env_steps": 120_000,
                            "wall_s": 14.0, "env_steps_per_s": 8000, "eval_mean": 240,
                            "landed_pct": 90, "eval_s": 3.0, "polish_s": 6}
    assert agg["lower_bounds"] == []
    median, worst = time_to_solve.format_summary_rows(agg)
    assert median.split() == ["median", "3/3", "400", "100000", "10.0", "9000", "260.0", "95",
                              "2.0", "5.0"]
    assert worst.split() == ["worst", "3/3", "500", "120000", "14.0", "8000", "240.0", "90",
                             "3.0", "6.0"]


def test_unsolved_seeds_make_the_to_solve_medians_lower_bounds():
    rows = [row(0, True, 300, 80_000, 8.0), row(1, False, 900, 90_000, 9.0),
            row(2, True, 400, 100_000, 10.0)]
    agg = aggregate(rows)
    # seed 1 stopped unsolved after 900 episodes, above the median: that median stays exact.
    # Its 90 000 env steps and 9 s sit in the middle: solving would have taken more.
    assert agg["lower_bounds"] == ["env_steps", "wall_s"]
    median, worst = time_to_solve.format_summary_rows(agg)
    assert median.split()[:5] == ["median", "2/3", "400", ">=90000", ">=9.0"]
    assert worst.split()[:5] == ["worst", "2/3", ">=900", ">=100000", ">=10.0"]


# -- eval_choices -------------------------------------------------------------------------------


def test_eval_choices_hands_over_what_a_run_with_that_choice_would():
    points = {5000: [10, 0], 8000: [50, 50], 10000: [60, 0], 15000: [30, 30], 20000: [60, 60],
              28000: [90, 90]}  # solved at 8000; 28000 ends a polish of 20 000
    records = [{"env_steps": s, "points": p, "steps": [1, 1]} for s, p in points.items()]
    assert eval_choices.handed_over(records, 8000, None, 0, 0) == (1, [])  # the solved network
    assert eval_choices.handed_over(records, 8000, None, 0, 20000) == (5, [])  # the last
    # every 5000 until the solve, and the solve: 5000 and 8000
    assert eval_choices.handed_over(records, 8000, 5000, 2, 0) == (1, [0, 1])
    # every 10 000, the solve and the polish's end; the first episode's points: the best is last
    assert eval_choices.handed_over(records, 8000, 10000, 1, 20000) == (5, [1, 2, 4, 5])
    # 10 000 and 20 000 tie on one episode: the earlier is kept; on two, 20 000 wins
    assert eval_choices.handed_over(records[:5], 8000, 5000, 1, 12000)[0] == 2
    assert eval_choices.handed_over(records[:5], 8000, 5000, 2, 12000)[0] == 4


@pytest.mark.slow
def test_eval_choices_runs_on_a_tiny_config(tmp_path):
    out = tmp_path / "choices.json"
    result = run_module("benchmarks.eval_choices", "--seeds", "0", "--grid", "200", "--episodes",
                        "2", "--every", "200", "400", "--k", "1", "2", "--polish", "400",
                        "--test-episodes", "2", "--out", str(out), "--", "debug=smoke",
                        "train.max_episodes=100", cwd=REPO)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    labels = [row["choice"] for row in doc["rows"]]
    assert labels[:2] == ["solved (no eval)", "last of P=0.4k (no eval)"]
    assert len(labels) == 2 + 2 * 2 * 2 and "best E=0.4k K=2 P=0.4k" in labels
    (seed,) = doc["seeds"]
    steps = [r["env_steps"] for r in seed["records"]]
    solved = seed["solved_env_steps"]
    assert solved in steps and solved + 400 in steps and steps == sorted(steps)
    assert all(len(r["points"]) == 2 for r in seed["records"])


# -- throughput -----------------------------------------------------------------------------------


@pytest.mark.parametrize("interleave", [False, True])
def test_training_windows_count_env_and_gradient_steps(interleave):
    cfgs = [compose_config("debug=smoke", "env.num_envs=2", "agent.replay_ratio=4",
                           *throughput.NEVER_SOLVE, "logger.tensorboard=false",
                           f"env.vectorization_mode={mode}") for mode in ("sync", "worker")]
    rates = throughput.training_rates(cfgs, steps=200, warmup=100, repeats=2,
                                      interleave=interleave)
    assert [len(r) for r in rates] == [2, 2]
    for env_rate, gradient_rate in rates[0] + rates[1]:
        # 200 env steps in 2 envs after the warm-up: exactly 50 gradient steps per window
        assert env_rate > 0 and env_rate / gradient_rate == pytest.approx(4.0)


def test_a_window_cut_short_is_an_error_not_a_rate(tmp_path):
    # debug=smoke "solves" after 5 episodes; stopping there ends the window early
    cfg = compose_config("debug=smoke", "train.stop_when_solved=true",
                         "logger.tensorboard=false")
    trainer = Trainer(cfg, tmp_path)
    try:
        with pytest.raises(RuntimeError, match=r"stopped \d+ env steps into a window of 50000"):
            window(trainer, 50_000)
    finally:
        trainer.close()


def test_raw_env_rates_give_one_rate_per_window():
    cfg = compose_config("env.num_envs=3")
    rates = throughput.raw_env_rates(cfg.env, steps=90, warmup=30, repeats=2, seed=0)
    assert len(rates) == 2 and all(rate > 0 for rate in rates)


# -- profile ---------------------------------------------------------------------------------------


def _leaf() -> int:
    return sum(range(200_000))  # heavy enough to dwarf the no_grad context itself


@torch.no_grad()
def _first() -> None:
    _leaf()


@torch.no_grad()
def _second() -> None:
    _leaf()
    _leaf()


def _top() -> None:
    _first()
    _second()
    _leaf()


def test_profile_breakdown_adds_up_and_names_what_wrappers_call():
    profiler = cProfile.Profile()
    profiler.runcall(_top)
    stats = pstats.Stats(profiler).stats
    top = next(k for k in stats if k[2] == "_top")
    parts = profile_loop.breakdown(stats, top)
    assert sum(seconds for _, seconds, _ in parts) == pytest.approx(stats[top][3], rel=1e-6)
    names = {name: calls for name, _, calls in parts}
    # one decorate_context serves both no_grad functions: the row names both
    assert names["torch/utils/_contextlib.py:decorate_context -> _first|_second"] == 2
    assert names["tests/test_benchmarks.py:_leaf"] == 1 and "(self)" in names


# -- anchor and side by side ----------------------------------------------------------------------


def test_anchor_run_reads_the_last_stdout_line(tmp_path):
    fake = tmp_path / "anchor.py"
    fake.write_text("import json, sys\nprint('noise')\n"
                    "print(json.dumps({'seed': int(sys.argv[1]), 'budget': int(sys.argv[2])}))\n")
    assert run_seed(Path(sys.executable), fake, 3, 500) == {"seed": 3, "budget": 500}


def test_anchor_failure_stops_with_its_error(tmp_path):
    fake = tmp_path / "anchor.py"
    fake.write_text("raise RuntimeError('no box2d')\n")
    with pytest.raises(SystemExit, match="no box2d"):
        run_seed(Path(sys.executable), fake, 0, 500)


@pytest.mark.parametrize("anchor, ours, text", [
    (Median(200, False), Median(10, False), "20.0x"),
    (Median(200, True), Median(10, False), ">=20.0x"),
    (Median(200, False), Median(10, True), "<=20.0x"),
    (Median(200, True), Median(10, True), "?(20.0x)"),
])
def test_ratio_says_which_way_a_bound_goes(anchor, ours, text):
    assert side_by_side.ratio(anchor, ours) == text


def test_side_by_side_pairs_seeds_and_compares_medians(tmp_path, capsys):
    machine = {"cpu": "CPU", "cores": 2, "torch": "2", "torch_threads": 1, "device": "cpu",
               "gpu": None, "python": "3"}
    ours = {"benchmark": "time_to_solve", "overrides": [], "date": "d", "machine": machine,
            "rows": [row(0, True, 300, 80_000, 8.0), row(1, True, 400, 90_000, 12.0),
                     row(2, True, 500, 95_000, 9.0)]}
    anchor = [{"seed": s, "solved": solved, "steps": steps, "train_wall_s": wall,
               "eval_mean": 190.0, "date": "d", "machine": machine}
              for s, solved, steps, wall in ((0, True, 100_000, 200.0),
                                             (1, False, 500_000, 900.0),
                                             (3, True, 1, 1.0))]
    (tmp_path / "ours.json").write_text(json.dumps(ours))
    (tmp_path / "anchor.jsonl").write_text("".join(json.dumps(a) + "\n" for a in anchor))
    side_by_side.main([str(tmp_path / "ours.json"), str(tmp_path / "anchor.jsonl")])
    out = capsys.readouterr().out
    assert "seeds in only one file, left out: [2, 3]" in out
    lines = out.splitlines()
    seed0 = next(line for line in lines if line.split()[0] == "0")
    assert seed0.split()[-1] == "25.0x"
    median = lines[-1].split()
    # seeds 0 and 1: ours 10 s exact; anchor >= 550 s, since seed 1 did not solve
    assert median[:4] == ["median", "2/2", "85000", "10.0"] and median[-1] == ">=55.0x"
    assert ">=550.0" in median


@pytest.mark.parametrize("device, dueling, speed_ups", [
    ("cpu", False, ["fused vs autograd", "fused vs manual"]),
    ("cuda", False, []),  # no fused learner there: times only, no speed-up columns
    ("cuda", True, []),
])
def test_learn_step_rows_line_up_with_the_header_on_each_device(device, dueling, speed_ups):
    timed = learn_step.learners_for(torch.device(device), dueling)
    assert ("fused" in timed) == (device == "cpu")
    table = learn_step.results_table(timed)
    assert [name for name in table.names if name.startswith("fused vs")] == speed_ups
    median = {name: 100.0 + k for k, name in enumerate(timed)}
    row = table.row(learn_step.row_cells([64, 64], 64, timed, median))
    assert len(row) == len(table.header().splitlines()[0])
    assert row.split()[:2] == ["64-64", "64"] and len(row.split()) == len(table.names)


# -- end to end -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_time_to_solve_trains_evaluates_and_writes_json(tmp_path):
    out = tmp_path / "result.json"
    result = run_module("benchmarks.time_to_solve", "--seeds", "0", "--eval-episodes", "3",
                        "--dir", str(tmp_path / "bench"), "--out", str(out), "--",
                        "debug=smoke", "agent.tau=0.002", cwd=REPO)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["overrides"] == ["debug=smoke", "agent.tau=0.002"] and doc["eval_episodes"] == 3
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["torch_threads"] == 1
    assert doc["config"]["agent"]["tau"] == 0.002
    (r,) = doc["rows"]
    # debug=smoke "solves" once its window of 5 episodes is full; the benchmark stops it there
    assert r["seed"] == 0 and r["solved"] and r["episodes"] == 5 and 0 < r["env_steps"] <= 3000
    assert r["eval_episodes"] == 3 and 0 <= r["landed_pct"] <= 100 and r["wall_s"] > 0
    run_dir = tmp_path / "bench" / "seed0"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["solved_env_steps"] == r["env_steps"] and summary["episodes"] == 5
    assert (run_dir / "lunar_lander_model.pt").is_file()
    # the model the run hands over (the best of its evaluations during training, the last one at
    # the solve), evaluated as `python -m lunar_dqn.evaluate run_dir=...` does it, into the run
    # directory
    evaluations = (run_dir / "evaluations.csv").read_text().splitlines()[1:]
    assert len(evaluations) == summary["evaluations"] >= 1
    assert evaluations[-1].startswith(f"{r['env_steps']},")
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["model"] == str(run_dir / "best_model.pt")
    assert len(evaluation["points"]) == 3 and r["eval_mean"] == evaluation["mean"]
    assert r["eval_s"] == summary["eval_time_s"] > 0 and r["polish_s"] >= 0
    assert doc["machine"]["calibration_env_steps_per_s"] > 0
    assert "; calibration: " in result.stdout
    assert "seed: 0" in (run_dir / ".hydra" / "config.yaml").read_text()
    assert doc["medians"]["env_steps"] == r["env_steps"] and doc["lower_bounds"] == []
    printed = result.stdout.splitlines()
    assert printed[-1] == f"wrote {out}" and printed[-3].split()[:3] == ["median", "1/1", "5"]
    # ordinary run directories: the sweep report reads them
    report = run_module("lunar_dqn.report", str(tmp_path / "bench"), cwd=REPO)
    assert report.returncode == 0, report.stderr
    assert f"| 1 | 1/1 (100%) | {r['env_steps']:,} |" in report.stdout


@pytest.mark.slow
def test_throughput_measures_every_row(tmp_path):
    out = tmp_path / "throughput.json"
    result = run_module("benchmarks.throughput", "--envs", "1", "2", "--steps", "200",
                        "--warmup", "100", "--repeats", "2", "--out", str(out), "--",
                        "debug=smoke", cwd=REPO)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert [(r["num_envs"], r["mode"]) for r in doc["rows"]] == [
        (1, "sync"), (1, "async"), (2, "sync"), (2, "async")]
    for r in doc["rows"]:
        assert len(r["samples"]["env_steps_per_s"]) == 2
        assert r["env_steps_per_s"] / r["gradient_steps_per_s"] == pytest.approx(4.0)
        assert r["raw_env_steps_per_s"] > 0


def test_benchmarks_started_in_the_same_second_get_their_own_folders(tmp_path):
    from benchmarks.harness import new_bench_dir

    first, second = new_bench_dir(tmp_path), new_bench_dir(tmp_path)
    assert first != second and first.is_dir() and second.is_dir()


def test_checkpoint_load_prints_one_row_per_buffer_size():
    result = run_module("benchmarks.checkpoint_load", "--rows", "100", "300", "--repeats", "1",
                        cwd=REPO)
    assert result.returncode == 0, result.stderr
    rows = [line.split()[0] for line in result.stdout.splitlines() if line[:1] == " "]
    assert rows == ["100", "300"]
