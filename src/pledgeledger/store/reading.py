"""Reading stored events back: their record and the moment they were recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import msgspec
from eventsourcing.persistence import Mapper
from eventsourcing.utils import resolve_topic

__all__ = ["StateReader", "utc_text"]


def utc_text(moment: datetime) -> str:
    """A recorded time as fixed-width UTC text, so that text order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@lru_cache(maxsize=64)
def _event_class(topic: str) -> Any:
    return resolve_topic(topic)


class StateReader:
    """Reads the parts of a stored event the read models need: its record and recorded time.

    Equivalent to ``mapper.to_domain_event(stored).entry`` and ``.timestamp``, minus building
    the event object; a class with ``class_version > 1`` goes through the mapper's own
    upcasting path so that old records are read as the current code expects.
    """

    def __init__(self, mapper: Mapper[Any]) -> None:
        self._mapper = mapper
        self._decoder = msgspec.json.Decoder()
        self._times: dict[str, str] = {}

    def _recorded(self, raw: Any) -> str:
        iso = raw["_data_"] if type(raw) is dict else raw.isoformat()
        text = self._times.get(iso)
        if text is None:
            if len(self._times) > 10000:
                self._times.clear()
            text = self._times[iso] = utc_text(datetime.fromisoformat(iso))
        return text

    def decode(self, state: bytes) -> dict[str, Any]:
        """A stored event's state as a dict (a letter's ``Converted``: ``by`` and ``on``)."""
        mapper = self._mapper
        if mapper.cipher is not None:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor is not None:
            state = mapper.compressor.decompress(state)
        decoded: dict[str, Any] = mapper.transcoder.decode(state)
        return decoded

    def read(self, topic: str, state: bytes) -> tuple[dict[str, Any], str]:
        """The record (JSON-shaped, as stored) and the recorded time (:func:`utc_text`)."""
        mapper = self._mapper
        cls = _event_class(topic)
        plain = mapper.cipher is None and mapper.compressor is None
        if plain and getattr(cls, "class_version", 1) == 1:
            data = self._decoder.decode(state)
            if "class_version" not in data:
                return data["entry"], self._recorded(data["timestamp"])
        if mapper.cipher is not None:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor is not None:
            state = mapper.compressor.decompress(state)
        event_state: dict[str, Any] = mapper.transcoder.decode(state)
        class_version = getattr(cls, "class_version", 1)
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        return event_state["entry"], self._recorded(event_state["timestamp"])
