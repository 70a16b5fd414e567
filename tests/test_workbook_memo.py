"""The shipped workbooks' recorded digests (data/schema.py): a command refused for its settings skips reading a
workbook with these bytes, so they must be the committed files' and those files must be valid."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from data.card.inputs import card_inputs
from data.fedsllm.inputs import fedsllm_inputs
from data.schema import SHIPPED_WORKBOOK_SHA256, SHIPPED_WORKBOOKS, is_shipped_workbook
from data.workbook import read_tables
from solvers.app.overrides import workbook_issues

VALIDATE = {"fedsllm": fedsllm_inputs, "card": card_inputs}


@pytest.mark.parametrize("model", sorted(SHIPPED_WORKBOOKS))
def test_the_recorded_digest_is_the_shipped_workbooks_and_it_is_valid(model):
    path = SHIPPED_WORKBOOKS[model]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == SHIPPED_WORKBOOK_SHA256[model], f"update SHIPPED_WORKBOOK_SHA256[{model!r}] to {digest}"
    VALIDATE[model](path, read_tables(path))  # raises InputError if the shipped workbook had a problem
    assert is_shipped_workbook(model, path)


def test_an_edited_copy_is_read_and_its_problems_listed(tmp_path):
    """One changed byte (or any edit) and the workbook is checked in full again."""
    import openpyxl

    copy = tmp_path / "edited.xlsx"
    shutil.copy(SHIPPED_WORKBOOKS["fedsllm"], copy)
    assert is_shipped_workbook("fedsllm", copy) and workbook_issues("fedsllm", str(copy)) == []
    workbook = openpyxl.load_workbook(copy)
    sheet = workbook["parameters"]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == "bandwidth_main_hz":
            row[1].value = -5
    workbook.save(copy)
    assert not is_shipped_workbook("fedsllm", copy)
    issues = workbook_issues("fedsllm", str(copy))
    assert len(issues) == 1 and issues[0].sheet == "parameters" and "bandwidth_main_hz" in str(issues[0])


def test_a_copy_under_another_name_or_size_is_not_taken_for_the_shipped_workbook(tmp_path):
    """The reader refuses a .csv name: the shortcut must not say such a copy has no problems."""
    renamed = tmp_path / "copy.csv"
    shutil.copy(SHIPPED_WORKBOOKS["fedsllm"], renamed)
    assert not is_shipped_workbook("fedsllm", renamed)
    assert workbook_issues("fedsllm", str(renamed))  # the reader's own complaint about the name
    grown = tmp_path / "grown.xlsx"
    grown.write_bytes(SHIPPED_WORKBOOKS["fedsllm"].read_bytes() + b"\0")
    assert not is_shipped_workbook("fedsllm", grown)
