"""Labels for the layer dropdowns, and which layers a map over positions can explain."""

from __future__ import annotations

from ..engine.layers import LayerInfo

__all__ = ["has_positions", "layer_options"]

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


def has_positions(info: LayerInfo) -> bool:
    """True for a layer whose output has positions a heatmap can be drawn over: maps
    (H, W[, C]), a sequence (T, C) (a map over time), a volume (D, H, W, C), or tokens
    that form a patch grid."""
    return (info.is_spatial or info.layout in ("sequence", "volume")
            or info.token_grid is not None)
