"""Fault knobs: switched on through a token-protected admin API, shared by all
workers of a service, and expiring on their own.

State lives in one small JSON file per service, written atomically under a lock
and re-read by a worker only when its modification time changes, so checking a
knob on every request costs one `stat`. Each knob declares its parameters
(type, default, bounds); a request with anything else gets a 400.

A service's factory puts its store in `app.extensions["fault_store"]`; code
reads it with `fault_store()`.
"""
import contextlib
import fcntl
import hmac
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from app.common.errors import ApiError
from app.common.parsing import is_finite_number, json_object_body

DEFAULT_DURATION_SECONDS = 300
MAX_DURATION_SECONDS = 3600


@dataclass(frozen=True)
class Param:
    """One parameter of a knob: type, default and inclusive bounds."""
    kind: type
    default: object
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()


@dataclass(frozen=True)
class Knob:
    """A fault a service can be told to inject."""
    name: str
    description: str
    params: dict = field(default_factory=dict)

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Return the knob's parameters from raw JSON, or raise ApiError(400)."""
        unknown = sorted(set(raw) - set(self.params))
        if unknown:
            raise ApiError(400, "unknown_parameter",
                           f"Fault {self.name} has no parameter {', '.join(unknown)}; "
                           f"it takes: {', '.join(sorted(self.params)) or 'none'}.")
        values = {}
        for name, spec in self.params.items():
            value = raw.get(name, spec.default)
            if spec.kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value) if abs(value) < 2**53 else math.inf  # a huge int is out of bounds anyway
            if not isinstance(value, spec.kind) or isinstance(value, bool) and spec.kind is not bool:
                raise ApiError(400, "invalid_parameter",
                               f"Parameter {name} of fault {self.name} must be a {spec.kind.__name__}.")
            if spec.kind is float and not math.isfinite(value):
                # NaN passes every bounds check (all comparisons are false) and is not valid JSON.
                raise ApiError(400, "invalid_parameter",
                               f"Parameter {name} of fault {self.name} must be a finite number.")
            if spec.minimum is not None and value < spec.minimum or \
                    spec.maximum is not None and value > spec.maximum:
                raise ApiError(400, "invalid_parameter",
                               f"Parameter {name} of fault {self.name} must be between "
                               f"{spec.minimum} and {spec.maximum}.")
            if spec.choices and value not in spec.choices:
                raise ApiError(400, "invalid_parameter",
                               f"Parameter {name} of fault {self.name} must be one of {', '.join(spec.choices)}.")
            values[name] = value
        return values


class FaultStore:
    """The knobs currently switched on, shared through a JSON file."""

    def __init__(self, path: str, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._cached_mtime = None
        self._cached = {}
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def active(self) -> dict[str, dict[str, Any]]:
        """Map of knob name -> {"params", "expires_at"} for unexpired knobs."""
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return {}
        if mtime != self._cached_mtime:
            with open(self.path) as state:
                self._cached = json.load(state)
            # Forgetting the mtime (None) only re-reads the file at every call: same answers, slower (equivalent).
            self._cached_mtime = mtime  # pragma: no mutate
        now = self.clock()
        return {name: entry for name, entry in self._cached.items() if entry["expires_at"] > now}

    def params(self, name: str) -> dict[str, Any] | None:
        """The parameters of an active knob, or None when it is off."""
        entry = self.active().get(name)
        return entry["params"] if entry else None

    def switch_on(self, name: str, params: dict[str, Any], duration_seconds: float) -> None:
        """Turn a knob on for duration_seconds (replacing any earlier setting)."""
        with self._update() as state:
            state[name] = {"params": params, "expires_at": self.clock() + duration_seconds}

    def switch_off(self, name: str | None = None) -> None:
        """Turn one knob (or, with no name, every knob) off."""
        with self._update() as state:
            if name is None:
                state.clear()
            else:
                state.pop(name, None)

    @contextlib.contextmanager
    def _update(self) -> Iterator[dict[str, Any]]:
        with open(self.path + ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = {}
                if os.path.exists(self.path):
                    with open(self.path) as current:
                        state = json.load(current)
                now = self.clock()
                state = {k: v for k, v in state.items() if v["expires_at"] > now}
                yield state
                self._write(state)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, state: dict[str, Any]) -> None:
        """Replace the state file atomically: write a temp file, then rename it over the old one.

        If the write fails (a full disk), the temp file is removed and the old state stays.
        """
        # The prefix only names the temp file: nothing looks for it (it is removed on failure, renamed on success).
        # mutmut reads a pragma on a statement's first line only, hence the name on a line of its own.
        temp_prefix = ".faults-"  # pragma: no mutate (an unobserved name)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(self.path)), prefix=temp_prefix)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(state, out,
                          allow_nan=False)  # pragma: no mutate (allow_nan=None is as false as False)
            os.replace(tmp, self.path)
        except BaseException:
            # tmp exists here (only os.replace, the last step, removes it): the suppress is for someone else's cleanup.
            with contextlib.suppress(FileNotFoundError):  # pragma: no mutate (unreachable unless raced)
                os.unlink(tmp)
            raise


