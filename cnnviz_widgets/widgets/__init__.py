"""The interactive panels: controls wired to the engine and the renderers."""

from .explorer import FeatureMapExplorer, explore

__all__ = ["FeatureMapExplorer", "explore"]
