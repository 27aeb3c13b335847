"""eventsourcing's JSON format for stored events, written and read by msgspec.

Plugged in through eventsourcing's own seam (``Application.construct_transcoder``), so every
stored event goes through eventsourcing's mapper (topics, ``class_version`` and upcasting,
compression, encryption) and stays readable by a stock eventsourcing application: the bytes
are those ``JSONTranscoder`` reads (``benchmarks/transcoder.py`` measures both).

msgspec itself is not what makes it faster; walking the values in Python to find those that
need a transcoding costs as much as the stdlib's encoder. What does is not walking what needs
no work:

* encoding copies a container only when something inside it changed (a stored record is
  JSON-shaped already: only the timestamp needs a transcoding), and the timestamp every event
  of one batch shares is transcoded once;
* decoding revives nothing but the ``{"_type_": ..., "_data_": ...}`` objects, and knows from
  the bytes where they can be: without a backslash in the text every ``_type_`` key appears as
  the literal ``"_type_"``, so when the top-level fields account for every such literal (the
  stored timestamp), nothing below them is looked at. Anything else takes the full walk.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import JSONTranscoder, Transcoding, TranscodingNotRegisteredError

__all__ = ["JSONShaped", "MsgspecTranscoder"]

_JSON_NATIVE = frozenset((str, int, float, bool, type(None)))
_IMMUTABLE = (datetime, Decimal, UUID)
"""Types whose decoded values may be shared between events (a batch shares its timestamp)."""
_MARK = b'"_type_"'
_ESCAPE = b"\\"


class JSONShaped(dict[str, Any]):
    """A dict whose values are JSON-native all the way down (str, int, float, bool, None, and
    lists and dicts of them), which the :class:`MsgspecTranscoder` therefore writes without
    looking inside.

    The write path wraps the records it stores in it: they come from
    :func:`pledgeledger.formats.fast.fast_unstructure`, whose output equals the cattrs
    reference's JSON-shaped dicts (property-tested). Any other transcoder treats it as the dict
    it is; decoding gives plain dicts.
    """

    __slots__ = ()


class MsgspecTranscoder(JSONTranscoder):
    """eventsourcing's JSON format, encoded and decoded with msgspec.

    A subclass of ``JSONTranscoder`` so that ``Application.register_transcodings`` registers
    the usual UUID, Decimal and datetime transcodings on it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()
        self._last_encoded: tuple[Any, dict[str, Any]] = (None, {})
        self._last_decoded: dict[str, tuple[Any, Any]] = {}

    def _transcoding(self, kind: type) -> Transcoding:
        transcoding = self.types.get(kind)
        if transcoding is None:
            msg = (
                f"Object of type {kind} is not serializable. Please define and register a "
                "custom transcoding for this type."
            )
            raise TranscodingNotRegisteredError(msg)
        return transcoding

    def _prepare(self, obj: Any) -> Any:
        """``obj`` with every value that needs a transcoding replaced by its
        ``{"_type_", "_data_"}`` object; containers are copied only if something in them was
        replaced (a JSON-shaped value comes back as it is)."""
        kind = type(obj)
        if kind in _JSON_NATIVE or kind is JSONShaped:
            return obj
        if kind is dict:
            out = obj
            last, encoded = self._last_encoded
            for key, value in obj.items():
                if type(value) in _JSON_NATIVE or type(value) is JSONShaped:
                    continue
                new = encoded if value is last else self._prepare(value)
                if new is not value:
                    if out is obj:
                        out = dict(obj)
                    out[key] = new
            return out
        if kind is list:
            out = obj
            for index, value in enumerate(obj):
                if type(value) in _JSON_NATIVE:
                    continue
                new = self._prepare(value)
                if new is not value:
                    if out is obj:
                        out = list(obj)
                    out[index] = new
            return out
        if kind is tuple:
            return [self._prepare(v) for v in obj]
        last, encoded = self._last_encoded
        if obj is last:
            return encoded
        transcoding = self._transcoding(kind)
        encoded = {"_type_": transcoding.name, "_data_": self._prepare(transcoding.encode(obj))}
        if kind in _IMMUTABLE:
            self._last_encoded = (obj, encoded)
        return encoded

    def _revive_object(self, obj: dict[str, Any]) -> Any:
        """The value of a ``{"_type_", "_data_"}`` object whose data is revived already."""
        name = obj["_type_"]
        transcoding = self.names.get(name)
        if transcoding is None:
            msg = (
                f"Data serialized with name '{name}' is not deserializable. Please register "
                "a custom transcoding for this type."
            )
            raise TranscodingNotRegisteredError(msg)
        data = obj["_data_"]
        if type(data) is str:
            cached = self._last_decoded.get(name)
            if cached is not None and cached[0] == data:
                return cached[1]
            value = transcoding.decode(data)
            if isinstance(value, _IMMUTABLE):
                self._last_decoded[name] = (data, value)
            return value
        return transcoding.decode(data)

    def _revive(self, obj: Any) -> Any:
        """Every ``{"_type_", "_data_"}`` object in ``obj`` revived, innermost first (as
        ``JSONTranscoder``'s ``object_hook``), containers changed in place."""
        kind = type(obj)
        if kind is dict:
            for key, value in obj.items():
                kind = type(value)
                if kind is dict or kind is list:
                    obj[key] = self._revive(value)
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                return self._revive_object(obj)
            return obj
        if kind is list:
            for index, value in enumerate(obj):
                kind = type(value)
                if kind is dict or kind is list:
                    obj[index] = self._revive(value)
        return obj

    def _revive_top(self, obj: dict[str, Any], marks: int) -> bool:
        """Revive the top-level fields of ``obj`` that are transcoded scalars, if they are all
        the ``marks`` literal ``"_type_"`` of the text (so that nothing else is to revive);
        else change nothing and answer False."""
        if "_type_" in obj:
            return False
        found: list[str] = []
        for key, value in obj.items():
            if type(value) is dict and "_type_" in value:
                if len(value) != 2 or type(value.get("_data_")) is not str:
                    return False
                found.append(key)
        if len(found) != marks:
            return False
        for key in found:
            obj[key] = self._revive_object(obj[key])
        return True

    def encode(self, obj: Any) -> bytes:
        return self._encoder.encode(self._prepare(obj))

    def decode(self, data: bytes) -> Any:
        obj = self._decoder.decode(data)
        # (bytes.find is the cheapest scan here: measured faster than "in" and count.)
        if type(obj) is dict and data.find(_ESCAPE) < 0:
            first = data.find(_MARK)
            if first < 0:
                return obj
            if data.find(_MARK, first + len(_MARK)) < 0 and "_type_" not in obj:
                # The usual stored state: one transcoded value, the timestamp, at the top.
                for key, value in obj.items():
                    if type(value) is dict and "_type_" in value:
                        text = value.get("_data_")
                        if len(value) == 2 and type(text) is str:
                            cached = self._last_decoded.get(value["_type_"])
                            if cached is not None and cached[0] == text:
                                obj[key] = cached[1]
                            else:
                                obj[key] = self._revive_object(value)
                            return obj
                        break
            elif self._revive_top(obj, data.count(_MARK)):
                return obj
        return self._revive(obj)
