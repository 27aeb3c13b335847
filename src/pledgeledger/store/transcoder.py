"""eventsourcing's JSON format for stored events, written and read by msgspec.

Plugged in through eventsourcing's own seam (``Application.construct_transcoder``), so every
stored event goes through eventsourcing's mapper (topics, ``class_version`` and upcasting,
compression, encryption) and stays readable by a stock eventsourcing application.
"""

from __future__ import annotations

from typing import Any

import msgspec
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

__all__ = ["MsgspecTranscoder"]

_JSON_NATIVE = (str, int, float, bool, type(None))


class MsgspecTranscoder(JSONTranscoder):
    """eventsourcing's JSON format, encoded and decoded with msgspec.

    A subclass of ``JSONTranscoder`` so that ``Application.register_transcodings`` registers
    the usual UUID, Decimal and datetime transcodings on it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()

    def _prepare(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _JSON_NATIVE:
            return obj
        if kind is dict:
            return {k: self._prepare(v) for k, v in obj.items()}
        if kind is list or kind is tuple:
            return [self._prepare(v) for v in obj]
        transcoding = self.types.get(kind)
        if transcoding is None:
            msg = (
                f"Object of type {kind} is not serializable. Please define and register a "
                "custom transcoding for this type."
            )
            raise TranscodingNotRegisteredError(msg)
        return {"_type_": transcoding.name, "_data_": self._prepare(transcoding.encode(obj))}

    def _revive(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is dict:
            revived = {k: self._revive(v) for k, v in obj.items()}
            if len(revived) == 2 and "_type_" in revived and "_data_" in revived:
                transcoding = self.names.get(revived["_type_"])
                if transcoding is None:
                    msg = (
                        f"Data serialized with name '{revived['_type_']}' is not "
                        "deserializable. Please register a custom transcoding for this type."
                    )
                    raise TranscodingNotRegisteredError(msg)
                return transcoding.decode(revived["_data_"])
            return revived
        if kind is list:
            return [self._revive(v) for v in obj]
        return obj

    def encode(self, obj: Any) -> bytes:
        return self._encoder.encode(self._prepare(obj))

    def decode(self, data: bytes) -> Any:
        return self._revive(self._decoder.decode(data))
