"""Small deterministic Keras models for tests, examples and documentation.

Every builder seeds its own weights, so two calls give identical models.
"""

from .models import (
    ClassToken,
    CountingLayer,
    PositionEmbedding,
    SplitChannels,
    TakeToken,
    counting_cnn,
    digits_like_cnn,
    image_and_metadata_cnn,
    multi_output_layer_model,
    nested_backbone_model,
    shared_layer_model,
    skip_connection_model,
    tiny_cnn,
    tiny_conv1d,
    tiny_regression_cnn,
    tiny_segmentation_cnn,
    tiny_text_model,
    tiny_vit,
    two_head_cnn,
    two_image_cnn,
)
from .volumes import MOTIONS, moving_digits, tiny_volume_cnn, volume_cnn

__all__ = ["MOTIONS", "ClassToken", "CountingLayer", "PositionEmbedding", "SplitChannels",
           "TakeToken",
           "counting_cnn", "digits_like_cnn", "image_and_metadata_cnn",
           "multi_output_layer_model", "nested_backbone_model", "shared_layer_model",
           "skip_connection_model", "tiny_cnn", "tiny_conv1d", "tiny_segmentation_cnn",
           "tiny_text_model", "tiny_vit", "two_head_cnn", "two_image_cnn", "moving_digits",
           "tiny_volume_cnn", "volume_cnn",
           "tiny_regression_cnn"]
