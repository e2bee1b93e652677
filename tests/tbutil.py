"""Read scalars, images and HParams entries back from TensorBoard event files."""

from pathlib import Path
from typing import Any

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import metadata


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag under `run_dir` (all event files merged): tag -> [(step, value)]."""
    merged: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(run_dir.glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            merged.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return merged


def images(run_dir: Path, tag: str) -> list[tuple[int, Any]]:
    """The images of `tag` under `run_dir`: [(step, image)], image.encoded_image_string etc."""
    found = []
    for events in sorted(run_dir.glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"images": 0})
        acc.Reload()
        if tag in acc.Tags()["images"]:
            found.extend((image.step, image) for image in acc.Images(tag))
    return found


def hparams_entries(run_dir: Path) -> list[dict[str, Any]]:
    """The hyperparameters of every HParams session start written under `run_dir`."""
    entries = []
    for events in sorted(run_dir.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(events)).Load():
            for value in event.summary.value:
                if value.tag != metadata.SESSION_START_INFO_TAG:
                    continue
                info = metadata.parse_session_start_info_plugin_data(
                    value.metadata.plugin_data.content)
                entries.append({key: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
                                for key, v in info.hparams.items()})
    return entries


def hparams_metrics(run_dir: Path) -> list[str]:
    """The metric tags the HParams experiment summaries declare."""
    names = []
    for events in sorted(run_dir.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(events)).Load():
            for value in event.summary.value:
                if value.tag == metadata.EXPERIMENT_TAG:
                    experiment = metadata.parse_experiment_plugin_data(
                        value.metadata.plugin_data.content)
                    names.extend(m.name.tag for m in experiment.metric_infos)
    return names
