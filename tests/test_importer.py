"""Reading JSON Lines: every error names the file, the line number and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import Record, loi, pledge, tranche
from pledgeledger import ImportFailed, InvalidRecord, Pledge, Tranche
from pledgeledger.formats.jsonl import Origin, read_jsonl


def write(path: Path, *lines: Record | str) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


def failure(path: Path) -> ImportFailed:
    with pytest.raises(ImportFailed) as caught:
        list(read_jsonl(path))
    return caught.value


def test_reads_events_with_their_origin(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", pledge("p", "10"), tranche("t", "p", "4"))
    items = list(read_jsonl(path))
    assert [origin for origin, _ in items] == [Origin(str(path), 1), Origin(str(path), 2)]
    assert isinstance(items[0][1], Pledge)
    assert isinstance(items[1][1], Tranche)
    assert str(items[1][0]) == f"{path}:2"


def test_blank_lines_are_skipped_but_still_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", "", pledge("p", "10"), "   ", "\t", loi("l", "1"), "")
    assert [origin.line for origin, _ in read_jsonl(path)] == [2, 5]


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")
    assert list(read_jsonl(path)) == []


def test_key_order_and_spacing_do_not_matter(tmp_path: Path) -> None:
    record = pledge("p", "10")
    reordered = json.dumps(dict(reversed(list(record.items()))), separators=(" , ", " : "))
    path = write(tmp_path / "a.jsonl", record, reordered)
    (_, first), (_, second) = read_jsonl(path)
    assert first == second


def test_bad_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", pledge("p", "10"), "", '{"type": "pledge", "id": }')
    error = failure(path)
    assert (error.path, error.line) == (str(path), 3)
    assert str(error).startswith(f"{path}:3: (record): not valid JSON")
    assert "column 26" in str(error)  # the "}" where a value should be
    assert isinstance(error.error, InvalidRecord)


def test_truncated_line_is_bad_json(tmp_path: Path) -> None:
    text = json.dumps(pledge("p", "10"))
    error = failure(write(tmp_path / "a.jsonl", text[:-5]))
    assert error.line == 1
    assert "not valid JSON" in str(error)


def test_bad_field_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tranche("t", "p", "4")
    bad["amount"] = 4.5
    path = write(tmp_path / "a.jsonl", pledge("p", "10"), bad)
    error = failure(path)
    assert error.line == 2
    assert isinstance(error.error, InvalidRecord)
    message = 'amount: expected a decimal string such as "36000000000", got 4.5'
    assert error.error.messages == [message]
    assert str(error) == f"{path}:2: {message}"


def test_every_bad_field_of_the_line_is_named(tmp_path: Path) -> None:
    bad = pledge("p", "10", bound="approximately")
    bad["announced_on"] = "July 2025"
    del bad["recipient"]
    error = failure(write(tmp_path / "a.jsonl", bad))
    assert isinstance(error.error, InvalidRecord)
    assert {m.partition(":")[0] for m in error.error.messages} == {
        "bound",
        "announced_on",
        "recipient",
    }


def test_a_line_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    error = failure(write(tmp_path / "a.jsonl", pledge("p", "10"), "[1, 2]"))
    assert error.line == 2
    assert "expected a JSON object" in str(error)


def test_unknown_type_is_named(tmp_path: Path) -> None:
    error = failure(write(tmp_path / "a.jsonl", {"type": "rumour", "id": "x"}))
    assert "type: expected one of" in str(error)


def test_stops_at_the_first_bad_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", pledge("p", "10"), "nope", "also nope")
    lines = read_jsonl(path)
    assert next(lines)[0].line == 1
    with pytest.raises(ImportFailed) as caught:
        next(lines)
    assert caught.value.line == 2


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.jsonl"
    error = failure(path)
    assert error.path == str(path)
    assert error.line is None
    assert "cannot read file" in str(error)


def test_text_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    good = json.dumps(pledge("p", "10")).encode()
    bad = json.dumps(pledge("q", "10", recipient="Fran\u00e7a"), ensure_ascii=False)
    path.write_bytes(good + b"\n" + bad.encode("latin-1") + b"\n")
    error = failure(path)
    assert error.line == 2
    assert "(record): not UTF-8 text" in str(error)
    byte = bad.index("\u00e7") + 1  # ASCII before it, so characters and bytes agree
    assert f"at byte {byte}" in str(error)


def test_windows_line_endings_and_non_ascii_text_are_read(tmp_path: Path) -> None:
    path = tmp_path / "crlf.jsonl"
    lines = [pledge("p", "10", recipient="Fran\u00e7a"), pledge("q", "10")]
    path.write_bytes(b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\r\n" for r in lines))
    events = [event for _, event in read_jsonl(path)]
    assert [e.id for e in events] == ["p", "q"]
    assert isinstance(events[0], Pledge)
    assert events[0].recipient == "Fran\u00e7a"


def test_a_byte_order_mark_is_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(pledge("p", "1")).encode() + b"\n")
    assert [event.id for _, event in read_jsonl(path)] == ["p"]


def test_a_cut_off_line_reports_its_own_column(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text('{"type": "pledge", "id":\n', encoding="utf-8")
    with pytest.raises(ImportFailed) as caught:
        list(read_jsonl(path))
    assert "column 25" in str(caught.value)
