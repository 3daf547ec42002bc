"""A picture the browser colours itself, for maps that change often.

:class:`CodedImage` receives a rendered view as codes (:mod:`cnnviz_widgets.render.codes`):
the codes once per set of maps, then only a few numbers for a new normalisation and a
257-colour table for a new colour map. Its front end (``coded_image.js``, loaded by
anywidget from the package, no network) draws on a ``<canvas>`` exactly as
:func:`~cnnviz_widgets.render.codes.colour_codes` does in numpy.

Importing this module needs the ``anywidget`` package (in the ``notebook`` extra); ask
:func:`cnnviz_widgets.widgets.explorer.canvas.browser_view_available` first.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import numpy as np
import traitlets

from ..colour.colormaps import palette
from ..render.codes import TileCodes, code_coefficients, tile_codes
from ..render.maps import RenderedView

__all__ = ["CodedImage"]


class CodedImage(anywidget.AnyWidget):
    """A ``<canvas>`` coloured in the browser from codes, coefficients and a colour table.

    Attributes
    ----------
    codes, tile_rows, tile_cols : bytes
        :class:`~cnnviz_widgets.render.codes.TileCodes` (uint8, int16, int16), sent when
        the maps change.
    columns : int
        Tiles per row.
    size : list of int
        [height, width] of the picture.
    coefficients : bytes
        float32 (2, N) from :func:`~cnnviz_widgets.render.codes.code_coefficients`.
    palette : bytes
        uint8 (257, 3) from :func:`~cnnviz_widgets.colour.colormaps.palette`.
    scale : int
        Nearest-neighbour enlargement in the browser.
    tile_codes : TileCodes or None
        What was last sent (kernel side).
    """

    _esm = Path(__file__).with_name("coded_image.js")
    codes = traitlets.Bytes(b"").tag(sync=True)
    tile_rows = traitlets.Bytes(b"").tag(sync=True)
    tile_cols = traitlets.Bytes(b"").tag(sync=True)
    columns = traitlets.Int(1).tag(sync=True)
    size = traitlets.List([0, 0]).tag(sync=True)
    coefficients = traitlets.Bytes(b"").tag(sync=True)
    palette = traitlets.Bytes(b"").tag(sync=True)
    scale = traitlets.Int(1).tag(sync=True)

    def __init__(self, background: tuple[int, int, int] = (255, 255, 255), **kwargs) -> None:
        super().__init__(**kwargs)
        self.background = background
        self.tile_codes: TileCodes | None = None
        self._tiles: np.ndarray | None = None
        self._layout: object = None

    def show(self, rendered: RenderedView) -> None:
        """Draw ``rendered`` (:func:`~cnnviz_widgets.render.codes.codable`): the codes are
        sent only when its tiles are not the ones last sent."""
        new_maps = (self.tile_codes is None or rendered.tiles is not self._tiles
                    or rendered.layout != self._layout)
        if new_maps:
            self.tile_codes = tile_codes(rendered.tiles, rendered.layout)
            self._tiles, self._layout = rendered.tiles, rendered.layout
        codes = self.tile_codes
        with self.hold_sync():
            if new_maps:
                self.size = list(codes.shape)
                self.columns = codes.columns
                self.codes = codes.codes.tobytes()
                self.tile_rows = codes.tile_rows.astype("<i2").tobytes()
                self.tile_cols = codes.tile_cols.astype("<i2").tobytes()
            self.coefficients = code_coefficients(codes, rendered.stats).astype("<f4").tobytes()
            self.palette = palette(rendered.colormap, self.background).tobytes()
            self.scale = int(rendered.display_scale)
