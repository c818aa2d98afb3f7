//! Reading an eFact message back into a [`Message`] (the round trip of the golden test). It
//! validates first: a message that breaks a rule is answered with its findings.

use crate::efact::layout::{EFACT, SEGMENTS};
use crate::efact::validate::EfactValidator;
use crate::efact::write::{Invoice, Message, Prescription, Sending, Service};
use crate::records::{Finding, RecordView};

/// A message, or what is wrong with it.
pub fn message(bytes: &[u8]) -> Result<Message, Vec<Finding>> {
    let findings = EfactValidator::check(bytes);
    if !findings.is_empty() {
        return Err(findings);
    }
    let [s200, s300] = &*SEGMENTS;
    let (head, rest) = bytes.split_at(s200.record_len + s300.record_len);
    let seg200 = RecordView {
        layout: &s200.records[0],
        bytes: &head[..s200.record_len],
    };
    let seg300 = RecordView {
        layout: &s300.records[0],
        bytes: &head[s200.record_len..],
    };
    let mut sending = Sending {
        test: seg200.num("environment") == Some(92),
        provider: String::new(),
        enterprise_number: String::new(),
        bic: String::new(),
        iban: String::new(),
        contact: seg300.text("contact_name").to_owned(),
        sending_number: seg300.num("sending_number").unwrap_or(0) as u32,
        reference: seg300.text("invoice_reference").to_owned(),
        year: 0,
        month: 0,
        created: seg300.date("created").unwrap_or_default(),
        mutuality: String::new(),
    };
    let mut invoices: Vec<(Invoice, Vec<Service>)> = Vec::new();
    for chunk in rest.chunks(EFACT.record_len) {
        let kind = std::str::from_utf8(&chunk[..2]).unwrap_or("");
        let Some(layout) = EFACT.record(kind) else {
            continue;
        };
        let v = RecordView {
            layout,
            bytes: chunk,
        };
        match kind {
            "10" => {
                sending.provider = v.last_digits("provider", 11);
                sending.enterprise_number = v.raw("enterprise_number").to_owned();
                sending.bic = v.text("bic").to_owned();
                sending.iban = v.text("iban").to_owned();
                sending.year = v.num("year").unwrap_or(0) as i32;
                sending.month = v.num("month").unwrap_or(0) as u32;
            }
            "20" => invoices.push((
                Invoice {
                    insz: v.last_digits("insz", 11),
                    sex: v.num("sex").unwrap_or(0) as u8,
                    affiliation: v.raw("affiliation").to_owned(),
                    number: v.num("invoice_number").unwrap_or(0),
                    reference: v.text("reference").to_owned(),
                    invoice_date: v.date("invoice_date").unwrap_or_default(),
                },
                Vec::new(),
            )),
            "50" => {
                if let Some((_, services)) = invoices.last_mut() {
                    services.push(Service {
                        code: v.num("code").unwrap_or(0) as u32,
                        date: v.date("first_date").unwrap_or_default(),
                        provider: v.last_digits("provider", 11),
                        reimbursement: v.signed("reimbursement"),
                        units: v.signed("units") as i32,
                        personal_share: v.signed("personal_share"),
                        reference: v.text("reference").to_owned(),
                        prescription: v.date("prescription_date").map(|date| Prescription {
                            date,
                            prescriber: v.last_digits("prescriber", 11),
                        }),
                    });
                }
            }
            "95" => sending.mutuality = v.raw("mutuality").to_owned(),
            _ => {}
        }
    }
    Ok(Message { sending, invoices })
}
