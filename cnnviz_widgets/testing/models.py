"""Builders of tiny, seeded Keras models covering the shapes the engine must handle."""

from __future__ import annotations

from typing import Any


def _seeded(seed: int) -> None:
    from cnnviz_widgets._keras import keras

    keras.utils.set_random_seed(seed)


def tiny_cnn(input_shape: tuple[int, int, int] = (8, 8, 1), seed: int = 0) -> Any:
    """A two-conv Sequential model: conv_a (4 ch) -> pool -> conv_b (6 ch) -> flatten -> dense."""
    from cnnviz_widgets._keras import keras

    layers = keras.layers

    _seeded(seed)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a"),
            layers.MaxPooling2D(2, name="pool_a"),
            layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_b"),
            layers.Flatten(name="flatten"),
            layers.Dense(3, activation="softmax", name="probs"),
        ],
        name="tiny_cnn",
    )


def digits_like_cnn(seed: int = 0) -> Any:
    """The tutorial MNIST CNN architecture (110,474 parameters), randomly initialised."""
    from cnnviz_widgets._keras import keras

    layers = keras.layers

    _seeded(seed)
    model = keras.Sequential(name="digits_like_cnn")
    model.add(keras.Input((28, 28, 1)))
    for i, filters in enumerate((32, 64, 128), start=1):
        model.add(layers.Conv2D(filters, 3, activation="relu", name=f"conv{i}"))
        model.add(layers.MaxPooling2D(2, name=f"pool{i}"))
        model.add(layers.Dropout(0.3, name=f"drop{i}"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dense(128, activation="relu", name="dense1"))
    model.add(layers.Dense(10, activation="softmax", name="predictions"))
    return model


def skip_connection_model(input_shape: tuple[int, int, int] = (16, 16, 3), seed: int = 0) -> Any:
    """A functional model with a ResNet-style block: two branches, a skip and an Add."""
    from cnnviz_widgets._keras import keras

    layers = keras.layers

    _seeded(seed)
    inp = keras.Input(input_shape, name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inp)
    y = layers.Conv2D(8, 3, padding="same", name="res_conv1")(x)
    y = layers.BatchNormalization(name="res_bn")(y)
    y = layers.ReLU(name="res_relu")(y)
    y = layers.Conv2D(8, 3, padding="same", name="res_conv2")(y)
    z = layers.Add(name="res_add")([x, y])
    z = layers.Activation("relu", name="res_out")(z)
    b = layers.Conv2D(4, 1, name="side_conv")(x)
    m = layers.Concatenate(name="merge")([z, b])
    p = layers.GlobalAveragePooling2D(name="gap")(m)
    out = layers.Dense(5, activation="softmax", name="probs")(p)
    return keras.Model(inp, out, name="skip_model")


def nested_backbone_model(input_shape: tuple[int, int, int] = (32, 32, 3), seed: int = 0) -> Any:
    """Transfer-learning shape: a functional backbone used as one layer of an outer model.

    The backbone (named ``backbone``) itself contains a nested Sequential block
    (``backbone/block``), so paths go two levels deep.
    """
    from cnnviz_widgets._keras import keras

    layers = keras.layers

    _seeded(seed)
    block = keras.Sequential(
        [
            keras.Input((input_shape[0] // 2, input_shape[1] // 2, 8)),
            layers.Conv2D(8, 3, padding="same", activation="relu", name="conv"),
            layers.MaxPooling2D(2, name="pool"),
        ],
        name="block",
    )
    b_in = keras.Input(input_shape, name="backbone_input")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(b_in)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = block(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    backbone = keras.Model(b_in, x, name="backbone")

    inp = keras.Input(input_shape, name="image")
    h = layers.Rescaling(1.0, name="identity_scale")(inp)
    h = backbone(h)
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    h = layers.Dense(16, activation="relu", name="head")(h)
    out = layers.Dense(4, activation="softmax", name="probs")(h)
    return keras.Model(inp, out, name="transfer_model")