def fault_store(app: Flask | None = None) -> FaultStore:
    """The service's FaultStore: of `app`, or of the app handling the current request."""
    return (current_app if app is None else app).extensions["fault_store"]


def require_token(expected: str) -> None:
    """Raise ApiError(401) unless the request carries `Authorization: Bearer <expected>`."""
    # Header names ignore case; a missing header's default only has to lack the Bearer scheme.
    header = request.headers.get("Authorization", "")  # pragma: no mutate (header name case, default)
    scheme, _, given = header.partition(" ")
    if scheme != "Bearer" or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "unauthorized",
                       "The admin API needs the header 'Authorization: Bearer <FAULT_TOKEN>'.",
                       {"WWW-Authenticate":  # pragma: no mutate (header names ignore case)
                        'Bearer realm="faults"'})


def admin_blueprint(store: FaultStore, knobs: Sequence[Knob], token: str) -> Blueprint:
    """The /admin/faults API for a service's knobs.

    A blueprint built per service (not a module-level `bp`) because its routes
    close over that service's store, knobs and token.
    """
    by_name = {knob.name: knob for knob in knobs}
    bp = Blueprint("admin", __name__, url_prefix="/admin")

    @bp.before_request
    def _authorise() -> None:
        require_token(token)

    def _knob(name: str) -> Knob:
        if name not in by_name:
            raise ApiError(404, "unknown_fault",
                           f"There is no fault {name}; known faults: {', '.join(sorted(by_name))}.")
        return by_name[name]

    def _listing() -> Response:
        active = store.active()
        now = store.clock()
        return jsonify(faults=[{
            "name": knob.name, "description": knob.description,
            "active": knob.name in active,
            "params": active[knob.name]["params"] if knob.name in active else None,
            "seconds_left": round(active[knob.name]["expires_at"] - now, 1) if knob.name in active else None,
            "parameters": {p: {"type": s.kind.__name__, "default": s.default, "minimum": s.minimum,
                               "maximum": s.maximum} for p, s in knob.params.items()},
        } for knob in knobs])

    @bp.get("/faults")
    def list_faults() -> Response:
        return _listing()

    @bp.put("/faults/<name>")
    def switch_on(name: str) -> Response:
        knob = _knob(name)
        body = dict(json_object_body()) if request.content_length else {}
        duration = body.pop("duration_seconds", DEFAULT_DURATION_SECONDS)
        if not is_finite_number(duration) or not 1 <= duration <= MAX_DURATION_SECONDS:
            raise ApiError(400, "invalid_duration",
                           f"duration_seconds must be a number from 1 to {MAX_DURATION_SECONDS}.")
        store.switch_on(knob.name, knob.validate(body), duration)
        return _listing()

    @bp.delete("/faults/<name>")
    def switch_off(name: str) -> Response:
        store.switch_off(_knob(name).name)
        return _listing()

    @bp.delete("/faults")
    def switch_off_all() -> Response:
        store.switch_off()
        return _listing()

    return bp
