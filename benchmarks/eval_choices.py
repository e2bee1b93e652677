"""Which evaluation during training and how long a polish: every choice measured on the same runs.

    python -m benchmarks.eval_choices --seeds 0-9 [--grid 5000] [--episodes 20] \\
        [--every 5000 10000 20000] [--k 5 10 20] [--polish 25000 50000] \\
        [--test-episodes 100] [--out FILE.json] [-- HYDRA_OVERRIDES...]
    python -m benchmarks.eval_choices --from A.json B.json ... [--every/--k/--polish ...]

Each seed trains once, in this process (`Trainer.train` in windows, without an evaluation of
its own), on past its solved point to the end of the longest polish. Every `--grid` env steps,
at the solve and at the end of each polish, the saved network plays `--episodes` greedy episodes
on the validation seeds, as the evaluation during training does, and its weights are kept.
The evaluation draws nothing from the training (tests/test_evaluator.py), so these are the
networks and scores a run with `eval.every_env_steps` E (a multiple of the grid),
`eval.episodes` K (the first K of them) and `train.polish_env_steps` P (0 or one of `--polish`)
would see: the network such a run hands over is the best of its evaluations up to the solve
plus P. Each network some choice hands over, the solved one (what a run without evaluation
hands over) and the last one of each polish are then played on `--test-episodes` held-out
episodes (`evaluate`'s seeds). `--from` tabulates the seeds of earlier results together (seeds
recorded in separate processes), for the same choices or fewer.

Per choice, over the seeds (medians): what it costs, the evaluations' count and env steps (all of
them, and those before the solve, which count in the time to solve, also as a share of the
loop's time to solve), their seconds (the measured seconds per evaluation env step times those
env steps) and the polish's seconds (P at the loop's own rate); and the held-out greedy mean and
landed share of the network it hands over, with the worst seed's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    Table,
    add_seeds_option,
    compose_checked,
    machine_line,
    new_bench_dir,
    new_result,
    read_result,
    write_json,
)
from lunar_dqn.cli import exits_on_user_error, fail
from lunar_dqn.play.greedy import LANDED_POINTS, play_side_by_side
from lunar_dqn.run.checkpoint import load_model
from lunar_dqn.run.envs import make_env
from lunar_dqn.run.finisher import saved_network
from lunar_dqn.run.rundir import SOLVED_MODEL
from lunar_dqn.run.trainer import Trainer
from lunar_dqn.seeds import TEST_SEED_BASE, validation_seeds

FORCED = ("train.stop_when_solved=false", "eval.every_env_steps=null", "train.polish_env_steps=0",
          "logger.progress_bar=false", "logger.video=false", "logger.tensorboard=false")
TABLE = Table([("handed over", 24), ("evals", 5), ("eval steps", 10), ("before solve", 12),
               ("+% to solve", 11), ("eval s", 6), ("polish s", 8), ("test mean", 9),
               ("worst", 6), ("landed %", 8), ("worst %", 7)])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval_choices",
                                     description=__doc__.splitlines()[0])
    add_seeds_option(parser)
    parser.add_argument("--grid", type=int, default=5000, help="env steps between recorded "
                        "evaluations (default 5000)")
    parser.add_argument("--episodes", type=int, default=20,
                        help="validation episodes per recorded evaluation (default 20)")
    parser.add_argument("--every", type=int, nargs="+", default=[5000, 10000, 20000],
                        help="eval.every_env_steps choices, multiples of --grid")
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10, 20],
                        help="eval.episodes choices, at most --episodes")
    parser.add_argument("--polish", type=int, nargs="+", default=[25000, 50000],
                        help="train.polish_env_steps choices besides 0")
    parser.add_argument("--test-episodes", type=int, default=100,
                        help="held-out episodes per network handed over (default 100)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--from", dest="sources", type=Path, nargs="+", default=None,
                        help="tabulate the seeds of earlier results (recorded with these choices "
                             "or more) instead of training")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides after --")
    args = parser.parse_args(argv)
    if any(e % args.grid for e in args.every) or max(args.k) > args.episodes:
        parser.error("--every must be multiples of --grid, --k at most --episodes")
    return args


def record_run(cfg: Any, run_dir: Path, grid: int, polishes: list[int],
               episodes: int) -> dict[str, Any]:
    """Train one seed past its solve, recording evaluations (see the module) and weights."""
    trainer = Trainer(cfg, run_dir)
    seeds = validation_seeds(episodes)
    envs = [make_env(cfg.env) for _ in seeds]
    records: list[dict[str, Any]] = []
    weights: list[dict] = []

    def record(network: Any, env_steps: int) -> None:
        start = time.perf_counter()
        points, steps = play_side_by_side(network, envs, seeds)
        records.append({"env_steps": env_steps, "points": points, "steps": steps,
                        "seconds": time.perf_counter() - start})
        weights.append({k: v.detach().clone() for k, v in network.state_dict().items()})

    try:
        budget = cfg.train.max_env_steps
        while trainer.env_steps < budget:
            solved = trainer.solved_env_steps
            targets = [(trainer.env_steps // grid + 1) * grid, budget]
            if solved is not None:
                targets += [solved + p for p in polishes if solved + p > trainer.env_steps]
            if trainer.train(env_steps=min(targets) - trainer.env_steps) == 0:
                break  # the run ended (out of episodes)
            solved_now = solved is None and trainer.solved_env_steps is not None
            if solved_now and trainer.solved_env_steps < trainer.env_steps:
                record(load_model(run_dir / SOLVED_MODEL)[0], trainer.solved_env_steps)
            record(saved_network(trainer), trainer.env_steps)
            solved = trainer.solved_env_steps
            if solved is not None and trainer.env_steps >= solved + max(polishes):
                break
        rate = trainer.env_steps / trainer.wall_time
    finally:
        trainer.close()
        for env in envs:
            env.close()
    return {"solved_env_steps": trainer.solved_env_steps, "records": records,
            "loop_env_steps_per_s": rate, "weights": weights, "network": saved_network(trainer)}


def handed_over(records: list[dict[str, Any]], solved: int, every: int | None, k: int,
                polish: int) -> tuple[int, list[int]]:
    """The record a run with these choices hands over, and the records it evaluates: at
    multiples of `every`, the solve and the polish's end (the solve plus `polish`); the highest
    mean of the first k episodes, the earliest of equals. Without evaluation (`every` None): the
    solved network (polish 0), else the last of the polish."""
    end = solved + polish
    index = {r["env_steps"]: i for i, r in enumerate(records)}
    if every is None:
        return index[end], []
    evaluated = [i for i, r in enumerate(records) if r["env_steps"] <= end and (
        r["env_steps"] % every == 0 or r["env_steps"] in (solved, end))]
    best = max(evaluated, key=lambda i: (statistics.fmean(records[i]["points"][:k]), -i))
    return best, evaluated


def test_scores(run: dict[str, Any], wanted: set[int], cfg: Any, episodes: int) -> dict[int, Any]:
    """Held-out mean and landed share of the wanted records' networks."""
    envs = [make_env(cfg.env) for _ in range(episodes)]
    seeds = [TEST_SEED_BASE + k for k in range(episodes)]
    network, scores = run["network"], {}
    try:
        for i in sorted(wanted):
            network.load_state_dict(run["weights"][i])
            points, _ = play_side_by_side(network, envs, seeds)
            scores[i] = {"mean": statistics.fmean(points),
                         "landed": sum(p >= LANDED_POINTS for p in points) / len(points)}
    finally:
        for env in envs:
            env.close()
    return scores


