"""Small deterministic Keras models for tests, examples and documentation.

Every builder seeds its own weights, so two calls give identical models.
"""

from .models import (
    digits_like_cnn,
    nested_backbone_model,
    skip_connection_model,
    tiny_cnn,
)

__all__ = ["digits_like_cnn", "nested_backbone_model", "skip_connection_model", "tiny_cnn"]
