"""Progbar: Keras 3's progress bar, `8/8 ━━━━━━━━━━━━━━━━━━━━ 0s 16ms/step - loss: 0.1234`.

The line looks as Keras draws it, ANSI colours included (bold counts and times, a green done part,
a grey rest). A redraw goes back over the previous line (`\\b` for each character drawn, then
`\\r`) and, when the new line is shorter, pads it with spaces to the old width, so no character of
the old line is left on screen. Where Keras decides the output cannot be redrawn (no terminal, no
notebook, not a POSIX system), each update starts a new line instead.
"""
import math
import numbers
import os
import sys
import time

import numpy as np

from .. import checks

__all__ = ["Progbar"]

_BOLD, _GREEN, _GREY, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"
_BAR = "\u2501"  # ━ ; "=" where the output cannot encode it, as Keras falls back


def _can_redraw(stream):
    """Keras's `_dynamic_display` test, asked of the stream the bar writes to."""
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):  # a closed or detached stream
        tty = False
    return (tty or "ipykernel" in sys.modules or "posix" in sys.modules
            or "PYCHARM_HOSTED" in os.environ)


def _format_step_time(seconds, unit_name):
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit_name}"
    return f" {seconds * 1e6:.0f}us/{unit_name}"


def _format_eta(seconds):
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def _mean(total, count):
    if not isinstance(total, float):
        total = np.mean(total)
    return total / max(1, count)


class Progbar:
    """A progress bar over `target` steps (None when the count is not known in advance).

    width: characters of the bar itself. verbose: 0 silent, 1 a live bar redrawn in place, 2 one
    line when the bar is finished. interval: least seconds between two redraws (the last update
    is always drawn). stateful_metrics: names whose values are shown as given; the others are
    averaged over the steps seen, weighted by steps (or give `stateless_metrics`, the names to
    average, instead). unit_name: what one step is called (`16ms/step`). stream: where to write
    (sys.stdout, looked up at each write, by default).
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step", *, stream=None):
        if target is not None:
            target = checks.non_negative_int(target, "Progbar argument target")
        width = checks.positive_int(width, "Progbar argument width")
        if isinstance(verbose, (bool, np.bool_)) or verbose not in (0, 1, 2):
            raise ValueError(f"Progbar argument verbose must be 0, 1 or 2; got {verbose!r}")
        interval = checks.check_float(interval, "Progbar argument interval", minimum=0.0)
        if not isinstance(unit_name, str):
            raise TypeError(f"Progbar argument unit_name must be a string; got "
                            f"{type(unit_name).__name__}")
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Progbar takes stateful_metrics (the names not to average) or "
                             "stateless_metrics (the names to average), not both")
        self.target, self.width, self.verbose = target, width, int(verbose)
        self.interval, self.unit_name, self.stream = interval, unit_name, stream
        if stateless_metrics is not None:
            self.stateful_metrics, self.stateless_metrics = None, set(stateless_metrics)
        else:
            self.stateful_metrics = set(stateful_metrics or ())
            self.stateless_metrics = None
        self._dynamic_display = _can_redraw(sys.stdout if stream is None else stream)
        self._seen_so_far = 0
        self._values, self._values_order = {}, []
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def update(self, current, values=None, finalize=None):
        """Show progress at step `current`; `values` are (name, value) pairs of this step.
        finalize: whether this is the last update (default: `current >= target`)."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(current, values or [], finalize)
        now = time.time()
        time_per_unit = self._step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._draw_live(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target:
            self._write(self._summary_line(current, now, time_per_unit))
        self._last_update = now

    def add(self, n, values=None):
        """Advance by `n` steps."""
        self.update(self._seen_so_far + n, values)

    # -- values ------------------------------------------------------------------------------

    def _record(self, current, values, finalize):
        for name, value in (values.items() if isinstance(values, dict) else values):
            if name not in self._values_order:
                self._values_order.append(name)
            if not isinstance(value, (numbers.Number, np.generic, np.ndarray)):
                self._values[name] = value  # a text or the like: shown as it is
                continue
            if self.stateful_metrics is not None:
                stateless = name not in self.stateful_metrics
            else:
                stateless = name in self.stateless_metrics
            if not stateless or finalize:
                self._values[name] = [value, 1]
                continue
            weight = max(current - self._seen_so_far, 1)
            if name in self._values:
                self._values[name][0] += value * weight
                self._values[name][1] += weight
            else:
                self._values[name] = [value * weight, weight]
        self._seen_so_far = current

    def _step_duration(self, current, now):
        """Seconds per step; the first step (compilation, warm caches) is left out once there
        are others to go by."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step

    # -- drawing -----------------------------------------------------------------------------

    def _draw_live(self, current, now, time_per_unit, finalize):
        # returns to the start of the old line; "visible" counts what is drawn, without the
        # colour codes, to know how many spaces blank out the rest of a longer old line
        message = ("\b" * self._prev_total_width + "\r") if self._dynamic_display else "\n"
        if self.target:
            digits = int(math.log10(self.target)) + 1
            count = f"%{digits}d/%d" % (current, self.target)
            done = int(self.width * float(current) / self.target)
            bar = f"{_BOLD}{count}{_RESET} "
            if done > 0:
                bar += f"{_GREEN}{_BAR * done}{_RESET}"
            bar += f"{_GREY}{_BAR * (self.width - done)}{_RESET}"
            visible = len(count) + 1 + self.width
        else:
            bar = "%7d/Unknown" % current
            visible = len(bar)
        if self.target and not finalize:
            clock = _format_eta(time_per_unit * (self.target - current))
        else:
            clock = f"{now - self._start:.0f}s"
        info = f" {_BOLD}{clock}{_RESET}" + _format_step_time(time_per_unit, self.unit_name)
        visible += 1 + len(clock) + len(_format_step_time(time_per_unit, self.unit_name))
        values = self._values_text(live=True)
        info += values
        visible += len(values)
        message += bar + info
        if self._prev_total_width > visible:
            message += " " * (self._prev_total_width - visible)
        if finalize:
            message += "\n"
        self._write(message)
        self._prev_total_width = visible

    def _summary_line(self, current, now, time_per_unit):
        digits = int(math.log10(self.target)) + 1
        count = f"%{digits}d/%d" % (current, self.target)
        return (f"{count} - {now - self._start:.0f}s -"
                f"{_format_step_time(time_per_unit, self.unit_name)}"
                f"{self._values_text(live=False)}\n")

    def _values_text(self, live):
        text = ""
        for name in self._values_order:
            if not isinstance(self._values[name], list):
                text += f" - {name}: {self._values[name]}"
                continue
            average = _mean(*self._values[name])
            # Keras's live bar picks the notation by magnitude, its one-line summary by value
            # (a negative value there is always in e-notation); both are kept as they are
            small = abs(average) <= 1e-3 if live else average <= 1e-3
            text += f" - {name}: {average:.4e}" if small else f" - {name}: {average:.4f}"
        return text

    def _write(self, message):
        stream = sys.stdout if self.stream is None else self.stream
        try:
            stream.write(message)
        except UnicodeEncodeError:
            encoding = getattr(stream, "encoding", None) or "utf-8"
            message = message.replace(_BAR, "=").encode(encoding, errors="ignore")
            stream.write(message.decode(encoding))
        stream.flush()
