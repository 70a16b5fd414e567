"""Damaged copies of the shipped workbooks, made at the zip and XML level, for the hostile-input tests."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from data.card.inputs import DEFAULT_CARD_WORKBOOK
from data.fedsllm.inputs import DEFAULT_WORKBOOK

# The parts of the shipped workbooks that hold each sheet (openpyxl writes them in sheet order).
FEDSLLM_PARTS = {"parameters": "xl/worksheets/sheet1.xml", "users": "xl/worksheets/sheet2.xml"}
CARD_PARTS = {"parameters": "xl/worksheets/sheet1.xml", "server": "xl/worksheets/sheet2.xml",
              "devices": "xl/worksheets/sheet3.xml", "llm": "xl/worksheets/sheet4.xml", "cqi": "xl/worksheets/sheet5.xml"}
SOURCES = {"fedsllm": DEFAULT_WORKBOOK, "card": DEFAULT_CARD_WORKBOOK}


def rezipped(source: Path, target: Path, edits: dict[str, Callable[[bytes], bytes]]) -> Path:
    """`source` with each part named in `edits` replaced by what its function makes of it, packed again as a
    valid zip (so the damage is in the XML, not in the container)."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            copy.writestr(item.filename, edits[item.filename](data) if item.filename in edits else data)
    return target


def with_cell(reference: str, cell_xml: str) -> Callable[[bytes], bytes]:
    """An edit that replaces the cell at `reference` (e.g. "F3") by `cell_xml`."""
    pattern = re.compile(rb'<c r="' + reference.encode() + rb'"(?:[^>]*/>|[^>]*>.*?</c>)', re.DOTALL)

    def edit(xml: bytes) -> bytes:
        changed, count = pattern.subn(cell_xml.encode(), xml, count=1)
        assert count == 1, f"no cell {reference}"
        return changed
    return edit


def number_cell(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="n"><v>{text}</v></c>'


def with_dimension(reference: str) -> Callable[[bytes], bytes]:
    return lambda xml: re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="{reference}"'.encode(), xml, count=1)


def with_declaration(declaration: bytes) -> Callable[[bytes], bytes]:
    """An edit that puts a DTD (with entities) in front of the part's root element."""
    return lambda xml: b'<?xml version="1.0"?>' + declaration + re.sub(rb"^<\?xml[^>]*\?>", b"", xml)


BILLION_LAUGHS = (b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')


def flipped(data: bytes, offset: int, bit: int = 0) -> bytes:
    changed = bytearray(data)
    changed[offset] ^= 1 << bit
    return bytes(changed)


def part_offset(path: Path, part: str) -> int:
    """Where `part`'s compressed data start in the file (after its local header)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(part)
    with open(path, "rb") as handle:
        handle.seek(info.header_offset + 26)
        name_length, extra_length = int.from_bytes(handle.read(2), "little"), int.from_bytes(handle.read(2), "little")
    return info.header_offset + 30 + name_length + extra_length
