"""Labels for the layer dropdowns."""

from __future__ import annotations

from ..engine.layers import LayerInfo

__all__ = ["layer_options"]

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
