"""Play community staff: fill the first N sent form workbooks and drop them in the community inbox.

    python benchmarks/simulate_form_returns.py OUT/forms/elderly_living_alone INBOX --communities 3

Every row gets an answer to each choice column (and a phone to every third row of each phone
column). The first community's return carries bad answers (a value outside the dropdown, a phone that
is no phone); the second corrects one pre-filled phone number and adds a person the list lacked. What
was planted is printed, so the rejection workbook and the consolidation can be checked against it.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from openpyxl import load_workbook

from connectors.form_workbook import DATA_SHEET, KEY_HEADER
from connectors.return_marker import MARKER_SHEET
from pipelines.departments import ID_CHECK_BY_RESIDUE, ID_WEIGHTS


def with_check_character(first17: str) -> str:
    """A GB 11643 number: the 17 digits and their check character."""
    residue = sum(int(digit) * ID_WEIGHTS[i] for i, digit in enumerate(first17)) % 11
    return first17 + ID_CHECK_BY_RESIDUE[residue]


def fill(path: Path, target: Path, rng: random.Random, *, bad: bool, correct_and_add: bool) -> list[str]:
    wb = load_workbook(path)
    ws = wb[DATA_SHEET]
    headers = [cell.value for cell in ws[1]]
    choices = {}
    for validation in ws.data_validations.dataValidation:
        if validation.type == "list" and validation.formula1 and validation.formula1.startswith('"'):
            column = str(validation.sqref).split(":")[0].rstrip("0123456789")
            choices[column] = validation.formula1.strip('"').split(",")
    letters = {header: ws.cell(row=1, column=index + 1).column_letter for index, header in enumerate(headers)}
    phone_headers = [
        h
        for h in headers
        if h and "电话" in h and ws.cell(row=2, column=headers.index(h) + 1).value is None and h != KEY_HEADER
    ]
    rows = [row for row in range(2, ws.max_row + 1) if ws.cell(row=row, column=headers.index(KEY_HEADER) + 1).value]
    planted = []
    for row in rows:
        for letter in letters.values():
            if letter in choices:
                ws[f"{letter}{row}"] = rng.choice(choices[letter])
        if row % 3 == 0:
            for header in phone_headers:
                ws[f"{letters[header]}{row}"] = f"139{rng.randrange(10**8):08d}"
    if bad:
        choice_letter = next(iter(choices))
        ws[f"{choice_letter}{rows[0]}"] = "不清楚"
        planted.append(f"{path.name}: row {rows[0]} {headers[ws[choice_letter + '1'].column - 1]} = 不清楚 (bad)")
        if phone_headers:
            ws[f"{letters[phone_headers[0]]}{rows[1]}"] = "12345"
            planted.append(f"{path.name}: row {rows[1]} {phone_headers[0]} = 12345 (bad)")
    if correct_and_add:
        if "联系电话" in letters:
            ws[f"{letters['联系电话']}{rows[0]}"] = "13800138000"
            planted.append(f"{path.name}: row {rows[0]} 联系电话 corrected to 13800138000")
        new = rows[-1] + 1
        values = {
            "姓名": "林秀英",
            "公民身份号码": with_check_character("35060219500101152"),
            "性别": "女",
            "出生日期": "1950-01-01",
            "现住址": "东铺头社区幸福路12号3栋2单元501室",
        }
        for header, value in values.items():
            if header in letters:
                ws[f"{letters[header]}{new}"] = value
        for letter in letters.values():
            if letter in choices:
                ws[f"{letter}{new}"] = choices[letter][0]
        planted.append(f"{path.name}: row {new} added by staff (林秀英)")
    assert MARKER_SHEET in wb.sheetnames
    target.parent.mkdir(parents=True, exist_ok=True)
    wb.save(target)
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("forms", type=Path, help="OUT/forms/<form> folder of the sent workbooks")
    parser.add_argument("inbox", type=Path, help="community inbox to drop the returns into")
    parser.add_argument("--communities", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sent = sorted(
        p for p in args.forms.glob("*.xlsx") if not p.name.startswith(("汇总_", ".")) and "催报" not in p.name
    )
    for index, path in enumerate(sent[: args.communities]):
        for line in fill(path, args.inbox / path.name, rng, bad=index == 0, correct_and_add=index == 1):
            print(line)
        print(f"returned: {path.name}")


if __name__ == "__main__":
    main()
