#!/usr/bin/env python3
"""The hand-checked eFact (message 920000) golden file, written zone by zone from the positions
in shared/reference/claim-files.md §2.4, independently of the Rust writer: check digits (zone
99), nomenclature mod 97 (zones 98, 410, 510), totals and record counts computed here.

    python3 tools/check_efact_fixture.py          # checks services/claims/fixtures/efact-920000-golden.efact
    python3 tools/check_efact_fixture.py --write  # writes it

The Rust test `efact::tests::the_writer_makes_the_hand_checked_message_byte_for_byte`
compares its output with this file byte for byte.
"""
import sys
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "services/claims/fixtures/efact-920000-golden.efact"


def zones(length, values, numeric):
    """`numeric`: (start, len) of N zones (zero-filled); everything else starts as spaces."""
    rec = [" "] * length
    for start, n in numeric:
        rec[start - 1:start - 1 + n] = "0" * n
    for start, n, typ, value in values:
        value = str(value)
        assert len(value) <= n, (start, value)
        rec[start - 1:start - 1 + n] = value.rjust(n, "0") if typ == "N" else value.ljust(n, " ")
    return "".join(rec)


def signed(n, width):
    return ("-" if n < 0 else "+") + str(abs(n)).rjust(width - 1, "0")


def control(rec):
    total = 0
    for c in rec[:348]:
        if c.isdigit():
            total += int(c)
        elif c == " ":
            total += 10
        elif c.isalpha():
            total += ord(c.upper()) - ord("A") + 11
        else:
            total += 37
    return total % 97 or 97


def with_control(rec):
    assert len(rec) == 350
    return rec[:348] + f"{control(rec):02d}"


def all_numeric(spans_not_numeric):
    """Every position of a 350 record is N (zeros) except the A zones listed."""
    out, pos = [], 1
    for start, n in sorted(spans_not_numeric):
        if start > pos:
            out.append((pos, start - pos))
        pos = start + n
    if pos <= 350:
        out.append((pos, 351 - pos))
    return out


PROVIDER, BCE, BIC, IBAN = "54263481527", "0403019261", "GEBABEBB", "BE68539007547034"
REF, MUT = "202600000001", "500"

seg200 = zones(67, [(1, 6, "N", 920000), (9, 2, "N", 2), (13, 2, "N", 12), (21, 14, "N", REF)],
               [(1, 67)])
seg300 = zones(160, [(1, 6, "N", 202603), (9, 3, "N", 1), (14, 8, "N", "20260402"),
                     (24, 13, "A", REF), (39, 7, "N", 1999), (48, 45, "A", "Kine Gent"),
                     (133, 2, "N", 3), (137, 2, "N", 1)],
               [(1, 23), (37, 11), (93, 2), (119, 14), (135, 26)])

records = []
seq = 0


def rec10():
    a_zones = [(138, 25), (167, 11), (179, 34)]
    return with_control(zones(350, [
        (1, 2, "N", 10), (3, 6, "N", 1), (9, 1, "N", 1), (10, 7, "N", 1999), (33, 3, "N", 1),
        (53, 3, "N", 40), (56, 12, "N", PROVIDER), (108, 5, "N", 2026), (113, 2, "N", 3),
        (120, 8, "N", "20260402"), (128, 10, "N", BCE), (138, 25, "A", REF), (167, 11, "A", BIC),
        (179, 34, "A", IBAN)], all_numeric(a_zones)))


def identity(kind, seq, insz, sex, number, reference):
    return [(1, 2, "N", kind), (3, 6, "N", seq), (33, 3, "N", MUT), (36, 13, "N", insz),
            (49, 1, "N", sex), (50, 1, "N", 3), (51, 1, "N", 0), (56, 12, "N", PROVIDER),
            (115, 12, "N", number), (138, 25, "A", reference)]


def rec20(seq, insz, sex, number, reference, date):
    a_zones = [(138, 25), (213, 48)]
    return with_control(zones(350, identity(20, seq, insz, sex, number, reference)
                              + [(85, 3, "N", MUT), (262, 8, "N", date)], all_numeric(a_zones)))