def choices(args: argparse.Namespace) -> list[tuple[str, int | None, int, int]]:
    """(label, every, k, polish): no evaluation (the solved network, or the last of a polish),
    then every combination."""
    rows: list[tuple[str, int | None, int, int]] = [
        ("solved (no eval)" if p == 0 else f"last of P={kilo(p)} (no eval)", None, 0, p)
        for p in (0, *args.polish)]
    for polish in (0, *args.polish):
        for every in args.every:
            for k in args.k:
                rows.append((f"best E={kilo(every)} K={k} P={kilo(polish)}", every, k, polish))
    return rows


def kilo(n: int) -> str:
    return f"{n / 1000:g}k"


def choice_row(label: str, runs: list[dict[str, Any]], k: int, polish: int,
               picks: list[tuple[int, list[int]]]) -> dict[str, Any]:
    """One choice's figures over the seeds (`picks`: each seed's `handed_over`)."""
    tests = [run["test"][best] for run, (best, _) in zip(runs, picks, strict=True)]

    def eval_steps(run: dict[str, Any], evaluated: list[int], until: float) -> int:
        records = run["records"]
        return sum(sum(records[i]["steps"][:k]) for i in evaluated
                   if records[i]["env_steps"] <= until)

    pairs = list(zip(runs, (evaluated for _, evaluated in picks), strict=True))
    steps = [eval_steps(run, e, float("inf")) for run, e in pairs]
    before = [eval_steps(run, e, run["solved_env_steps"]) for run, e in pairs]
    # the evaluations before the solve against the loop's time to solve (same process, same load)
    share = [n * run["eval_s_per_step"] / (run["solved_env_steps"] / run["loop_env_steps_per_s"])
             for n, run in zip(before, runs, strict=True)]
    return {
        "choice": label, "evaluations": statistics.median(len(e) for _, e in picks),
        "eval_env_steps": statistics.median(steps), "before_solve": statistics.median(before),
        "to_solve_pct": 100 * statistics.median(share),
        "eval_s": statistics.median(n * run["eval_s_per_step"]
                                    for n, run in zip(steps, runs, strict=True)),
        "polish_s": statistics.median(polish / run["loop_env_steps_per_s"] for run in runs),
        "test_mean": statistics.median(t["mean"] for t in tests),
        "worst_mean": min(t["mean"] for t in tests),
        "landed_pct": 100 * statistics.median(t["landed"] for t in tests),
        "worst_landed_pct": 100 * min(t["landed"] for t in tests),
        "per_seed": [{"seed": run["seed"], "record": best, **t}
                     for run, (best, _), t in zip(runs, picks, tests, strict=True)],
    }


