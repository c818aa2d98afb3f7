#!/usr/bin/env python3
"""The hand-checked PM304 v3.2 golden file, written field by field from the positions in
shared/reference/claim-files.md §1.3, independently of the Rust writer.

    python3 tools/check_pm304_fixture.py          # checks services/claims/fixtures/pm304-v32-golden.asc
    python3 tools/check_pm304_fixture.py --write  # writes it

Each record is listed as (start, length, type, value) for every field that is not its unused
value; N fields are zero-padded on the left, AN fields space-padded on the right, everything
else is zeros (N) or spaces (AN, reserve). The Rust test
`vektis::tests::the_writer_makes_the_hand_checked_file_byte_for_byte` compares its output with
this file byte for byte.
"""
import sys
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "services/claims/fixtures/pm304-v32-golden.asc"

# N fields of each record (start, length): everything else defaults to spaces.
N_FIELDS = {
    "01": [(1, 2), (3, 3), (6, 2), (8, 2), (11, 6), (27, 4), (31, 8), (39, 8), (47, 8), (55, 8),
           (63, 2), (65, 8), (73, 8), (93, 8)],
    "02": [(1, 2), (3, 12), (15, 9), (24, 4), (54, 8), (62, 1), (63, 1), (99, 1), (141, 1),
           (157, 5)],
    "04": [(1, 2), (3, 12), (15, 9), (24, 4), (58, 1), (59, 8), (67, 3), (76, 4), (81, 3), (84, 8),
           (92, 3), (95, 8), (103, 3), (114, 3), (125, 3), (128, 8), (136, 4), (140, 8), (148, 8),
           (156, 4), (160, 2), (162, 8), (170, 8), (179, 4), (183, 8)],
    "99": [(1, 2), (3, 6), (9, 6), (15, 6), (21, 6), (27, 7), (34, 11)],
}


def record(kind, values):
    rec = [" "] * 310
    for start, length in N_FIELDS[kind]:
        rec[start - 1:start - 1 + length] = "0" * length
    for start, length, typ, value in values:
        value = str(value)
        assert len(value) <= length, (kind, start)
        padded = value.rjust(length, "0") if typ == "N" else value.ljust(length, " ")
        rec[start - 1:start - 1 + length] = padded
    out = "".join(rec)
    assert len(out) == 310 and out[:2] == kind
    return out


def insured(detail, bsn, number, birth, sex, name, initials, postcode, house, suffix):
    return record("02", [
        (1, 2, "N", "02"), (3, 12, "N", detail), (15, 9, "N", bsn), (24, 4, "N", "3311"),
        (28, 15, "AN", number), (54, 8, "N", birth), (62, 1, "N", sex), (63, 1, "N", 1),
        (64, 25, "AN", name), (135, 6, "AN", initials), (142, 6, "AN", postcode),
        (157, 5, "N", house), (162, 6, "AN", suffix), (168, 2, "AN", "NL"),
    ])


def service(detail, bsn, number, date, dc, reference, previous="", referral=()):
    # referral: (0424 date, 0425 referrer AGB, 0426 specialism), or nothing (direct access).
    referred = [(140, 8, "N", referral[0]), (148, 8, "N", referral[1]), (156, 4, "N", referral[2])] \
        if referral else []
    return record("04", referred + [
        (1, 2, "N", "04"), (3, 12, "N", detail), (15, 9, "N", bsn), (24, 4, "N", "3311"),
        (28, 15, "AN", number), (58, 1, "N", 1), (59, 8, "N", date), (67, 3, "N", "012"),
        (70, 6, "AN", "1000"), (76, 4, "N", 1), (128, 8, "N", "04123456"),
        (162, 8, "N", 3750), (170, 8, "N", 3750), (178, 1, "AN", dc), (183, 8, "N", 3750),
        (191, 1, "AN", dc), (192, 20, "AN", reference), (212, 20, "AN", previous),
    ])


RECORDS = [
    record("01", [
        (1, 2, "N", "01"), (3, 3, "N", 107), (6, 2, "N", 3), (8, 2, "N", 2), (10, 1, "AN", "P"),
        (27, 4, "N", "3311"), (47, 8, "N", "04012345"), (63, 2, "N", 3),
        (65, 8, "N", "20261101"), (73, 8, "N", "20261130"), (81, 12, "AN", "202600000001"),
        (93, 8, "N", "20261201"), (115, 3, "AN", "EUR"),
    ]),
    insured(1, "123456782", "100234567", "19840315", 2, "Janssen-Olcer", "ME", "3511AB", 12, "bis"),
    service(2, "123456782", "100234567", "20261103", "D", "2026-000101/1"),
    service(3, "123456782", "100234567", "20261110", "D", "2026-000102/1",
            referral=("20261028", "01012345", "0100")),
    insured(4, "957136171", "", "19500701", 1, "de Vries", "J", "1011AA", 7, ""),
    service(5, "957136171", "", "20261104", "D", "2026-000103/1"),
    service(6, "957136171", "", "20261104", "C", "C2026-000004/1", "2026-000077/1"),
    # 2 insured, 0 debtors, 4 services, 0 comments, 6 detail records, 3 × 3750 − 3750 = 7500 D.
    record("99", [
        (1, 2, "N", "99"), (3, 6, "N", 2), (15, 6, "N", 4), (27, 7, "N", 6),
        (34, 11, "N", 7500), (45, 1, "AN", "D"),
    ]),
]

data = "".join(r + "\r\n" for r in RECORDS).encode("ascii")
if "--write" in sys.argv:
    FIXTURE.write_bytes(data)
    print(f"wrote {FIXTURE} ({len(data)} bytes)")
elif FIXTURE.read_bytes() != data:
    sys.exit(f"{FIXTURE} differs from the hand-checked layout")
else:
    print(f"{FIXTURE}: as hand-checked ({len(RECORDS)} records)")
