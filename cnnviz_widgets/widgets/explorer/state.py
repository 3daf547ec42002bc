"""What the explorer shows, as traits and validators: no widgets, testable on its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from traitlets import Any as AnyValue
from traitlets import HasTraits, validate

from ...checks import whole_number
from ...colour.normalize import NORMALIZATIONS
from ...engine.activations import ActivationEngine
from ...errors import (
    CnnvizError,
    InvalidSettingError,
    LayerNotFoundError,
    LayerNotViewableError,
)
from ...layout.order import CHANNEL_ORDERS, order_channels
from ...layout.paging import page_count, page_of
from ...layout.tokens import LayerMaps, layer_maps
from ...layout.volume import VOLUME_VIEWS, volume_maps
from ...render.maps import RenderMemo
from ..panel import Choice, Text, Whole, check_index, report_error
from .mask import needs_classifier

__all__ = ["BACKENDS", "COLORMAPS", "COMPARE_MODES", "STATE_TRAITS", "ExplorerState"]

BACKENDS = ("matplotlib", "bqplot", "browser")
COLORMAPS = ("viridis", "magma", "inferno", "gray", "gray_r", "hot", "jet", "RdBu_r", "coolwarm")
#: The traits that make up what is on screen.
STATE_TRAITS = ("layer", "channel", "normalization", "colormap", "image_index", "backend",
                "channel_order", "page", "target", "compare", "compare_index", "depth",
                "volume_view")
#: What the view can be compared with: another image, or another model (a checkpoint).
COMPARE_MODES = ("image", "model")


class ExplorerState(HasTraits):
    """The explorer's selection (layer, channel, scale, colours, image, order, page).

    Every trait is validated against the engine's model and the image list; a wrong value
    raises a :class:`~cnnviz_widgets.errors.CnnvizError` (shown in the panel when the state
    belongs to one) and leaves the state as it was. Derived values (the activation on
    screen, the channel order, the channels of the page) are computed on demand and
    memoised, so only a layer or image change asks the engine.

    Parameters
    ----------
    engine : ActivationEngine
        Where activations come from.
    images : list
        Single images (see :func:`~cnnviz_widgets.engine.coerce.image_list`).
    names : list of str, optional
        One display name per image.
    per_page : int
        Channels per page of the grid.

    Attributes
    ----------
    layer : str
        Name of the layer shown (see ``engine.layer_names``).
    channel : int or None
        The channel zoomed in on, or None for the grid of all channels.
    normalization : str
        ``"channel"``, ``"layer"``, ``"standardize"`` or ``"signed"``.
    colormap : str
        A matplotlib colour map name.
    image_index : int
        Index into ``images`` (in their order), followed by the package's samples.
    backend : str
        ``"matplotlib"`` (static image, colour bar), ``"bqplot"`` (pan, zoom, hover,
        click a tile to zoom on its channel) or ``"browser"`` (the browser colours the
        maps, so a normalisation or colour-map change sends no new picture; needs the
        anywidget package).
    channel_order : str
        Grid order: ``"index"``, ``"mean"``, ``"max"``, ``"sparsity"``, ``"class"``
        (each channel's contribution to the class ``target``: the mean over positions of
        gradient x activation) or ``"relevance"`` (each channel's relevance for the class
        ``target``, concept relevance propagation with the ``epsilon_plus_flat``
        composite); both computed once per layer, image and class.
    target : int or None
        The class of the ``"class"`` and ``"relevance"`` orders; None: the image's
        predicted class.
    page : int
        Page of the grid when a layer has more than ``per_page`` channels.
    dataset : images, ScanResult or None
        The data set of the dataset view: an array (N, H, W[, C]), a list of images or
        paths, a folder, a ``tf.data`` set, or a ``ScanResult`` computed before (with
        ``result.attach(images, engine.input_shape)`` after ``ScanResult.load``). The
        view shows the current channel's top images cropped to the receptive field of
        their maximum, the histogram of its per-image maximum and the layer's dead
        channels. Each layer is scanned once, when first shown (a scan result's layers
        need no scan); None removes the view.
    compare : {None, "image", "model"}
        None: one view. ``"image"``: the current image and image ``compare_index`` side
        by side for the same layer, channel and scale (one colour scale for both), and
        below them their difference (left minus right) in a diverging colour map centred
        on 0. ``"model"``: the same for the model and ``compare_model`` on the current
        image.
    compare_index : int
        The image the current one is compared with.
    compare_model : keras.Model, ActivationEngine or None
        Another model with the same layer names, typically an earlier checkpoint of this
        one (also a constructor argument); setting it switches ``compare`` to
        ``"model"``, None switches back. A layer it lacks, or has with another shape, is
        a message in the panel.
    depth : int
        For a layer of a volume or video (D, H, W, C): the slice (frame) shown, 0 to
        D - 1; a new layer with fewer slices keeps the last one. A change redraws from the
        activation on screen, without the model.
    volume_view : {"slice", "slices"}
        For a volume layer: ``"slice"`` shows slice ``depth`` of every channel (the
        channel, scale, order and compare controls work on it as on an image's maps);
        ``"slices"`` shows every slice of the channel ``channel`` (0 while all channels
        are selected).
    """

    layer = Text("")
    channel = Whole(None, allow_none=True)
    normalization = Choice(NORMALIZATIONS, "channel", what="normalization")
    colormap = Text("viridis")
    image_index = Whole(0)
    backend = Choice(BACKENDS, "matplotlib", what="backend")
    channel_order = Choice(CHANNEL_ORDERS, "index", what="channel order")
    page = Whole(0)
    #: The class the "class" and "relevance" orders explain; None: the predicted class.
    target = Whole(None, allow_none=True)
    #: A data set for the dataset view (images, or a ScanResult); None: no dataset view.
    dataset = AnyValue(None, allow_none=True)
    #: None (one view), "image" (the image ``compare_index`` beside the current one) or
    #: "model" (``compare_model`` beside the model, on the same image).
    compare = AnyValue(None, allow_none=True)
    compare_index = Whole(0)
    #: Another model with the same layer names (e.g. an earlier checkpoint), or None.
    compare_model = AnyValue(None, allow_none=True)
    #: The slice of a volume layer on screen.
    depth = Whole(0)
    #: "slice" (one slice of every channel) or "slices" (every slice of one channel).
    volume_view = Choice(VOLUME_VIEWS, "slice", what="volume view")

    def __init__(self, engine: ActivationEngine, images: Sequence[Any], *,
                 names: Sequence[str] | None = None, per_page: int = 64,
                 layer: str | None = None) -> None:
        super().__init__()
        self.setup_state(engine, images, names=names, per_page=per_page, layer=layer)

    def setup_state(self, engine: ActivationEngine, images: Sequence[Any], *,
                    names: Sequence[str] | None = None, per_page: int = 64,
                    layer: str | None = None) -> None:
        """Attach the engine and images and select the first layer (or ``layer``)."""
        self.per_page = whole_number(per_page, "per_page")
        self.engine = engine
        self._images: list[Any] = list(images)
        self._names: list[str] = (list(names) if names is not None
                                  else [f"image {i}" for i in range(len(self._images))])
        self._activation_memo: tuple[tuple[str, int], np.ndarray] | None = None
        #: What the last drawings of the current activation computed (see RenderMemo).
        self.render_memo = RenderMemo()
        self._ranking_memo: tuple[tuple[Any, ...], np.ndarray] | None = None
        self._contribution_memo: dict[tuple[str, int, int], np.ndarray] = {}
        self._relevance_memo: dict[tuple[str, int, int], np.ndarray] = {}
        self._relevance_methods: dict[str, Any] = {}
        self._predicted: dict[int, int] = {}
        self._compare_engine: ActivationEngine | None = None
        #: Labels of the data set's images (read when ``dataset`` is set).
        self.dataset_labels: Any = None
        #: Top images the dataset view keeps per channel (read when ``dataset`` is set).
        self.dataset_top_k = 9
        self.dataset_class_names: list[str] | None = None
        self._dataset_scans: Any = None
        self.layer = layer or self.default_layer()

    # -- images ----------------------------------------------------------------------
    @property
    def images(self) -> list[Any]:
        """The images to pick from, in order."""
        return list(self._images)

    @property
    def image_names(self) -> list[str]:
        """One display name per image."""
        return list(self._names)

    @property
    def image(self) -> Any:
        """The current image."""
        return self._images[self.image_index]

    def append_image(self, image: Any, name: str | None = None) -> int:
        """Check ``image`` with the engine, add it and return its index.

        Raises
        ------
        CnnvizError
            The engine's reason for an unusable image (also shown in the panel).
        """
        from ...engine.coerce import image_list

        try:
            (image,) = image_list([image], self.engine.input_shape)
            self.engine.prepare(image)  # raises a clear error for an unusable image
        except CnnvizError as error:
            raise report_error(self, error) from None
        self._images.append(image)
        self._names.append(name or f"image {len(self._images) - 1}")
        return len(self._images) - 1

    # -- layers ----------------------------------------------------------------------
    def default_layer(self) -> str:
        """The first convolution with maps (or a sequence), else the first layer with maps,
        else the first sequence or token layer."""
        layers = self.engine.layers
        for wanted in (lambda i: i.kind == "conv" and i.is_spatial,
                       lambda i: i.kind == "conv" and i.layout in ("sequence", "volume"),
                       lambda i: i.is_spatial,
                       lambda i: i.layout in ("sequence", "tokens")):
            for info in layers:
                if wanted(info):
                    return info.name
        return layers[0].name

    @property
    def is_spatial(self) -> bool:
        """True when the current layer has maps (H, W[, C]); False for vectors."""
        return self.engine.layer(self.layer).is_spatial

    @property
    def has_channels(self) -> bool:
        """True when the current layer is shown channel by channel: maps, a sequence
        (T, C) or tokens (T, D); False for vectors."""
        return self.engine.layer(self.layer).layout in ("image", "plane", "sequence", "tokens",
                                                        "volume")

    @property
    def is_volume(self) -> bool:
        """True when the current layer is a volume (D, H, W, C), shown slice by slice."""
        return self.engine.layer(self.layer).layout == "volume"

    def depth_count(self) -> int:
        """Slices of the current layer (1 for a layer that is not a volume)."""
        info = self.engine.layer(self.layer)
        return int(info.output_shape[0] or 1) if info.layout == "volume" else 1

    def channel_count(self) -> int:
        """Channels of the current layer (1 for (H, W) maps; units for a vector)."""
        return int(self.engine.layer(self.layer).channels or 1)

    def page_count(self) -> int:
        """Pages of the grid (1 for vector layers)."""
        if not self.layer or not self.has_channels:
            return 1
        return page_count(self.channel_count(), self.per_page)

    # -- derived values --------------------------------------------------------------
    def current_activation(self) -> np.ndarray:
        """The current layer's activation for the current image (no batch axis)."""
        key = (self.layer, self.image_index)
        if self._activation_memo is None or self._activation_memo[0] != key:
            self._activation_memo = (key, self.engine.activation(self.layer, self.image))
        return self._activation_memo[1]

    def current_maps(self) -> LayerMaps:
        """The current activation laid out as maps (:func:`~cnnviz_widgets.layout.tokens.
        layer_maps`): a sequence as maps of height 1, a token grid as its patches' maps, a
        volume's slice or slices (:meth:`maps_of`)."""
        return self.maps_of(self.current_activation())

    def maps_of(self, activation: np.ndarray) -> LayerMaps:
        """An activation of the current layer laid out as maps, as :meth:`current_maps`:
        for a volume, :func:`~cnnviz_widgets.layout.volume.volume_maps` of ``depth``
        and ``volume_view``."""
        info = self.engine.layer(self.layer)
        if info.layout == "volume":
            return volume_maps(activation, self.volume_view, self.depth, self.channel or 0)
        return layer_maps(activation, info.layout, info.token_grid)

    def channel_ranking(self) -> np.ndarray:
        """Every channel in grid order, memoised per (layer, image, order[, class])."""
        order = self.channel_order
        key: tuple[Any, ...] = (self.layer, self.image_index, order, self.depth)
        if order in ("class", "relevance"):
            key += (self.ranked_class(),)
        if self._ranking_memo is None or self._ranking_memo[0] != key:
            maps = self.current_maps().maps
            scores = (self.class_contributions() if order == "class"
                      else self.relevance_scores() if order == "relevance" else None)
            self._ranking_memo = (key, order_channels(maps, order, scores=scores))
        return self._ranking_memo[1]

    def compared_activation(self) -> np.ndarray:
        """What the current view is compared with: the current layer's activation for
        image ``compare_index`` ("image"), or for the current image in ``compare_model``
        ("model"); from the engines' caches after the first time.

        Raises
        ------
        LayerNotFoundError, LayerNotViewableError
            When the compared model has no such layer, or one of another shape.
        """
        if self.compare == "image":
            return self.engine.activation(self.layer, self._images[self.compare_index])
        other = self.compare_engine
        if other is None:
            raise InvalidSettingError(
                "Nothing to compare with: set compare_model to a model first.")
        mine = self.engine.layer(self.layer)
        try:
            theirs = other.layer(self.layer)
        except LayerNotFoundError as error:
            raise LayerNotViewableError(
                f"The compared model has no layer {self.layer!r}; the two models must have "
                f"the same layer names (two checkpoints of one network). {error}") from None
        if tuple(theirs.output_shape) != tuple(mine.output_shape):
            raise LayerNotViewableError(
                f"Layer {self.layer!r} has output shape {mine.output_shape} here but "
                f"{theirs.output_shape} in the compared model; only layers of the same "
                "shape can be compared.")
        return other.activation(self.layer, self.image)

    def ranked_class(self) -> int:
        """The class of the "class" and "relevance" orders: ``target``, else the image's
        predicted class (from the engine's cached output). A segmentation model has no
        one class score: that is an error that says so."""
        needs_classifier(self.engine, f"The {self.channel_order!r} channel order")
        if self.target is not None:
            return int(self.target)
        if self.image_index not in self._predicted:  # once per image: no model call later
            output = self.engine.activation(self.engine.output, self.image)
            self._predicted[self.image_index] = int(np.argmax(np.asarray(output).reshape(-1)))
        return self._predicted[self.image_index]

    def class_contributions(self) -> np.ndarray:
        """Each channel's contribution to :meth:`ranked_class` (mean over positions of
        gradient x activation), computed once per (layer, image, class)."""
        from ...attribution.contributions import ChannelContributions

        key = (self.layer, self.image_index, self.ranked_class())
        if key not in self._contribution_memo:
            method = ChannelContributions(self.engine, self.layer)
            self._contribution_memo[key] = method(self.image, target=key[2])
        return self._contribution_memo[key]

    def relevance_scores(self) -> np.ndarray:
        """Each channel's relevance for :meth:`ranked_class` (concept relevance,
        :meth:`~cnnviz_widgets.attribution.ChannelRelevance.scores`), computed once per
        (layer, image, class)."""
        from ...attribution.relevance import ChannelRelevance

        key = (self.layer, self.image_index, self.ranked_class())
        if key not in self._relevance_memo:
            if self.layer not in self._relevance_methods:
                self._relevance_methods[self.layer] = ChannelRelevance(self.engine, self.layer)
            method = self._relevance_methods[self.layer]
            self._relevance_memo[key] = method.scores(self.image, target=key[2])
        return self._relevance_memo[key]

    def page_channels(self) -> np.ndarray:
        """The channels on the current page of the grid, in display order."""
        return page_of(self.channel_ranking(), self.page, self.per_page)

    def forget(self) -> None:
        """Drop the memoised activation and order (after the model's weights changed)."""
        self._activation_memo = None
        self.render_memo = RenderMemo()
        self._ranking_memo = None
        self._contribution_memo = {}
        self._relevance_memo = {}
        self._relevance_methods = {}
        self._predicted = {}

    # -- validation ------------------------------------------------------------------
    @validate("layer")
    def _valid_layer(self, proposal: dict) -> str:
        name = proposal["value"]
        try:
            self.engine.layer(name)
        except CnnvizError as error:
            raise report_error(self, error) from None
        return name

    @validate("channel")
    def _valid_channel(self, proposal: dict) -> int | None:
        value = proposal["value"]
        if value is None or not self.layer:
            return value
        return check_index(self, value, self.channel_count(), "channel",
                           f"layer {self.layer!r}", "Use channel=None to see them all.")

    @validate("depth")
    def _valid_depth(self, proposal: dict) -> int:
        if not self.layer:
            return proposal["value"]
        return check_index(self, proposal["value"], self.depth_count(), "slice",
                           f"layer {self.layer!r}")

    @validate("image_index")
    def _valid_image_index(self, proposal: dict) -> int:
        return check_index(self, proposal["value"], len(self._images), "image", "the panel")

    @validate("target")
    def _valid_target(self, proposal: dict) -> int | None:
        value = proposal["value"]
        if value is None:
            return None
        classes = int(self.engine.layer(self.engine.output).channels or 1)
        return check_index(self, value, classes, "class", "the model's output",
                           "Use target=None for the predicted class.")

    @validate("compare")
    def _valid_compare(self, proposal: dict) -> str | None:
        value = proposal["value"]
        if value is not None and value not in COMPARE_MODES:
            raise report_error(self, InvalidSettingError(
                f"compare must be None, 'image' or 'model', not {value!r}."))
        if value == "model" and self.compare_engine is None:
            raise report_error(self, InvalidSettingError(
                "To compare two models, set compare_model to the other model (for example "
                "an earlier checkpoint of this one)."))
        return value

    @validate("compare_index")
    def _valid_compare_index(self, proposal: dict) -> int:
        return check_index(self, proposal["value"], len(self._images), "image", "the panel")

    @validate("compare_model")
    def _valid_compare_model(self, proposal: dict) -> Any:
        value = proposal["value"]
        from ...engine.coerce import as_engine

        try:
            other = as_engine(value, preprocess=self.engine.preprocess)
        except CnnvizError as error:
            raise report_error(self, error) from None
        self._compare_engine = other
        return value

    @property
    def compare_engine(self) -> ActivationEngine | None:
        """The engine of ``compare_model`` (None without one)."""
        return self._compare_engine if self.compare_model is not None else None

    @validate("page")
    def _valid_page(self, proposal: dict) -> int:
        return check_index(self, proposal["value"], self.page_count(), "page",
                           "this layer's grid")

    @validate("dataset")
    def _valid_dataset(self, proposal: dict) -> Any:
        """Check the set (no scan yet) and keep its :class:`DatasetScans` for the view."""
        value = proposal["value"]
        if value is None:
            self._dataset_scans = None
            return None
        from ...engine.scan.cache import DatasetScans

        try:
            self._dataset_scans = DatasetScans(
                self.engine, value, labels=self.dataset_labels,
                class_names=self.dataset_class_names, top_k=self.dataset_top_k)
        except CnnvizError as error:
            raise report_error(self, error) from None
        return value

    @property
    def dataset_scans(self) -> Any:
        """The :class:`~.dataset.DatasetScans` of ``dataset`` (None without one)."""
        return self._dataset_scans if self.dataset is not None else None

    @validate("colormap")
    def _valid_colormap(self, proposal: dict) -> str:
        import matplotlib

        value = proposal["value"]
        if value not in matplotlib.colormaps:
            raise report_error(self, InvalidSettingError(
                f"{value!r} is not a matplotlib colour map; try one of "
                + ", ".join(repr(c) for c in COLORMAPS) + "."))
        return value

    def keep_consistent(self, name: str) -> None:
        """After ``name`` changed, bring the others back into range (a new layer may have
        fewer channels or pages)."""
        if name != "layer":
            return
        if self.channel is not None and self.channel >= self.channel_count():
            self.channel = None
        if self.page >= self.page_count():
            self.page = 0
        if self.depth >= self.depth_count():
            self.depth = self.depth_count() - 1
