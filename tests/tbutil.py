"""Read scalar tags back from TensorBoard event files."""

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag under `run_dir` (all event files merged): tag -> [(step, value)]."""
    merged: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(run_dir.glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            merged.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return merged
