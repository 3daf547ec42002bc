"""Small deterministic Keras models for tests, examples and documentation.

Every builder seeds its own weights, so two calls give identical models.
"""

from .models import (
    CountingLayer,
    SplitChannels,
    counting_cnn,
    digits_like_cnn,
    multi_output_layer_model,
    nested_backbone_model,
    shared_layer_model,
    skip_connection_model,
    tiny_cnn,
)

__all__ = ["CountingLayer", "SplitChannels", "counting_cnn", "digits_like_cnn",
           "multi_output_layer_model", "nested_backbone_model", "shared_layer_model",
           "skip_connection_model", "tiny_cnn"]
