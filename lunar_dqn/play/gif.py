"""Frames to an animated GIF: how TensorBoard shows a video (it needs only Pillow)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def animated_gif(frames: list[np.ndarray], fps: float, every: int = 1,
                 shrink: int = 1) -> bytes:
    """Every `every`-th frame, each side divided by `shrink`, as a looping GIF; it plays at the
    same speed as the full video."""
    images = [Image.fromarray(frame).reduce(shrink) for frame in frames[::every]]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=round(1000 * every / fps), loop=0)
    return buffer.getvalue()