def format_row(row: dict[str, Any]) -> str:
    return TABLE.row([row["choice"], f"{row['evaluations']:.0f}", f"{row['eval_env_steps']:.0f}",
                      f"{row['before_solve']:.0f}", f"{row['to_solve_pct']:.1f}",
                      f"{row['eval_s']:.1f}",
                      f"{row['polish_s']:.1f}", f"{row['test_mean']:.1f}",
                      f"{row['worst_mean']:.1f}", f"{row['landed_pct']:.0f}",
                      f"{row['worst_landed_pct']:.0f}"])


def recorded(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The seeds of an earlier result, as `record_run` and `test_scores` left them."""
    return [{**seed, "test": {int(i): t for i, t in seed["test"].items()}}
            for seed in doc["seeds"]]


def tabulate(runs: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row per choice over the seeds' runs (each with its held-out scores)."""
    for run in runs:
        run["picks"] = {c: handed_over(run["records"], run["solved_env_steps"], *c[1:])
                        for c in choices(args)}
        missing = {best for best, _ in run["picks"].values()} - run["test"].keys()
        if missing:
            fail(f"seed {run['seed']}: no held-out score for the network of record(s) "
                 f"{sorted(missing)}: record it with these choices")
        seconds = sum(r["seconds"] for r in run["records"])
        run["eval_s_per_step"] = seconds / sum(sum(r["steps"]) for r in run["records"])
    return [choice_row(label, runs, k, polish, [run["picks"][(label, every, k, polish)]
                                                for run in runs])
            for label, every, k, polish in choices(args)]


@exits_on_user_error
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    cfgs = {seed: compose_checked(*args.overrides, *FORCED, f"seed={seed}") for seed in args.seeds}
    out = args.out or new_bench_dir() / "eval_choices.json"
    doc = new_result("eval_choices", cfgs[args.seeds[0]], overrides=list(args.overrides),
                     grid=args.grid, episodes=args.episodes, seeds=[])
    print(machine_line(doc["machine"]), flush=True)
    for path in args.sources or ():
        doc["seeds"] += recorded(read_result(path, "eval_choices"))
    for seed in args.seeds if not args.sources else ():
        with tempfile.TemporaryDirectory() as tmp:
            run = record_run(cfgs[seed], Path(tmp), args.grid, args.polish, args.episodes)
        solved = run["solved_env_steps"]
        if solved is None:
            print(f"seed {seed}: not solved within the budget; left out", flush=True)
            continue
        wanted = {handed_over(run["records"], solved, *c[1:])[0] for c in choices(args)}
        doc["seeds"].append({"seed": seed, "solved_env_steps": solved,
                             "loop_env_steps_per_s": run["loop_env_steps_per_s"],
                             "records": run["records"],
                             "test": test_scores(run, wanted, cfgs[seed], args.test_episodes)})
        write_json(out, doc)
        print(f"seed {seed}: solved at {solved} env steps; {len(run['records'])} evaluations "
              f"recorded", flush=True)
    print(TABLE.header())
    doc["rows"] = tabulate(recorded(doc), args)
    for row in doc["rows"]:
        print(format_row(row), flush=True)
    write_json(out, doc)
    print(f"wrote {out}")
    return doc


if __name__ == "__main__":
    main()
