"""The training curve: rolling mean, episode range and window choices, the PNG, the command."""

import numpy as np
import pytest
from PIL import Image

from conftest import run_module
from lunar_dqn.errors import ConfigError
from lunar_dqn.play.curve import Span, choose_span, plot_history, rolling_mean, write_training_curve
from lunar_dqn.run.rundir import TRAINING_CURVE, read_points
from runutil import make_run

CYAN, MAGENTA = (0, 255, 255), (255, 0, 255)


def colours(path) -> set[tuple[int, int, int]]:
    return set(Image.open(path).convert("RGB").getdata())


def test_rolling_mean_matches_the_window_averages():
    assert rolling_mean(np.array([1.0, 2.0, 3.0, 4.0, 6.0]), 2) == pytest.approx(
        [1.5, 2.5, 3.5, 5.0])
    assert rolling_mean(np.array([1.0, 2.0, 3.0, 4.0, 6.0]), 5) == pytest.approx([3.2])
    points = np.random.default_rng(0).normal(size=50)
    expected = [points[i - 7:i].mean() for i in range(7, 51)]
    assert rolling_mean(points, 7) == pytest.approx(expected)


@pytest.mark.parametrize("total, window, first, last, expected", [
    (661, None, None, None, Span(1, 661, 66)),  # the lab's default: 10% of the episodes
    (5, None, None, None, Span(1, 5, 1)),
    (661, None, 101, 300, Span(101, 300, 20)),
    (661, 3, 10, None, Span(10, 661, 3)),
    (661, 1, 661, 661, Span(661, 661, 1)),
])
def test_span_defaults(total, window, first, last, expected):
    assert choose_span(total, window, first, last) == expected


@pytest.mark.parametrize("total, window, first, last, message", [
    (0, None, None, None, "the run has no finished episodes to plot"),
    (10, None, 0, None, "first=0 is invalid: must be between 1 and 10 (the run's episodes)"),
    (10, None, 11, None, "first=11 is invalid: must be between 1 and 10 (the run's episodes)"),
    (10, None, 5, 4, "last=4 is invalid: must be between first (5) and 10"),
    (10, None, None, 11, "last=11 is invalid: must be between first (1) and 10"),
    (10, 0, None, None, "window=0 is invalid: must be between 1 and 10 (the episodes plotted)"),
    (10, 4, 8, None, "window=4 is invalid: must be between 1 and 3 (the episodes plotted)"),
])
def test_span_errors(total, window, first, last, message):
    with pytest.raises(ConfigError) as err:
        choose_span(total, window, first, last)
    assert str(err.value) == message


def test_png_shows_points_in_cyan_and_rolling_mean_in_magenta(tmp_path):
    points = list(np.random.default_rng(1).normal(0, 100, size=200))
    span = choose_span(len(points))
    plot_history(points, tmp_path / "both.png", span)
    plot_history(points, tmp_path / "points.png", span, points_only=True)
    plot_history(points, tmp_path / "mean.png", span, rolling_mean_only=True)
    assert Image.open(tmp_path / "both.png").size == (1000, 700)
    assert {CYAN, MAGENTA} <= colours(tmp_path / "both.png")
    assert CYAN in colours(tmp_path / "points.png")
    assert MAGENTA not in colours(tmp_path / "points.png")
    assert MAGENTA in colours(tmp_path / "mean.png")
    assert CYAN not in colours(tmp_path / "mean.png")


def test_rolling_mean_only_and_points_only_exclude_each_other(tmp_path):
    with pytest.raises(ConfigError) as err:
        plot_history([1.0, 2.0], tmp_path / "x.png", Span(1, 2, 1), rolling_mean_only=True,
                     points_only=True)
    assert str(err.value) == "rolling_mean_only=true and points_only=true exclude each other"
    assert not (tmp_path / "x.png").exists()


def test_training_curve_is_written_unless_no_episode_finished(tmp_path):
    out = tmp_path / TRAINING_CURVE
    assert write_training_curve([], out) is False
    assert not out.exists()
    assert write_training_curve([1.0, 5.0, 3.0], out) is True
    assert Image.open(tmp_path / TRAINING_CURVE).format == "PNG"


def test_read_points_and_its_errors(tmp_path):
    run = make_run(tmp_path / "run", points=(-1.5, 2.0, 3.25))
    assert read_points(run) == [-1.5, 2.0, 3.25]
    with pytest.raises(ConfigError, match=r"^run_dir=.*nope does not exist$"):
        read_points(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"^run_dir=.*empty has no history.csv: is it a "
                                          r"training run\?$"):
        read_points(tmp_path / "empty")
    (run / "history.csv").write_text("episode,points\n1,lots\n")
    with pytest.raises(ConfigError) as err:
        read_points(run)
    assert str(err.value).startswith(f"{run / 'history.csv'} is not a readable episode history")


@pytest.mark.slow
def test_command_redraws_the_curve_and_writes_nothing_else(tmp_path):
    run = make_run(tmp_path / "run", points=tuple(float(p) for p in range(30)))
    work = tmp_path / "work"
    work.mkdir()
    result = run_module("lunar_dqn.plot", f"run_dir={run}", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"wrote {run / TRAINING_CURVE}: episodes 1-30, "
                             "rolling mean over 3 episodes\n")
    assert Image.open(run / TRAINING_CURVE).size == (1000, 700)
    result = run_module("lunar_dqn.plot", f"run_dir={run}", "window=5", "first=11", "last=20",
                        "points_only=true", "out=curve.png", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "wrote curve.png: episodes 11-20, rolling mean over 5 episodes\n"
    assert MAGENTA not in colours(work / "curve.png")
    assert sorted(p.name for p in work.iterdir()) == ["curve.png"]  # no outputs/, no log


@pytest.mark.slow
def test_command_errors_are_one_line(tmp_path):
    run = make_run(tmp_path / "run")
    for args, message in [
        ((), "error: run_dir is missing: python -m lunar_dqn.plot run_dir=DIR"),
        ((f"run_dir={run}", "window=9"),
         "error: window=9 is invalid: must be between 1 and 5 (the episodes plotted)"),
        ((f"run_dir={run}", "windows=3"),
         "error: windows is not a config key (did you mean window?)"),
    ]:
        result = run_module("lunar_dqn.plot", *args, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [message]
