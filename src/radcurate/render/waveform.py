"""Waveforms (ECG, haemodynamics, audio): a trace plot of the channels."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from radcurate.imaging.frames import read_dataset
from radcurate.optional import import_optional
from radcurate.render.canvas import CARD_BACKGROUND, pil
from radcurate.render.image import caption
from radcurate.render.result import Rendering, RenderOptions, SeriesInput, UndecodableError

__all__ = ["WaveformRenderer", "draw_traces"]

MAX_CHANNELS = 12
TRACE: tuple[int, int, int] = (90, 230, 120)


def _channel_names(ds: Any) -> list[str]:
    names = []
    group = ds.WaveformSequence[0]
    for k, item in enumerate(group.get("ChannelDefinitionSequence") or []):
        source = item.get("ChannelSourceSequence")
        label = item.get("ChannelLabel")
        if source:
            names.append(str(source[0].get("CodeMeaning", f"ch {k + 1}")))
        else:
            names.append(str(label or f"ch {k + 1}"))
    return names


def draw_traces(
    samples: npt.NDArray[Any], names: list[str], size: int, title: str
) -> tuple[Any, tuple[str, ...]]:
    """Channels stacked top to bottom, each scaled to its own band; returns (image, labels)."""
    draw_module = import_optional("PIL.ImageDraw", "rendering thumbnails")
    font_module = import_optional("PIL.ImageFont", "rendering thumbnails")
    image = pil().new("RGB", (size, size), CARD_BACKGROUND)
    draw = draw_module.Draw(image)
    title_px = max(9, size // 16)
    label_px = max(7, size // 28)
    bar = int(title_px * 1.7)
    draw.rectangle((0, 0, size, bar), fill=(40, 120, 70))
    draw.text(
        (4, (bar - title_px) // 2),
        title,
        fill=(255, 255, 255),
        font=font_module.load_default(size=title_px),
    )
    channels = min(samples.shape[1], MAX_CHANNELS)
    band = (size - bar) / max(1, channels)
    xs = np.linspace(0, size - 1, num=min(samples.shape[0], 4 * size))
    picks = np.linspace(0, samples.shape[0] - 1, num=xs.size).astype(int)
    label_font = font_module.load_default(size=label_px)
    for c in range(channels):
        trace = samples[picks, c].astype(np.float64)
        lo, hi = np.percentile(trace, [0.5, 99.5]) if trace.size else (0.0, 1.0)
        span = float(hi - lo) or 1.0
        top = bar + c * band
        ys = top + band * 0.9 - (np.clip(trace, lo, hi) - lo) / span * band * 0.8
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=TRACE, width=1)
        if c < len(names):
            draw.text((2, top + 1), names[c], fill=(200, 200, 200), font=label_font)
    return image, (title, *names[:channels])


class WaveformRenderer:
    """Objects with a WaveformSequence: a trace plot of up to 12 channels."""

    name = "waveform"

    def score(self, series: SeriesInput) -> int:
        """50 when the header has a WaveformSequence or the SOP class is a waveform."""
        if "WaveformSequence" in series.document:
            return 50
        sop = series.sop_class_uid
        return 40 if sop.startswith("1.2.840.10008.5.1.4.1.1.9.") else 0

    def render(self, series: SeriesInput, options: RenderOptions) -> Rendering:
        """Decode the first multiplex group and draw its channels."""
        record = min(series.instances, key=lambda i: (i.instance_number or 0, i.sop_uid))
        ds = read_dataset(record.location)
        if "WaveformSequence" not in ds:
            raise UndecodableError("the object has no waveform data")
        try:
            samples = np.asarray(ds.waveform_array(0))
        except Exception as exc:  # any decoder failure becomes a reason
            raise UndecodableError(f"cannot decode the waveform: {exc}") from exc
        if samples.ndim == 1:
            samples = samples[:, None]
        group = ds.WaveformSequence[0]
        rate = float(group.get("SamplingFrequency", 0) or 0)
        seconds = samples.shape[0] / rate if rate else 0.0
        title = f"{ds.get('Modality', 'Waveform')} {seconds:.1f} s" if rate else "Waveform"
        image, lines = draw_traces(samples, _channel_names(ds), options.size or 512, title)
        return Rendering(
            image=image,
            renderer=self.name,
            caption=caption(series.document, [f"{samples.shape[1]} channels", title]),
            text_lines=lines,
            details={"channels": int(samples.shape[1]), "samples": int(samples.shape[0])},
        )
