"""The base every panel stands on: engine in, an error box, one binding, our errors, close().

A panel is a ``VBox`` with

- an :class:`~cnnviz_widgets.engine.ActivationEngine` (built once from a model, or lent by
  the caller: :func:`~cnnviz_widgets.engine.coerce.as_engine`);
- an :class:`ErrorBox` where every :class:`~cnnviz_widgets.errors.CnnvizError` is shown
  in words a student understands, while the panel keeps working;
- trait types (:class:`Whole`, :class:`Text`, :class:`Choice`, :class:`Flag`) whose wrong
  values raise :class:`~cnnviz_widgets.errors.InvalidSettingError` and show it in the panel;
- one binding mechanism, :func:`bind`, between a control and a trait (both ways; a value the
  trait refuses is reported and the control snaps back);
- a recursive :meth:`Panel.close` that frees every widget the panel holds.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ipywidgets as w
import numpy as np
from traitlets import Bool, HasTraits, Int, Unicode

from ..checks import index_in, is_whole
from ..engine.coerce import as_engine
from ..errors import CnnvizError, InvalidSettingError, SelectionOutOfRangeError

__all__ = ["Binding", "Choice", "ErrorBox", "Flag", "Panel", "Text", "Whole", "bind",
           "check_index", "close_widgets", "report_error"]


def report_error(owner: Any, error: CnnvizError) -> CnnvizError:
    """:meth:`Panel.report` for any owner: show ``error`` in ``owner``'s error box when it
    has one (a panel, or a state mixed into one); return the error to raise.

    Trait types and state validators, which may belong to something other than a panel,
    report through this; a panel's own code calls ``self.report(error)``.
    """
    show = getattr(owner, "report", None)
    if callable(show):
        show(error)
    return error


def check_index(owner: Any, value: int, count: int, what: str, where: str,
                hint: str = "") -> int:
    """Return ``value`` when it numbers one of ``count`` things, else raise (and show) why.

    Parameters
    ----------
    owner : object
        The panel (or state) whose error box shows the message.
    value : int
        The index asked for.
    count : int
        How many there are.
    what : str
        What is counted, singular (``"channel"``, ``"image"``, ``"page"``, ``"filter"``).
    where : str
        What has them (``"layer 'conv2'"``, ``"the panel"``).
    hint : str
        A sentence to append (what to do instead).

    Raises
    ------
    SelectionOutOfRangeError
        With a message such as "There is no channel 64: layer 'conv2' has 64 channel(s),
        numbered 0 to 63."
    """
    try:
        return index_in(value, count, what, where, hint)
    except SelectionOutOfRangeError as error:
        raise report_error(owner, error) from None


class Whole(Int):
    """An int trait (numpy ints accepted) whose wrong-type error is InvalidSettingError."""

    def validate(self, obj: Any, value: Any) -> int | None:
        if value is None and self.allow_none:
            return None
        if not is_whole(value):
            extra = " or None" if self.allow_none else ""
            raise report_error(obj, InvalidSettingError(
                f"{self.name} must be a whole number{extra}, not {value!r}."))
        return int(value)


class Text(Unicode):
    """A str trait whose wrong-type error is InvalidSettingError."""

    def validate(self, obj: Any, value: Any) -> str:
        if not isinstance(value, str):
            raise report_error(obj, InvalidSettingError(
                f"{self.name} must be a name (a string), not {value!r}."))
        return value


class Choice(Text):
    """A str trait limited to ``choices``; other values raise InvalidSettingError.

    Parameters
    ----------
    choices : sequence of str
        The allowed values, in the order a menu shows them.
    default : str, optional
        Default value (the first choice when omitted).
    what : str, optional
        How the message names the setting (default: the trait's name).
    """

    def __init__(self, choices: Sequence[str], default: str | None = None, *,
                 what: str | None = None, **kwargs: Any) -> None:
        self.choices = tuple(choices)
        self.what = what
        super().__init__(default if default is not None else self.choices[0], **kwargs)

    def validate(self, obj: Any, value: Any) -> str:
        value = super().validate(obj, value)
        if value not in self.choices:
            raise report_error(obj, InvalidSettingError(
                f"{value!r} is not a valid {self.what or self.name}; choose one of "
                + ", ".join(repr(c) for c in self.choices) + "."))
        return value


class Flag(Bool):
    """A bool trait (numpy bools accepted) whose wrong-type error is InvalidSettingError."""

    def validate(self, obj: Any, value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise report_error(obj, InvalidSettingError(
                f"{self.name} must be True or False, not {value!r}."))
        return bool(value)


class ErrorBox(w.HTML):
    """A message box inside a panel; empty and hidden when there is nothing to say."""

    def __init__(self) -> None:
        super().__init__(value="", layout=w.Layout(display="none"))
        self.add_class("cnnviz-error")
        self._message = ""

    @property
    def message(self) -> str:
        """The plain-text message shown now ("" when hidden)."""
        return self._message

    def show(self, message: str) -> None:
        """Show ``message`` (plain text) as an error."""
        self._message = str(message)
        with self.hold_sync():
            self.value = (
                '<div style="background:#fdecea;color:#611a15;border-left:4px solid #e4572e;'
                f'padding:6px 10px;margin:4px 0">{html.escape(self._message)}</div>'
            )
            self.layout.display = None

    def clear(self) -> None:
        """Hide the box."""
        if self._message or self.value:
            self._message = ""
            with self.hold_sync():
                self.value = ""
                self.layout.display = "none"


class Binding:
    """A two-way link between a control's trait and a panel's trait (see :func:`bind`)."""

    def __init__(self, control: HasTraits, control_name: str, owner: HasTraits, name: str,
                 to_owner: Callable[[Any], Any], to_control: Callable[[Any], Any]) -> None:
        self.control, self.control_name = control, control_name
        self.owner, self.name = owner, name
        self._to_owner, self._to_control = to_owner, to_control
        self._busy = False
        control.observe(self._from_control, names=control_name)
        owner.observe(self._from_owner, names=name)
        self.push()

    def push(self) -> None:
        """Copy the owner's value into the control (no event reaches the owner)."""
        value = self._to_control(getattr(self.owner, self.name))
        if getattr(self.control, self.control_name) == value:
            return
        with self._guard():
            setattr(self.control, self.control_name, value)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        was, self._busy = self._busy, True
        try:
            yield
        finally:
            self._busy = was

    def _from_control(self, change: dict) -> None:
        if self._busy:
            return
        with self._guard():
            try:
                setattr(self.owner, self.name, self._to_owner(change["new"]))
            except CnnvizError:
                pass  # shown in the panel by the trait; the control snaps back below
        self.push()

    def _from_owner(self, change: dict) -> None:
        if not self._busy:
            self.push()

    def unlink(self) -> None:
        """Stop following both ways."""
        self.control.unobserve(self._from_control, names=self.control_name)
        self.owner.unobserve(self._from_owner, names=self.name)


def _same(value: Any) -> Any:
    return value


def bind(control: HasTraits, owner: HasTraits, name: str, *, control_name: str = "value",
         to_owner: Callable[[Any], Any] = _same,
         to_control: Callable[[Any], Any] = _same) -> Binding:
    """Keep ``control.value`` and ``owner.<name>`` equal, both ways: the one binding.

    Like ``traitlets.link`` with transforms, except that a value the owner refuses (a
    :class:`~cnnviz_widgets.errors.CnnvizError` from its validator, already shown in the
    panel) does not escape into the front end's message handler: the control snaps back to
    the owner's value.

    Parameters
    ----------
    control : HasTraits
        Usually an ipywidgets control.
    owner : HasTraits
        The panel (or its state) that holds the trait.
    name : str
        The owner's trait.
    control_name : str
        The control's trait (default ``"value"``).
    to_owner, to_control : callable
        Convert a value on its way to the owner / to the control.

    Returns
    -------
    Binding
        Call ``.unlink()`` to stop.
    """
    return Binding(control, control_name, owner, name, to_owner, to_control)


def _widget_tree(roots: Sequence[Any]) -> list[w.Widget]:
    """Every widget reachable from ``roots`` through widget traits and containers."""
    found: dict[int, w.Widget] = {}
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if isinstance(obj, (list, tuple, set)):
            stack.extend(obj)
            continue
        if isinstance(obj, dict):
            stack.extend(obj.values())
            continue
        if not isinstance(obj, w.Widget):
            continue
        if id(obj) in found or obj.comm is None:  # seen, or closed already
            continue
        found[id(obj)] = obj
        for name in obj.keys:
            stack.append(getattr(obj, name, None))
        # widgets a widget holds as plain attributes (a view's marks, spare images...)
        stack.extend(v for k, v in vars(obj).items()
                     if not k.startswith("_trait") and isinstance(v, (w.Widget, list, tuple, dict)))
    return list(found.values())


def close_widgets(roots: Sequence[Any], *, keep: Any = None) -> None:
    """Close every widget reachable from ``roots`` (children, layouts, styles...).

    ``Widget.close()`` closes one widget only; its layout, style and children stay in
    ipywidgets' registry until they are closed too.
    """
    for widget in _widget_tree(roots):
        if widget is not keep:
            widget.close()


class Panel(w.VBox):
    """Base of every panel: model-or-engine in, error box, our trait errors, close().

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The network; an engine is shared as it is (and never cleared by :meth:`close`).
    preprocess, cache_bytes : optional
        Passed to the engine built for a model.
    image_input, other_inputs, output : optional
        For a model with several inputs or outputs: the input that takes the image, the
        values held fixed for the others, and the output to explain; passed to the engine
        built for a model (see :class:`~cnnviz_widgets.engine.activations.ActivationEngine`).

    Attributes
    ----------
    engine : ActivationEngine
    errors : ErrorBox
        Where errors appear.
    """

    def __init__(self, model_or_engine: Any, *, preprocess: Any = None,
                 cache_bytes: int | None = None, image_input: int | str | None = None,
                 other_inputs: Any = None, output: int | str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        engine = as_engine(model_or_engine, preprocess=preprocess, cache_bytes=cache_bytes,
                           image_input=image_input, other_inputs=other_inputs, output=output)
        self._owns_engine = engine is not model_or_engine
        self.engine = engine
        self.errors = ErrorBox()
        self._bindings: list[Binding] = []
        self._hold = 0
        self._dirty = False

    # -- errors ----------------------------------------------------------------------
    def report(self, error: CnnvizError | str) -> CnnvizError | str:
        """Show ``error`` in the panel's error box and return it (to raise or ignore)."""
        box = getattr(self, "errors", None)
        if isinstance(box, ErrorBox):
            box.show(str(error))
        return error

    def clear_error(self) -> None:
        """Hide the error box."""
        self.errors.clear()

    # -- bindings --------------------------------------------------------------------
    def bind(self, control: HasTraits, name: str, **kwargs: Any) -> Binding:
        """Bind ``control`` to this panel's trait ``name`` (see :func:`bind`)."""
        binding = bind(control, self, name, **kwargs)
        self._bindings.append(binding)
        return binding

    @contextlib.contextmanager
    def updating_controls(self) -> Iterator[None]:
        """Change controls' ranges and options without their moves reaching the state.

        A slider whose maximum shrinks clamps its value, which would otherwise set the
        bound trait; afterwards every bound control shows its trait's value again.
        """
        guards = [binding._guard() for binding in self._bindings]
        with contextlib.ExitStack() as stack:
            for guard in guards:
                stack.enter_context(guard)
            yield
        for binding in self._bindings:
            binding.push()

    # -- drawing ---------------------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Apply several changes with a single redraw at the end."""
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1
            if self._hold == 0 and self._dirty:
                self._dirty = False
                self._draw()

    def request_draw(self) -> None:
        """Redraw now, or once at the end of the current :meth:`batch`."""
        self._dirty = True
        if self._hold == 0:
            self._dirty = False
            self._draw()

    def _draw(self) -> None:
        """Draw the panel's view (panels override this)."""

    # -- lifetime --------------------------------------------------------------------
    def close(self) -> None:
        """Close the panel and every widget inside it.

        Closed widgets leave ipywidgets' registry, so the panel, its engine (cleared when
        the panel built it) and their arrays can be garbage-collected. A panel whose
        construction failed half-way (a model it cannot show, no images) closes quietly
        too, when it is collected: only what was built is released.
        """
        built = vars(self)
        for binding in built.get("_bindings", ()):
            binding.unlink()
        self._bindings = []
        close_widgets([self], keep=self)  # its layout, children and widget attributes
        if built.get("_owns_engine", False):
            self.engine.clear_cache()
            self._owns_engine = False
        self._release()
        super().close()

    def _release(self) -> None:
        """Drop what the panel holds besides widgets (panels extend this). Called by
        :meth:`close`, also on a panel whose construction failed half-way, so it must
        only assign, never read what the constructor may not have reached."""
