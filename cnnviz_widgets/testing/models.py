"""Builders of tiny, seeded Keras models covering the shapes the engine must handle."""

from __future__ import annotations

from collections import Counter
from typing import Any

from cnnviz_widgets._keras import keras


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
            *_two_convs(input_shape),
            layers.Flatten(name="flatten"),
            layers.Dense(3, activation="softmax", name="probs"),
        ],
        name="tiny_cnn",
    )


def _two_convs(input_shape: tuple[int, int, int]) -> list[Any]:
    """The input, conv_a (4 ch) -> pool_a -> conv_b (6 ch): the trunk of the tiny models."""
    from cnnviz_widgets._keras import keras

    layers = keras.layers
    return [
        keras.Input(input_shape),
        layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a"),
        layers.MaxPooling2D(2, name="pool_a"),
        layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_b"),
    ]


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


def shared_layer_model(input_shape: tuple[int, int, int] = (12, 12, 3), seed: int = 0) -> Any:
    """A functional model that calls one layer and one nested model twice each.

    ``stem`` (Conv2D) feeds the Conv2D ``shared`` twice in a row (``shared(shared(stem))``);
    ``sum`` adds the two calls; the one-layer Sequential ``block`` is then applied twice
    in a row; ``gap`` and ``probs`` make the head. The engine names the second calls
    ``shared:2`` and ``block:2/conv``.
    """
    layers = keras.layers

    _seeded(seed)
    inp = keras.Input(input_shape, name="image")
    stem = layers.Conv2D(4, 3, padding="same", activation="relu", name="stem")(inp)
    shared = layers.Conv2D(4, 3, padding="same", activation="relu", name="shared")
    first = shared(stem)
    second = shared(first)
    total = layers.Add(name="sum")([first, second])
    block = keras.Sequential(
        [keras.Input((input_shape[0], input_shape[1], 4)),
         layers.Conv2D(4, 3, padding="same", activation="tanh", name="conv")],
        name="block",
    )
    h = block(block(total))
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    out = layers.Dense(3, activation="softmax", name="probs")(h)
    return keras.Model(inp, out, name="shared_model")


class SplitChannels(keras.layers.Layer):
    """A layer with two outputs: the first ``k`` channels and the remaining ones."""

    def __init__(self, k: int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        self.k = k

    def call(self, x: Any) -> tuple[Any, Any]:
        return x[..., : self.k], x[..., self.k:]

    def compute_output_shape(self, shape: tuple) -> tuple[tuple, tuple]:
        return (*shape[:-1], self.k), (*shape[:-1], shape[-1] - self.k)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "k": self.k}


def multi_output_layer_model(input_shape: tuple[int, int, int] = (10, 10, 3),
                             seed: int = 0) -> Any:
    """A model whose layer ``split`` (:class:`SplitChannels`) returns two tensors.

    ``conv`` (4 ch) -> ``split`` -> ``left`` (Conv2D on the first channel) and ``right``
    (Conv2D on the other three) -> ``cat`` (Concatenate) -> ``gap`` -> ``probs``.
    """
    layers = keras.layers

    _seeded(seed)
    inp = keras.Input(input_shape, name="image")
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
    one, rest = SplitChannels(1, name="split")(x)
    left = layers.Conv2D(2, 1, name="left")(one)
    right = layers.Conv2D(2, 1, name="right")(rest)
    h = layers.Concatenate(name="cat")([left, right])
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    out = layers.Dense(2, activation="softmax", name="probs")(h)
    return keras.Model(inp, out, name="multi_output_model")


