"""The explorer's static output beyond the screen: the standalone HTML page, with the
data set's top images when the explorer has a data set.

(The figure of the view and the PNG of a notebook without a kernel are
:func:`~cnnviz_widgets.render.view.figure_of` and :func:`~cnnviz_widgets.render.view.png_of`.)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ...errors import CnnvizError, InvalidSettingError

__all__ = ["export_page", "top_image_crops"]


def export_page(explorer: Any, path: str | os.PathLike, layers: Sequence[str] | None = None,
                images: Sequence[Any] | None = None, *, top_images: bool | None = None,
                **kwargs: Any) -> Any:
    """:meth:`FeatureMapExplorer.export_html` (see there): the explorer's images (at most
    8), colour map and, with a data set, the top images of every exported channel."""
    from ...export.html import export_html

    if images is None:
        images = explorer.images[:8]
        kwargs.setdefault("image_names", explorer.image_names[:8])
    kwargs.setdefault("colormap", explorer.colormap)
    if top_images is None:
        top_images = explorer.dataset_view is not None
    if top_images:
        kwargs["top_images"] = top_image_crops(explorer, layers)
    return export_html(explorer.engine, images, path, layers=layers, **kwargs)


def top_image_crops(explorer: Any,
                    layers: Sequence[str] | str | None) -> dict[str, list[list[Any]]]:
    """The dataset view's top-image crops of every channel of ``layers`` (default: the
    page's layers), scanning the layers not scanned yet in one pass (with its progress
    bar). Errors are reported in the explorer and raised."""
    from ...export.html import default_export_layers

    view = explorer.dataset_view
    if view is None:
        raise explorer.report(InvalidSettingError(
            "top_images=True needs a data set: set ex.dataset = images first."))
    names = ([layers] if isinstance(layers, str) else list(layers) if layers is not None
             else default_export_layers(explorer.engine))
    view.progress.widget.layout.display = None
    try:
        return view.scans.top_images(names, view.progress)
    except CnnvizError as error:
        raise explorer.report(error) from None
    finally:
        view.progress.widget.layout.display = "none"
