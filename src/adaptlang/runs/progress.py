"""The one place where a progress callback that is not yet :class:`adaptlang.events.Event` meets it.

``adapt_model`` reports through its own event type (same kinds and field names); once it reports
:class:`adaptlang.events.Event`, :func:`adapt_progress` passes those through unchanged and can go.
"""

from __future__ import annotations

from typing import Any, Callable

from adaptlang.events import Event, Progress


def adapt_progress(progress: Progress) -> Callable[[Any], None]:
    """What ``adapt_model`` takes as its progress argument, reporting to ``progress``."""

    def forward(e: Any) -> None:
        if isinstance(e, Event):
            progress(e)
        else:
            progress(Event(e.kind, message=e.message, step=e.step, total=e.total, loss=e.loss,
                           tokens_per_second=e.tokens_per_second))

    return forward
