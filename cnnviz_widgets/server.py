"""A Jupyter server extension: kernel websockets send without Nagle's delay.

Every change in an explorer makes the kernel send a small message (ipywidgets' echo of the
new value) and then the picture. jupyter_server's kernel websocket is a Tornado
``WebSocketHandler``, which leaves Nagle's algorithm on (``set_nodelay`` is off by
default): the picture's last TCP segment then waits until the browser acknowledges the
small message, and browsers delay that acknowledgement by up to about 40 ms. With
``TCP_NODELAY`` on the server's socket, the picture leaves at once. Tornado's own
documentation of ``WebSocketHandler.set_nodelay`` recommends it for this case.

The extension wraps the ``open`` of jupyter_server's ``KernelWebsocketHandler`` (which
JupyterLab, Notebook 7 and Voila as a server extension use; Voila's standalone handler
derives from it) to call ``self.set_nodelay(True)`` before the connection starts. It is
enabled on install by ``etc/jupyter/jupyter_server_config.d/cnnviz_widgets.json``;
``jupyter server extension disable cnnviz_widgets`` turns it off. It imports nothing
but the standard library and jupyter_server, and never stops the server from starting:
when the handler class is not where it is expected, it logs and does nothing.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["enable_nodelay", "is_enabled", "kernel_websocket_handler"]

#: Where jupyter_server keeps the kernel websocket handler: 2.x, then 1.x.
HANDLERS = (
    ("jupyter_server.services.kernels.websocket", "KernelWebsocketHandler"),
    ("jupyter_server.services.kernels.handlers", "ZMQChannelsHandler"),
)
_MARK = "_cnnviz_nodelay"
_log = logging.getLogger(__name__)


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Turn ``TCP_NODELAY`` on for the kernel websockets of ``serverapp``; log, never raise."""
    log = getattr(serverapp, "log", None) or _log
    try:
        handler = kernel_websocket_handler()
        if handler is None:
            log.warning("cnnviz_widgets: no kernel websocket handler found in jupyter_server; "
                        "kernel websockets keep Nagle's algorithm")
            return
        wrapped = enable_nodelay(handler)
    except Exception as error:  # noqa: BLE001 - an optional speed-up never stops a server
        log.warning("cnnviz_widgets: kernel websockets keep Nagle's algorithm (%s: %s)",
                    type(error).__name__, error)
        return
    log.info("cnnviz_widgets: TCP_NODELAY on kernel websockets (%s.%s%s)",
             handler.__module__, handler.__qualname__, "" if wrapped else ", already on")


def kernel_websocket_handler() -> type | None:
    """jupyter_server's kernel websocket handler class, or None when it is not found."""
    for module_name, class_name in HANDLERS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        handler = getattr(module, class_name, None)
        if isinstance(handler, type) and callable(getattr(handler, "open", None)):
            return handler
    return None


def is_enabled(handler: type) -> bool:
    """Whether ``handler.open`` (or an inherited one) already sets ``TCP_NODELAY``."""
    return bool(getattr(getattr(handler, "open", None), _MARK, False))


def enable_nodelay(handler: type) -> bool:
    """Wrap ``handler.open`` to call ``self.set_nodelay(True)`` first.

    Parameters
    ----------
    handler
        A Tornado ``WebSocketHandler`` subclass; its subclasses that do not override
        ``open`` get the wrapper too.

    Returns
    -------
    bool
        True if the wrapper was installed now, False if it was already there.
    """
    if is_enabled(handler):
        return False
    original = handler.open
    handler.open = _with_nodelay(original)
    return True


def _set_nodelay(websocket: Any) -> None:
    try:
        websocket.set_nodelay(True)
    except Exception as error:  # noqa: BLE001 - a closed or unusual stream: send as before
        _log.debug("cnnviz_widgets: set_nodelay failed: %s", error)


def _with_nodelay(original: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def open_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            _set_nodelay(self)
            return await original(self, *args, **kwargs)

        wrapper: Callable[..., Any] = open_async
    else:

        @functools.wraps(original)
        def open_sync(self: Any, *args: Any, **kwargs: Any) -> Any:
            _set_nodelay(self)
            return original(self, *args, **kwargs)

        wrapper = open_sync
    setattr(wrapper, _MARK, True)
    return wrapper
