"""Small builders for the explorer's controls: labels, thumbnails, the error box."""

from __future__ import annotations

import base64
import html
import io

import ipywidgets as w
import numpy as np
from PIL import Image

from ..engine.layers import LayerInfo

__all__ = ["ErrorBox", "layer_options", "thumbnail_strip"]

INDENT = "\u00a0\u00a0\u00a0"


def layer_options(layers: list[LayerInfo]) -> list[tuple[str, str]]:
    """Dropdown options ``(label, name)``: name and output shape, nested layers indented.

    A nested model's layers are shown under a header-like prefix: each level of
    nesting adds an indent and the leaf name, with the full path in the value.
    """
    options = []
    for info in layers:
        shape = "x".join("?" if s is None else str(s) for s in info.output_shape)
        leaf = info.name.rsplit("/", 1)[-1]
        prefix = INDENT * info.depth + (f"{info.parent}/" if info.depth else "")
        options.append((f"{prefix}{leaf}  {shape}", info.name))
    return options


def _thumbnail_data_url(pixels: np.ndarray, side: int = 48) -> str:
    arr = np.clip(pixels, 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    image = Image.fromarray(arr)
    image.thumbnail((side, side), Image.Resampling.NEAREST if max(arr.shape[:2]) < side
                    else Image.Resampling.BILINEAR)
    if max(image.size) < side:
        scale = side // max(image.size)
        image = image.resize((image.width * scale, image.height * scale),
                             Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def thumbnail_strip(thumbs: list[str], names: list[str], selected: int,
                    limit: int = 16) -> str:
    """HTML for a row of thumbnails, the selected one outlined; shows a window around it."""
    start = max(0, min(selected - limit // 2, len(thumbs) - limit))
    cells = []
    for i in range(start, min(len(thumbs), start + limit)):
        border = "3px solid #e4572e" if i == selected else "1px solid #ccc"
        cells.append(
            f'<figure style="margin:2px;text-align:center" title="{html.escape(names[i])}">'
            f'<img src="{thumbs[i]}" style="border:{border};image-rendering:pixelated;'
            f'width:48px;height:48px;object-fit:contain"/>'
            f'<figcaption style="font-size:10px">{i}</figcaption></figure>'
        )
    return ('<div class="cnnviz-thumbs" style="display:flex;flex-wrap:wrap">'
            + "".join(cells) + "</div>")


class ErrorBox(w.HTML):
    """A message box inside the panel; empty and hidden when there is nothing to say."""

    def __init__(self) -> None:
        super().__init__(value="", layout=w.Layout(display="none"))
        self.add_class("cnnviz-error")

    def show(self, message: str) -> None:
        """Show ``message`` (plain text) as an error."""
        self.value = (
            '<div style="background:#fdecea;color:#611a15;border-left:4px solid #e4572e;'
            f'padding:6px 10px;margin:4px 0">{html.escape(message)}</div>'
        )
        self.layout.display = None

    def clear(self) -> None:
        """Hide the box."""
        if self.value:
            self.value = ""
            self.layout.display = "none"
