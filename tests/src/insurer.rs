//! A Dutch insurer answering PM304 declarations with PM305 return files, as VECOZO delivers
//! them: every record as sent, followed by the insurer's assessment (370 positions). Lines are
//! granted in full unless named in `reject` with a retourcode; insured records carry 0200
//! ("no remark").

use claims::records::{Kind, RecordBuf};
use claims::vektis::pm304_v32::PM305;

/// The insurer's answer to `pm304` (a valid file), dated `answer_date` (`YYYYMMDD`).
pub fn answer(pm304: &[u8], reject: &[(&str, &str)], answer_date: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut granted_total = 0i64;
    for rec in pm304
        .split(|&b| b == b'\n')
        .filter_map(|l| l.strip_suffix(b"\r"))
        .filter(|l| !l.is_empty())
    {
        let kind = std::str::from_utf8(&rec[..2]).expect("ASCII");
        let layout = PM305.record(kind).expect("a PM305 record kind");
        let mut r = RecordBuf::new(layout, PM305.record_len);
        // The closing record keeps only its figures (1–45); the others all 310 positions.
        let keep = if kind == "99" { 45 } else { 310 };
        match kind {
            "01" => {
                r.text("insurer_reference", "ZK-2026-0042").unwrap();
                r.digits("answer_date", answer_date).unwrap();
            }
            "02" => {
                r.digits("return_code_1", "0200").unwrap();
            }
            "04" => {
                let reference = std::str::from_utf8(&rec[191..211]).unwrap().trim_end();
                let code = reject
                    .iter()
                    .find(|(r, _)| *r == reference)
                    .map(|(_, c)| *c);
                let amount: i64 = std::str::from_utf8(&rec[182..190])
                    .unwrap()
                    .parse()
                    .unwrap();
                let credit = rec[190] == b'C';
                let granted = if code.is_some() { 0 } else { amount };
                granted_total += if credit { -granted } else { granted };
                let dc = if credit { "C" } else { "D" };
                r.num("insurer_calculated", amount as u64).unwrap();
                r.text("debit_credit_3", dc).unwrap();
                r.num("granted", granted as u64).unwrap();
                r.text("debit_credit_4", dc).unwrap();
                r.digits("return_code_1", code.unwrap_or("0000")).unwrap();
            }
            _ => {
                r.num("granted_total", granted_total.unsigned_abs())
                    .unwrap();
                r.text(
                    "granted_debit_credit",
                    if granted_total < 0 { "C" } else { "D" },
                )
                .unwrap();
            }
        }
        let mut bytes = r.bytes().to_vec();
        bytes[..keep].copy_from_slice(&rec[..keep]);
        if kind == "01" {
            // PM305 (108), the answer to PM304 (107).
            bytes[2..5].copy_from_slice(b"108");
        }
        debug_assert!(layout.fields.iter().all(|f| f.kind != Kind::Reserve
            || f.start <= keep
            || bytes[f.range()].iter().all(|&b| b == b' ')));
        out.extend_from_slice(&bytes);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A Belgian mutuality's answer to an eFact sending: `931000` (acknowledged), `920999`
/// (refused as a whole: error zone 4011 of its records 95/96 set to `12`) or `920900` (the
/// records 50 whose reference is in `faults` rejected with the letter-and-code given, e.g.
/// `B100017`).
pub fn efact_answer(sent: &[u8], message: &str, faults: &[(&str, &str)]) -> Vec<u8> {
    let (seg200, rest) = sent.split_at(67);
    let (seg300, records) = rest.split_at(160);
    let mut out = Vec::new();
    out.extend_from_slice(message.as_bytes());
    out.extend_from_slice(&seg200[6..]);
    match message {
        "931000" => {
            out.extend_from_slice(b"92000000");
            out.extend_from_slice(&[b' '; 152]);
        }
        "920999" => {
            out.extend_from_slice(seg300);
            for r in records
                .chunks(350)
                .filter(|r| matches!(&r[..2], b"95" | b"96"))
            {
                let mut r = r.to_vec();
                r[7..9].copy_from_slice(b"12");
                out.extend_from_slice(&r);
            }
        }
        _ => {
            // The error-count segment: segment 300 to zone 3091, then 1.50 % errors and
            // refusal type 01, each with its error zone, and the reserve.
            out.extend_from_slice(&seg300[..140]);
            out.extend_from_slice(b"00150000100");
            out.extend_from_slice(&[b'0'; 459]);
            for (i, (reference, code)) in faults.iter().enumerate() {
                let record = records
                    .chunks(350)
                    .find(|r| {
                        &r[..2] == b"50"
                            && std::str::from_utf8(&r[137..162]).unwrap().trim_end() == *reference
                    })
                    .expect("the faulted line was sent");
                out.extend_from_slice(record);
                out.extend_from_slice(b"00120260402202603500");
                out.extend_from_slice(&[b' '; 86]);
                out.extend_from_slice(code.as_bytes());
                out.extend_from_slice(b" 000000 000000");
                out.extend_from_slice(&[b' '; 44 + 12 + 200 + 61]);
                out.extend_from_slice(format!("{:06}", i + 1).as_bytes());
            }
        }
    }
    out
}
