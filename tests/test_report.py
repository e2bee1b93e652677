"""The sweep report on hand-written runs whose statistics are known exactly."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import REPO, run_module
from lunar_dqn.report import main
from lunar_dqn.run.history import HISTORY_COLUMNS
from lunar_dqn.sweep.curves import learning_curves
from lunar_dqn.sweep.runs import (
    COMMON_ONLY_LABEL,
    DEFAULTS_SETTING,
    common_overrides,
    find_runs,
    group_by_setting,
    label,
    setting_overrides,
)
from lunar_dqn.sweep.stats import bootstrap_mean_ci, spread
from lunar_dqn.sweep.table import CSV_COLUMNS, summarize

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_run(run_dir: Path, overrides: list[str] | None, solved_env_steps: int | None,
              avg100: float, wall_time_s: float = 99.0, env_steps: int | None = None,
              status: str | None = None, history: list[tuple[int, float]] = (),
              **newer: Any) -> None:
    """A run directory as `lunar_dqn.train` leaves it; a solved run stopped where it solved
    unless `env_steps` says otherwise. `history`: (env steps, average) rows. `newer`: summary
    keys of today's version (the fixture's runs are of the version before them)."""
    run_dir.mkdir(parents=True)
    if overrides is not None:
        (run_dir / ".hydra").mkdir()
        (run_dir / ".hydra" / "overrides.yaml").write_text(
            "".join(f"- {o}\n" for o in overrides) or "[]\n")
    solved = solved_env_steps is not None
    summary: dict[str, Any] = {
        "status": status or ("solved" if solved else "budget"),
        "solved": solved, "solved_episode": 150 if solved else None,
        "solved_env_steps": solved_env_steps, "episodes": 150,
        "env_steps": env_steps or solved_env_steps or 9000, "gradient_steps": 2000,
        "wall_time_s": wall_time_s, "avg100": avg100, "version": "0.1.0", "git_commit": "abc",
        **newer,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    if history:
        with open(run_dir / "history.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(HISTORY_COLUMNS)
            for episode, (steps, average) in enumerate(history, start=1):
                writer.writerow((episode, average, average, steps))


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """Four settings with known numbers (see the expected rows in the tests)."""
    root = tmp_path / "sweep"
    # tau=0.001: 2 of 3 solved, at 1000 and 3000 env steps, in 10 s and 30 s
    write_run(root / "0", ["agent.tau=0.001", "seed=0"], 1000, 210.0, 10.0,
              history=[(100, -100.0), (200, 0.0), (300, 100.0)])
    write_run(root / "1", ["agent.tau=0.001", "seed=1"], 3000, 220.0, 30.0,
              history=[(100, -200.0), (200, -100.0), (300, 0.0), (400, 200.0)])
    write_run(root / "2", ["agent.tau=0.001", "seed=2"], None, 150.0)
    # tau=0.005: 3 of 3, in another override order and with a hydra override (both ignored)
    write_run(root / "3", ["seed=3", "agent.tau=0.005"], 2000, 205.0, 20.0)
    write_run(root / "4", ["agent.tau=0.005", "seed=4"], 4000, 215.0, 50.0)
    write_run(root / "5", ["agent.tau=0.005", "hydra.job.name=x", "+seed=5"], 6000, 230.0, 60.0)
    # the defaults: one solved run; a run without .hydra is a setting of its own
    write_run(root / "6", [], 500, 201.0, 5.0)
    write_run(root / "extra" / "lost", None, None, -50.0)
    return root


def test_setting_is_the_sorted_overrides_without_seed_and_hydra():
    assert setting_overrides(["seed=1", "b=2", "a=1"]) == ("a=1", "b=2")
    assert setting_overrides(
        ["+seed=1", "hydra/launcher=joblib", "hydra.job.name=x", "~c"]) == ("~c",)
    assert setting_overrides(["seed=1"]) == setting_overrides([]) == ()
    assert setting_overrides(["seeds=1"]) == ("seeds=1",)


def test_runs_are_grouped_by_setting(sweep):
    groups = group_by_setting(find_runs(sweep))
    assert {s: sorted(r.dir.name for r in runs) for s, runs in groups.items()} == {
        "agent.tau=0.001": ["0", "1", "2"],
        "agent.tau=0.005": ["3", "4", "5"],
        DEFAULTS_SETTING: ["6"],
        "(no overrides.yaml) extra/lost": ["lost"],
    }


def test_bootstrap_ci_of_two_values_spans_them_and_is_reproducible():
    # a quarter of the resampled means is each value itself, far more than the 2.5% tails
    assert bootstrap_mean_ci([1000, 3000]) == (1000.0, 3000.0)
    assert bootstrap_mean_ci([7.0, 7.0, 7.0]) == (7.0, 7.0)
    x = np.random.default_rng(1).normal(size=100)
    assert bootstrap_mean_ci(x) == bootstrap_mean_ci(x)
    assert bootstrap_mean_ci(x, seed=1) != bootstrap_mean_ci(x)


def test_bootstrap_ci_matches_the_normal_approximation_for_a_large_sample():
    x = np.random.default_rng(2).normal(loc=5.0, scale=2.0, size=400)
    low, high = bootstrap_mean_ci(x)
    half_width = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    assert low == pytest.approx(x.mean() - half_width, abs=0.1 * half_width)
    assert high == pytest.approx(x.mean() + half_width, abs=0.1 * half_width)


def test_spread_has_no_interval_for_one_value_and_is_none_for_none():
    one = spread([4.0])
    assert (one.n, one.median, one.mean, one.ci_low, one.ci_high) == (1, 4.0, 4.0, None, None)
    assert spread([]) is None


def test_group_statistics_are_exact(sweep):
    groups = group_by_setting(find_runs(sweep))
    slow = summarize(groups["agent.tau=0.001"])
    assert slow.setting == slow.label == "agent.tau=0.001"
    assert (slow.runs, slow.solved) == (3, 2)
    assert slow.solved_share == pytest.approx(2 / 3)
    assert (slow.env_steps.median, slow.env_steps.mean) == (2000.0, 2000.0)
    assert (slow.env_steps.ci_low, slow.env_steps.ci_high) == (1000.0, 3000.0)
    assert (slow.wall_time_s.median, slow.wall_time_s.mean) == (20.0, 20.0)
    assert slow.final_avg100 == pytest.approx((210 + 220 + 150) / 3)
    fast = summarize(groups["agent.tau=0.005"])
    assert (fast.runs, fast.solved, fast.solved_share) == (3, 3, 1.0)
    assert (fast.env_steps.median, fast.env_steps.mean) == (4000.0, 4000.0)
    # all three resamples equal to one value: 1/27 = 3.7% of the means, beyond each 2.5% tail
    assert (fast.env_steps.ci_low, fast.env_steps.ci_high) == (2000.0, 6000.0)
    assert fast.wall_time_s.median == 50.0
    assert fast.wall_time_s.mean == pytest.approx(130 / 3)
    assert fast.final_avg100 == pytest.approx(650 / 3)
    lost = summarize(groups["(no overrides.yaml) extra/lost"])
    assert (lost.solved, lost.env_steps, lost.wall_time_s, lost.final_avg100) == (
        0, None, None, -50.0)


def test_wall_clock_to_solve_counts_only_runs_that_stopped_when_they_solved(tmp_path):
    write_run(tmp_path / "on", ["seed=0"], 1000, 210.0, wall_time_s=50.0, env_steps=9000)
    write_run(tmp_path / "stopped", ["seed=1"], 3000, 210.0, wall_time_s=12.0)
    report = summarize(find_runs(tmp_path))
    assert report.env_steps.n == 2 and report.wall_time_s.n == 1
    assert report.wall_time_s.mean == 12.0


def test_wall_clock_to_solve_is_the_loops_time_until_the_solve_when_recorded(tmp_path):
    write_run(tmp_path / "polished", ["seed=0"], 1000, 210.0, wall_time_s=50.0, env_steps=9000,
              solved_wall_time_s=8.0)
    write_run(tmp_path / "stopped", ["seed=1"], 3000, 210.0, wall_time_s=12.0,
              solved_wall_time_s=11.5)
    assert summarize(find_runs(tmp_path)).wall_time_s.median == pytest.approx(9.75)


def test_models_below_the_bar_rank_their_setting_behind_and_show_in_the_table(tmp_path):
    # fast: solves in fewer env steps, but one of its two models misses the bar
    write_run(tmp_path / "f0", ["agent.tau=0.01", "seed=0"], 1000, 210.0, model_eval_points=150.0,
              model_passes=False)
    write_run(tmp_path / "f1", ["agent.tau=0.01", "seed=1"], 1000, 210.0, model_eval_points=260.0,
              model_passes=True)
    write_run(tmp_path / "s0", ["agent.tau=0.001", "seed=0"], 3000, 210.0,
              model_eval_points=250.0, model_passes=True)
    write_run(tmp_path / "s1", ["agent.tau=0.001", "seed=1"], 5000, 210.0,
              model_eval_points=270.0, model_passes=True)
    # unevaluated models (an older run, or evaluation off) are not held against a setting
    write_run(tmp_path / "o0", ["agent.tau=0.1", "seed=0"], 2000, 210.0)
    write_run(tmp_path / "o1", ["agent.tau=0.1", "seed=1"], None, 210.0)
    main([str(tmp_path)])
    rows = read_csv_rows(tmp_path / "report.csv")
    assert [r["setting"] for r in rows] == ["agent.tau=0.001", "agent.tau=0.01", "agent.tau=0.1"]
    assert [r["models_below_bar"] for r in rows] == ["0", "1", "0"]
    assert [r["model_eval_points_median"] for r in rows] == ["260.0", "205.0", ""]
    markdown = (tmp_path / "report.md").read_text()
    assert "| agent.tau=0.01 | 2 | 2/2 (100%) | 1,000 | 1,000 | 1,000 to 1,000 | 99.0 | 99.0 " \
           "| 99.0 to 99.0 | 210.0 | 205.0 | 1 | - |" in markdown


def test_failed_diverged_and_interrupted_runs_count_as_not_solved(tmp_path):
    write_run(tmp_path / "0", ["seed=0"], 1000, 210.0, 10.0)
    write_run(tmp_path / "1", ["seed=1"], None, -300.0, status="diverged")
    write_run(tmp_path / "2", ["seed=2"], None, 100.0, status="interrupted")
    write_run(tmp_path / "3", ["seed=3"], None, 0.0)
    # what a sweep job that stopped on a bad value leaves (lunar_dqn.run.rundir.write_failure)
    (tmp_path / "3" / "summary.json").write_text(json.dumps(
        {"status": "failed", "solved": False, "error": "agent.tau=5.0 is invalid"}))
    report = summarize(find_runs(tmp_path))
    assert (report.runs, report.solved) == (4, 1)
    assert report.final_avg100 == pytest.approx((210 - 300 + 100) / 3)
    assert report.other_outcomes == "1 diverged, 1 failed, 1 interrupted"
    main([str(tmp_path)])
    assert "| 1 diverged, 1 failed, 1 interrupted |" in (tmp_path / "report.md").read_text()
    row = read_csv_rows(tmp_path / "report.csv")[0]
    assert row["other_outcomes"] == "1 diverged, 1 failed, 1 interrupted"


def test_overrides_common_to_every_run_are_named_once(tmp_path, capsys):
    write_run(tmp_path / "0", ["debug=smoke", "agent.tau=0.1", "seed=0"], 1000, 210.0, 10.0)
    write_run(tmp_path / "1", ["debug=smoke", "agent.tau=0.1", "seed=1"], 1000, 210.0, 10.0)
    write_run(tmp_path / "2", ["debug=smoke", "seed=0"], 2000, 210.0, 10.0)
    runs = find_runs(tmp_path)
    common = common_overrides(runs)
    assert common == {"debug=smoke"}
    assert [label(r, common) for r in runs] == ["agent.tau=0.1", "agent.tau=0.1",
                                                 COMMON_ONLY_LABEL]
    assert common_overrides(runs[:2]) == set()  # one setting: its label keeps everything
    main([str(tmp_path)])
    markdown = (tmp_path / "report.md").read_text()
    assert "Common to every run: `debug=smoke`." in " ".join(markdown.split())
    assert f"| {COMMON_ONLY_LABEL} | 1 | 1/1 (100%) | 2,000 |" in markdown
    rows = read_csv_rows(tmp_path / "report.csv")
    assert [r["setting"] for r in rows] == ["agent.tau=0.1 debug=smoke", "debug=smoke"]


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        return list(reader)


def test_report_writes_ranked_csv_markdown_and_png(sweep, capsys):
    main([str(sweep)])
    printed = capsys.readouterr().out
    rows = read_csv_rows(sweep / "report.csv")
    # best first: solved share, then median env steps
    assert [r["setting"] for r in rows] == [
        DEFAULTS_SETTING, "agent.tau=0.005", "agent.tau=0.001", "(no overrides.yaml) extra/lost"]
    fast = rows[1]
    assert fast == {
        "setting": "agent.tau=0.005", "runs": "3", "solved": "3", "solved_share": "1.0",
        "env_steps_to_solve_median": "4000.0", "env_steps_to_solve_mean": "4000.0",
        "env_steps_to_solve_ci95_low": "2000.0", "env_steps_to_solve_ci95_high": "6000.0",
        "wall_s_to_solve_median": "50.0", "wall_s_to_solve_mean": "43.333",
        "wall_s_to_solve_ci95_low": fast["wall_s_to_solve_ci95_low"],
        "wall_s_to_solve_ci95_high": fast["wall_s_to_solve_ci95_high"],
        "final_avg100_mean": "216.667", "model_eval_points_median": "",
        "models_below_bar": "0", "other_outcomes": "",
    }
    assert 20.0 <= float(fast["wall_s_to_solve_ci95_low"]) < 43.333
    assert 43.333 < float(fast["wall_s_to_solve_ci95_high"]) <= 60.0
    assert rows[2]["solved_share"] == "0.667" and rows[2]["env_steps_to_solve_median"] == "2000.0"
    assert rows[3]["env_steps_to_solve_median"] == "" and rows[3]["solved"] == "0"
    assert rows[0]["env_steps_to_solve_ci95_low"] == ""  # one solved run: no interval

    markdown = (sweep / "report.md").read_text()
    assert "| agent.tau=0.001 | 3 | 2/3 (67%) | 2,000 | 2,000 | 1,000 to 3,000 | 20.0 | 20.0 |" \
        in markdown
    assert "| agent.tau=0.005 | 3 | 3/3 (100%) | 4,000 | 4,000 | 2,000 to 6,000 | 50.0 | 43.3 |" \
        in markdown
    assert "| (no overrides.yaml) extra/lost | 1 | 0/1 (0%) | - | - | - | - | - | - | -50.0 |" \
        in markdown
    assert "Env steps and wall-clock to solve count solved runs only" in " ".join(markdown.split())
    assert markdown in printed
    assert (sweep / "report.png").read_bytes().startswith(PNG_MAGIC)


def test_learning_curves_median_and_band_on_a_common_grid(sweep):
    runs = find_runs(sweep)
    curves = learning_curves({"a": runs[:2], "b": runs[:1]}, grid_points=5)
    a, b = curves["a"], curves["b"]
    nan = np.nan
    # grid 0, 100, ..., 400; run 0 ends at 300 and keeps its last average at 400
    np.testing.assert_array_equal(a.env_steps, [0, 100, 200, 300, 400])
    np.testing.assert_array_equal(a.median, [nan, -150, -50, 50, 150])
    np.testing.assert_array_equal(a.low, [nan, -200, -100, 0, 100])
    np.testing.assert_array_equal(a.high, [nan, -100, 0, 100, 200])
    assert a.runs == 2
    # a setting's curve ends with its longest run
    np.testing.assert_array_equal(b.env_steps, [0, 100, 200, 300])
    np.testing.assert_array_equal(b.median, [nan, -100, 0, 100])


def test_settings_without_history_have_no_curve_and_no_png(tmp_path, capsys):
    write_run(tmp_path / "0", ["seed=0"], 1000, 210.0, 10.0)
    assert learning_curves(group_by_setting(find_runs(tmp_path))) == {}
    (tmp_path / "report.png").write_bytes(PNG_MAGIC)  # from an earlier report
    main([str(tmp_path)])
    assert "report.png not written" in capsys.readouterr().out
    assert (tmp_path / "report.md").is_file() and not (tmp_path / "report.png").exists()


def test_default_directory_is_outputs(tmp_path, monkeypatch, capsys):
    write_run(tmp_path / "outputs" / "runs" / "a", ["seed=0"], 1000, 210.0, 10.0)
    monkeypatch.chdir(tmp_path)
    main([])
    assert "1 runs in 1 settings" in capsys.readouterr().out
    assert (tmp_path / "outputs" / "report.csv").is_file()


def expect_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    return err


def test_missing_directory_is_one_error_line(tmp_path, capsys):
    assert "no such directory" in expect_error([str(tmp_path / "nope")], capsys)


def test_directory_without_summaries_is_one_error_line(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    assert "no summary.json under" in expect_error([str(tmp_path)], capsys)


@pytest.mark.parametrize(("file", "content", "message"), [
    ("summary.json", "{not json", "cannot read JSON"),
    ("summary.json", '{"status": "budget"}', "no solved: true/false"),
    ("summary.json", '[1, 2]', "no solved: true/false"),
    ("summary.json", '{"solved": true, "solved_env_steps": null}',
     "solved_env_steps is not a number"),
    (".hydra/overrides.yaml", "a: 1\n", "expected a list of overrides"),
    ("history.csv", "episode,points\n1,2\n", "cannot read the history"),
])
def test_unreadable_run_files_are_one_error_line(sweep, capsys, file, content, message):
    (sweep / "0" / file).write_text(content)
    err = expect_error([str(sweep)], capsys)
    assert message in err and str(sweep / "0" / file) in err


@pytest.mark.slow
def test_report_runs_as_a_module(sweep):
    result = run_module("lunar_dqn.report", str(sweep), cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "| agent.tau=0.005 | 3 | 3/3 (100%) |" in result.stdout
    missing = run_module("lunar_dqn.report", str(sweep / "nope"), cwd=REPO)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
    assert "Traceback" not in missing.stderr



def test_a_budget_a_resume_changed_counts_in_the_runs_setting(tmp_path):
    for job, seed in enumerate((0, 1)):
        write_run(tmp_path / str(job), [f"seed={seed}", "train.max_env_steps=1000",
                                        "agent.tau=0.001"], None, -50.0)
    resume = {"resumed_at": "2026-11-25T01:00:00+00:00", "env_steps": 1000, "episodes": 9,
              "changed": {"train.max_env_steps": {"from": 1000, "to": 3000},
                          "logger.progress_bar": {"from": True, "to": False}}}
    (tmp_path / "1" / "resumes.jsonl").write_text(json.dumps(resume) + "\n")
    runs = find_runs(tmp_path)
    # the budget it ran to counts, a convenience does not
    assert [run.setting for run in runs] == ["agent.tau=0.001 train.max_env_steps=1000",
                                            "agent.tau=0.001 train.max_env_steps=3000"]