class CountingLayer(keras.layers.Layer):
    """Wraps a layer and adds one to ``counter[name]`` each time it runs on real values.

    Calls on symbolic tensors (while Keras builds a model) are not counted, so the
    counter says exactly how many times something ran the wrapped layer.
    """

    def __init__(self, inner: Any, counter: Counter, **kwargs: Any):
        super().__init__(name=kwargs.pop("name", inner.name), **kwargs)
        self.inner = inner
        self._count = counter.update  # a bound method: Keras does not wrap it as it would a dict

    @property
    def counter(self) -> Counter:
        """The counter this layer adds to."""
        return self._count.__self__

    def build(self, shape: Any) -> None:
        self.inner.build(shape)

    def call(self, x: Any) -> Any:
        if not isinstance(keras.tree.flatten(x)[0], keras.KerasTensor):
            self._count([self.name])
        return self.inner(x)

    def compute_output_shape(self, shape: tuple) -> tuple:
        return self.inner.compute_output_shape(shape)


def counting_cnn(counter: Counter | None = None, input_shape: tuple[int, int, int] = (16, 16, 1),
                 seed: int = 0) -> tuple[Any, Counter]:
    """A small functional CNN whose every layer counts its calls; returns (model, counter).

    Layers, each a :class:`CountingLayer`: ``conv1`` -> ``conv2`` -> ``add`` (of conv1
    and conv2) -> ``pool`` -> ``conv3`` -> ``flatten`` -> ``dense``. ``counter`` maps a
    layer name to the number of times the layer ran.
    """
    layers = keras.layers

    counter = Counter() if counter is None else counter

    def counted(layer: Any) -> CountingLayer:
        return CountingLayer(layer, counter)

    _seeded(seed)
    inp = keras.Input(input_shape, name="image")
    a = counted(layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"))(inp)
    b = counted(layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2"))(a)
    c = CountingLayer(_Sum(name="add_inner"), counter, name="add")([a, b])
    d = counted(layers.MaxPooling2D(2, name="pool"))(c)
    e = counted(layers.Conv2D(6, 3, padding="same", activation="relu", name="conv3"))(d)
    f = counted(layers.Flatten(name="flatten"))(e)
    out = counted(layers.Dense(3, name="dense"))(f)
    return keras.Model(inp, out, name="counting_cnn"), counter


class _Sum(keras.layers.Layer):
    """Element-wise sum of a list of tensors (a plain Add that takes one argument)."""

    def call(self, xs: Any) -> Any:
        return keras.ops.add(xs[0], xs[1])

    def compute_output_shape(self, shapes: Any) -> Any:
        return shapes[0]


def tiny_conv1d(length: int = 64, channels: int = 2, classes: int = 3, seed: int = 0) -> Any:
    """A 1-D convolutional classifier of signals of shape (``length``, ``channels``).

    ``conv1d_a`` (8 ch, kernel 5) -> ``pool1d`` -> ``conv1d_b`` (16 ch, kernel 3) -> ``gap1d``
    -> ``probs`` (softmax over ``classes``).
    """
    layers = keras.layers

    _seeded(seed)
    inp = keras.Input((length, channels), name="signal")
    x = layers.Conv1D(8, 5, padding="same", activation="relu", name="conv1d_a")(inp)
    x = layers.MaxPooling1D(2, name="pool1d")(x)
    x = layers.Conv1D(16, 3, padding="same", activation="relu", name="conv1d_b")(x)
    x = layers.GlobalAveragePooling1D(name="gap1d")(x)
    out = layers.Dense(classes, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name="tiny_conv1d")


@keras.saving.register_keras_serializable(package="cnnviz_widgets")
class ClassToken(keras.layers.Layer):
    """Prepends one learned token to a sequence of tokens (N, T, D) -> (N, T + 1, D)."""

    def build(self, shape: tuple) -> None:
        self.token = self.add_weight(shape=(1, 1, shape[-1]), initializer="random_normal",
                                     name="token")

    def call(self, x: Any) -> Any:
        ops = keras.ops
        token = ops.broadcast_to(self.token, (ops.shape(x)[0], 1, ops.shape(x)[-1]))
        return ops.concatenate([token, x], axis=1)

    def compute_output_shape(self, shape: tuple) -> tuple:
        return (shape[0], None if shape[1] is None else shape[1] + 1, shape[2])


@keras.saving.register_keras_serializable(package="cnnviz_widgets")
class PositionEmbedding(keras.layers.Layer):
    """Adds one learned vector per token position to (N, T, D)."""

    def build(self, shape: tuple) -> None:
        self.positions = self.add_weight(shape=(1, shape[1], shape[2]),
                                         initializer="random_normal", name="positions")

    def call(self, x: Any) -> Any:
        return x + self.positions


@keras.saving.register_keras_serializable(package="cnnviz_widgets")
class TakeToken(keras.layers.Layer):
    """The token at ``index`` of (N, T, D): (N, D)."""

    def __init__(self, index: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.index = index

    def call(self, x: Any) -> Any:
        return x[:, self.index]

    def compute_output_shape(self, shape: tuple) -> tuple:
        return (shape[0], shape[2])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "index": self.index}


def tiny_vit(image_size: int = 16, patch: int = 4, dim: int = 12, heads: int = 2,
             classes: int = 3, class_token: bool = True, seed: int = 0) -> Any:
    """A one-block vision transformer built from Keras layers.

    ``patch_embed`` (Conv2D, stride ``patch``) -> ``patches`` (Reshape to tokens) ->
    [``class_token``] -> ``position`` -> ``norm1`` -> ``attention`` (MultiHeadAttention) ->
    ``residual1`` -> ``norm2`` -> ``mlp1`` -> ``mlp2`` -> ``residual2`` -> ``pooled``
    (the class token, or the mean of the tokens) -> ``probs``. The tokens after the
    class token form a (``image_size // patch``)-square grid.
    """
    layers = keras.layers

    _seeded(seed)
    grid = image_size // patch
    inp = keras.Input((image_size, image_size, 3), name="image")
    x = layers.Conv2D(dim, patch, strides=patch, name="patch_embed")(inp)
    x = layers.Reshape((grid * grid, dim), name="patches")(x)
    if class_token:
        x = ClassToken(name="class_token")(x)
    x = PositionEmbedding(name="position")(x)
    h = layers.LayerNormalization(name="norm1")(x)
    h = layers.MultiHeadAttention(heads, dim // heads, name="attention")(h, h)
    x = layers.Add(name="residual1")([x, h])
    h = layers.LayerNormalization(name="norm2")(x)
    h = layers.Dense(2 * dim, activation="gelu", name="mlp1")(h)
    h = layers.Dense(dim, name="mlp2")(h)
    x = layers.Add(name="residual2")([x, h])
    if class_token:
        x = TakeToken(0, name="pooled")(x)
    else:
        x = layers.GlobalAveragePooling1D(name="pooled")(x)
    out = layers.Dense(classes, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name="tiny_vit")


def image_and_metadata_cnn(image_shape: tuple[int, int, int] = (16, 16, 3), features: int = 4,
                           classes: int = 3, seed: int = 0) -> Any:
    """A model with two inputs: an image ``photo`` and a vector ``meta`` of ``features``.

    ``photo`` -> ``conv_a`` -> ``pool`` -> ``conv_b`` -> ``gap``; ``meta`` -> ``meta_dense``;
    both -> ``joined`` (Concatenate) -> ``probs``.
    """
    layers = keras.layers

    _seeded(seed)
    photo = keras.Input(image_shape, name="photo")
    meta = keras.Input((features,), name="meta")
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_a")(photo)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_b")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    m = layers.Dense(4, activation="relu", name="meta_dense")(meta)
    h = layers.Concatenate(name="joined")([x, m])
    out = layers.Dense(classes, activation="softmax", name="probs")(h)
    return keras.Model([photo, meta], out, name="image_and_metadata_cnn")


def two_image_cnn(image_shape: tuple[int, int, int] = (12, 12, 1), seed: int = 0) -> Any:
    """A model comparing two images ``left`` and ``right`` with one shared ``conv`` branch.

    ``conv`` runs on both (``conv`` and ``conv:2``) -> ``gap`` / ``gap:2`` ->
    ``difference`` (Subtract) -> ``same`` (sigmoid).
    """
    layers = keras.layers

    _seeded(seed)
    left = keras.Input(image_shape, name="left")
    right = keras.Input(image_shape, name="right")
    conv = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")
    gap = layers.GlobalAveragePooling2D(name="gap")
    d = layers.Subtract(name="difference")([gap(conv(left)), gap(conv(right))])
    out = layers.Dense(1, activation="sigmoid", name="same")(d)
    return keras.Model([left, right], out, name="two_image_cnn")


def two_head_cnn(input_shape: tuple[int, int, int] = (16, 16, 3), seed: int = 0) -> Any:
    """A model with two outputs: ``kind`` (3 classes) and ``colour`` (2 classes).

    ``conv`` -> ``split`` (:class:`SplitChannels`, two outputs) -> ``conv_kind`` /
    ``conv_colour`` -> ``gap_kind`` / ``gap_colour`` -> ``kind`` / ``colour`` (softmax).
    """
    layers = keras.layers

    _seeded(seed)
    inp = keras.Input(input_shape, name="image")
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="conv")(inp)
    a, b = SplitChannels(3, name="split")(x)
    a = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_kind")(a)
    b = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_colour")(b)
    kind = layers.Dense(3, activation="softmax", name="kind")(
        layers.GlobalAveragePooling2D(name="gap_kind")(a))
    colour = layers.Dense(2, activation="softmax", name="colour")(
        layers.GlobalAveragePooling2D(name="gap_colour")(b))
    return keras.Model(inp, [kind, colour], name="two_head_cnn")


def tiny_text_model(length: int = 20, vocabulary: int = 50, seed: int = 0) -> Any:
    """A text classifier whose input is ``length`` token ids: ``embedding`` -> ``conv1d``
    -> ``gap1d`` -> ``probs``. Its input is not an image or a signal."""
    layers = keras.layers

    _seeded(seed)
    inp = keras.Input((length,), dtype="int32", name="tokens")
    x = layers.Embedding(vocabulary, 8, name="embedding")(inp)
    x = layers.Conv1D(8, 3, padding="same", activation="relu", name="conv1d")(x)
    x = layers.GlobalAveragePooling1D(name="gap1d")(x)
    out = layers.Dense(2, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name="tiny_text_model")


def tiny_segmentation_cnn(input_shape: tuple[int, int, int] = (16, 16, 1), classes: int = 3,
                          seed: int = 0) -> Any:
    """A small fully convolutional network with a per-pixel softmax output.

    conv_a (4 ch) -> pool -> conv_b (8 ch) -> upsample -> conv_c (4 ch) -> ``logits``
    (1x1 conv, ``classes`` channels) -> ``probs`` (softmax over the last axis); the output has
    shape (batch, height, width, classes).
    """
    from cnnviz_widgets._keras import keras

    layers = keras.layers

    _seeded(seed)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a"),
            layers.MaxPooling2D(2, name="pool_a"),
            layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_b"),
            layers.UpSampling2D(2, name="up"),
            layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_c"),
            layers.Conv2D(classes, 1, name="logits"),
            layers.Softmax(axis=-1, name="probs"),
        ],
        name="tiny_segmentation_cnn",
    )


def tiny_regression_cnn(input_shape: tuple[int, int, int] = (12, 12, 1), outputs: int = 1,
                        seed: int = 0) -> Any:
    """A small regression CNN: conv_a (4 ch) -> pool -> conv_b (6 ch) -> ``gap`` ->
    ``values`` (a linear Dense layer of ``outputs`` values, no softmax)."""
    from cnnviz_widgets._keras import keras

    layers = keras.layers

    _seeded(seed)
    return keras.Sequential(
        [
            *_two_convs(input_shape),
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Dense(outputs, name="values"),
        ],
        name="tiny_regression_cnn",
    )