def rec50(seq, code, date, insz, sex, a, units, personal, reference, prescription=()):
    a_zones = [(88, 12), (108, 5), (128, 10), (138, 25), (165, 10), (262, 8)]
    # prescription: (zone 20 date, zone 24 prescriber RIZIV/INAMI); zone 26 norm 1 (one prescriber).
    prescribed = [(100, 8, "N", prescription[0]), (115, 12, "N", prescription[1]), (127, 1, "N", 1)] \
        if prescription else []
    return with_control(zones(350, prescribed + [
        (1, 2, "N", 50), (3, 6, "N", seq), (10, 7, "N", code), (17, 8, "N", date), (25, 8, "N", date),
        (33, 3, "N", MUT), (36, 13, "N", insz), (49, 1, "N", sex), (53, 3, "N", 990),
        (68, 12, "N", PROVIDER), (88, 12, "A", signed(a, 12)), (108, 5, "A", signed(units, 5)),
        (128, 10, "A", signed(personal, 10)), (138, 25, "A", reference), (165, 10, "A", signed(0, 10)),
        (262, 8, "A", signed(0, 8))], all_numeric(a_zones)))


def rec80(seq, insz, sex, number, reference, date, a, personal, codes):
    a_zones = [(68, 12), (88, 12), (128, 10), (138, 25), (165, 10), (183, 12)]
    return with_control(zones(350, identity(80, seq, insz, sex, number, reference) + [
        (68, 12, "A", signed(0, 12)), (88, 12, "A", signed(a, 12)), (100, 8, "N", date),
        (128, 10, "A", signed(personal, 10)), (165, 10, "A", signed(0, 10)),
        (183, 12, "A", signed(0, 12)), (347, 2, "N", codes % 97 or 97)], all_numeric(a_zones)))


# Two patient invoices of March 2026 to mutuality 500: two services, then one credit.
INVOICES = [
    ("0086103130262", 2, 1, "2026-000101", "20260331", [
        (560011, "20260302", 2437, 1, 813, "2026-000101/1"),
        (560011, "20260309", 2437, 1, 813, "2026-000101/2", ("20260220", "10000106003")),
    ]),
    ("0090020100328", 1, 2, "CN-2026-000004", "20260331", [
        (560011, "20260303", -2437, -1, -813, "CN-2026-000004/1"),
    ]),
]

records.append(rec10())
seq = 1
total_a = total_codes = 0
oa_records = 0
for insz, sex, number, reference, date, services in INVOICES:
    seq += 1
    records.append(rec20(seq, insz, sex, number, reference, date))
    a = personal = codes = 0
    for code, day, amount, units, share, ref, *prescription in services:
        seq += 1
        records.append(rec50(seq, code, day, insz, sex, amount, units, share, ref, *prescription))
        a, personal, codes = a + amount, personal + share, codes + code
    seq += 1
    records.append(rec80(seq, insz, sex, number, reference, date, a, personal, codes))
    total_a, total_codes = total_a + a, total_codes + codes
    oa_records += len(services) + 2

seq += 1
a_zones = [(68, 12), (88, 12), (138, 25), (167, 11), (179, 34)]
records.append(with_control(zones(350, [
    (1, 2, "N", 90), (3, 6, "N", seq), (33, 3, "N", 1), (56, 12, "N", PROVIDER),
    (68, 12, "A", signed(0, 12)), (88, 12, "A", signed(total_a, 12)), (108, 5, "N", 2026),
    (113, 2, "N", 3), (128, 10, "N", BCE), (138, 25, "A", REF), (167, 11, "A", BIC),
    (179, 34, "A", IBAN), (347, 2, "N", total_codes % 97 or 97)], all_numeric(a_zones))))


def totals(kind, mutuality, records_count):
    sign = "-" if total_a < 0 else "+"
    return zones(350, [
        (1, 2, "N", kind), (5, 3, "N", mutuality), (10, 12, "N", REF), (24, 1, "A", sign),
        (25, 11, "N", abs(total_a)), (38, 1, "A", "+"), (52, 1, "A", sign),
        (53, 11, "N", abs(total_a)), (66, 8, "N", records_count), (76, 2, "N", total_codes % 97 or 97)],
        [(1, 23), (25, 13), (39, 13), (53, 27)])


records.append(totals(95, MUT, oa_records))
records.append(totals(96, "599", seq))

data = (seg200 + seg300 + "".join(records)).encode("ascii")
assert all(len(r) == 350 for r in records)
if "--write" in sys.argv:
    FIXTURE.write_bytes(data)
    print(f"wrote {FIXTURE} ({len(data)} bytes)")
elif FIXTURE.read_bytes() != data:
    sys.exit(f"{FIXTURE} differs from the hand-checked layout")
else:
    print(f"{FIXTURE}: as hand-checked ({len(records)} records)")
