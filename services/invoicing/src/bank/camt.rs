//! A reader of ISO 20022 CAMT.053 bank statements (`BkToCstmrStmt`, any version 001.02–001.13:
//! the elements read have not moved): for each entry, the amount and currency, credit or
//! debit, reversal, booking date, the bank's reference, and the remittance information —
//! structured (`Strd/CdtrRefInf/Ref`, where Belgian banks put the structured communication)
//! and unstructured (`Ustrd`). A batch entry with several transactions of their own amounts
//! becomes one entry per transaction.
//!
//! Nothing else is read: names, addresses and account numbers of the payer are skipped. A
//! document with a DTD is refused (no entity is ever expanded).

use chrono::NaiveDate;
use quick_xml::events::Event;
use rust_decimal::Decimal;

/// One credit or debit as the statement books it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// Its place in the statement (1 = first), for the import's report.
    pub index: usize,
    /// The amount (positive).
    pub amount: Decimal,
    /// ISO 4217.
    pub currency: String,
    /// Money in (`CRDT`); `false` for money out.
    pub credit: bool,
    /// A reversal of an earlier entry.
    pub reversal: bool,
    /// The booking date.
    pub booked_on: Option<NaiveDate>,
    /// The bank's own reference of the entry (`AcctSvcrRef`), when it gives one.
    pub bank_reference: Option<String>,
    /// Structured creditor references.
    pub structured: Vec<String>,
    /// Unstructured remittance lines (read for references only; never stored).
    pub unstructured: Vec<String>,
}

/// A statement's entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Statement {
    /// The IBAN of the account the statement is of.
    pub account: Option<String>,
    /// Its entries, in order.
    pub entries: Vec<Entry>,
}

/// Why a document is not a statement we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CamtError {
    /// Not well-formed XML (or XML with a DTD).
    #[error("not well-formed XML")]
    NotXml,
    /// XML, but not a CAMT.053 statement.
    #[error("not a CAMT.053 bank statement (Document/BkToCstmrStmt)")]
    NotCamt053,
    /// An element of an entry that does not read (the element named).
    #[error("an entry's {0} is not valid")]
    Invalid(&'static str),
}

/// The part of an entry one transaction fills in.
#[derive(Default)]
struct Part {
    amount: Option<(Decimal, String)>,
    structured: Vec<String>,
    unstructured: Vec<String>,
}

#[derive(Default)]
struct Open {
    entry: Entry,
    amount: Option<(Decimal, String)>,
    shared: Part,
    transactions: Vec<Part>,
}

fn amount(text: &str) -> Result<Decimal, CamtError> {
    let d: Decimal = text.trim().parse().map_err(|_| CamtError::Invalid("Amt"))?;
    if d.is_sign_negative() || d.scale() > 5 {
        return Err(CamtError::Invalid("Amt"));
    }
    Ok(d)
}

/// Reads a statement.
pub fn parse(xml: &str) -> Result<Statement, CamtError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut statement = Statement::default();
    let mut open: Option<Open> = None;
    let mut text = String::new();
    let mut currency: Option<String> = None;
    let mut index = 0;
    // Whether Document/BkToCstmrStmt was there.
    let mut seen_root = false;
    loop {
        match reader.read_event().map_err(|_| CamtError::NotXml)? {
            Event::DocType(_) => return Err(CamtError::NotXml),
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                match path.len() {
                    0 if name != "Document" => return Err(CamtError::NotCamt053),
                    1 if name != "BkToCstmrStmt" => return Err(CamtError::NotCamt053),
                    1 => seen_root = true,
                    _ => {}
                }
                if name == "Amt" {
                    currency = e.try_get_attribute("Ccy").ok().flatten().and_then(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .ok()
                            .map(|v| v.into_owned())
                    });
                }
                if name == "Ntry" && open.is_none() {
                    index += 1;
                    open = Some(Open {
                        entry: Entry {
                            index,
                            ..Entry::default()
                        },
                        ..Open::default()
                    });
                }
                if name == "TxDtls"
                    && let Some(o) = open.as_mut()
                {
                    o.transactions.push(Part::default());
                }
                path.push(name);
                text.clear();
            }
            Event::Empty(e) => {
                let name = e.local_name();
                match path.len() {
                    0 => return Err(CamtError::NotCamt053),
                    1 if name.as_ref() != b"BkToCstmrStmt" => return Err(CamtError::NotCamt053),
                    1 => seen_root = true,
                    _ => {}
                }
            }
            Event::Text(t) => {
                text.push_str(&t.decode().map_err(|_| CamtError::NotXml)?);
            }
            Event::CData(t) => {
                text.push_str(&String::from_utf8_lossy(&t.into_inner()));
            }
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        text.push(c);
                    }
                } else {
                    let name = r.decode().map_err(|_| CamtError::NotXml)?;
                    let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or(CamtError::NotXml)?;
                    text.push_str(resolved);
                }
            }
            Event::End(_) => {
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                let value = text.trim().to_owned();
                if p.ends_with(&["Stmt", "Acct", "Id", "IBAN"]) && open.is_none() {
                    statement.account = Some(value.replace(' ', ""));
                }
                if let Some(o) = open.as_mut() {
                    let in_tx = p.contains(&"TxDtls");
                    let part = if in_tx {
                        o.transactions.last_mut().unwrap_or(&mut o.shared)
                    } else {
                        &mut o.shared
                    };
                    match p.as_slice() {
                        [.., "Ntry", "Amt"] => {
                            o.amount = Some((amount(&value)?, currency.take().unwrap_or_default()))
                        }
                        [.., "TxDtls", "Amt"] | [.., "TxDtls", "AmtDtls", "TxAmt", "Amt"] => {
                            part.amount =
                                Some((amount(&value)?, currency.take().unwrap_or_default()))
                        }
                        [.., "Ntry", "CdtDbtInd"] => match value.as_str() {
                            "CRDT" => o.entry.credit = true,
                            "DBIT" => o.entry.credit = false,
                            _ => return Err(CamtError::Invalid("CdtDbtInd")),
                        },
                        [.., "Ntry", "RvslInd"] => o.entry.reversal = value == "true",
                        [.., "Ntry", "BookgDt", "Dt"] | [.., "Ntry", "BookgDt", "DtTm"] => {
                            let day = value.get(..10).unwrap_or_default();
                            o.entry.booked_on = Some(
                                NaiveDate::parse_from_str(day, "%Y-%m-%d")
                                    .map_err(|_| CamtError::Invalid("BookgDt"))?,
                            );
                        }
                        [.., "Ntry", "AcctSvcrRef"] => o.entry.bank_reference = Some(value),
                        [.., "RmtInf", "Strd", "CdtrRefInf", "Ref"] => part.structured.push(value),
                        [.., "RmtInf", "Ustrd"] => part.unstructured.push(value),
                        _ => {}
                    }
                }
                if path.last().map(String::as_str) == Some("Ntry")
                    && let Some(o) = open.take()
                {
                    statement.entries.extend(close(o)?);
                }
                path.pop();
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root {
        return Err(CamtError::NotCamt053);
    }
    if !path.is_empty() {
        return Err(CamtError::NotXml);
    }
    Ok(statement)
}

/// An entry as read: one, or one per transaction with its own amount.
fn close(o: Open) -> Result<Vec<Entry>, CamtError> {
    let (amount, currency) = o.amount.ok_or(CamtError::Invalid("Amt"))?;
    let split = o.transactions.len() > 1 && o.transactions.iter().all(|t| t.amount.is_some());
    if !split {
        let mut e = o.entry;
        e.amount = amount;
        e.currency = currency;
        e.structured = o.shared.structured;
        e.unstructured = o.shared.unstructured;
        for t in o.transactions {
            e.structured.extend(t.structured);
            e.unstructured.extend(t.unstructured);
        }
        return Ok(vec![e]);
    }
    Ok(o.transactions
        .into_iter()
        .map(|t| {
            let (amount, currency) = t.amount.unwrap_or_default();
            Entry {
                amount,
                currency,
                structured: t.structured,
                unstructured: t.unstructured,
                ..o.entry.clone()
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATEMENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>STMT-1</MsgId><CreDtTm>2026-12-03T18:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>1</Id>
   <Acct><Id><IBAN>BE68 5390 0754 7034</IBAN></Id></Acct>
   <Ntry>
    <Amt Ccy="EUR">8.13</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>2026-12-03</Dt></BookgDt><AcctSvcrRef>2026120300001</AcctSvcrRef>
    <NtryDtls><TxDtls>
     <RltdPties><Dbtr><Nm>Jan Peeters &amp; Zonen</Nm></Dbtr></RltdPties>
     <RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>BBA</Issr></Tp><Ref>260000000170</Ref></CdtrRefInf></Strd></RmtInf>
    </TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">25.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><DtTm>2026-12-03T10:00:00</DtTm></BookgDt>
    <NtryDtls>
     <TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">10.00</Amt></TxAmt></AmtDtls><RmtInf><Ustrd>factuur 2026-000002</Ustrd></RmtInf></TxDtls>
     <TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">15.00</Amt></TxAmt></AmtDtls><RmtInf><Ustrd>+++260/0000/00367+++</Ustrd></RmtInf></TxDtls>
    </NtryDtls>
   </Ntry>
   <Ntry><Amt Ccy="EUR">99.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2026-12-02</Dt></BookgDt></Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>"#;

    #[test]
    fn reads_entries_and_splits_batches() {
        let s = parse(STATEMENT).unwrap();
        assert_eq!(s.account.as_deref(), Some("BE68539007547034"));
        assert_eq!(s.entries.len(), 4);
        let e = &s.entries[0];
        assert_eq!(
            (e.amount, e.credit, e.index),
            (Decimal::new(813, 2), true, 1)
        );
        assert_eq!(e.structured, ["260000000170"]);
        assert_eq!(e.bank_reference.as_deref(), Some("2026120300001"));
        assert_eq!(e.booked_on, NaiveDate::from_ymd_opt(2026, 12, 3));
        assert_eq!(
            (s.entries[1].amount, s.entries[1].index),
            (Decimal::new(1000, 2), 2)
        );
        assert_eq!(s.entries[2].unstructured, ["+++260/0000/00367+++"]);
        assert!(!s.entries[3].credit);
        // Nothing of the payer is kept.
        assert!(!format!("{s:?}").contains("Peeters"));
    }

    #[test]
    fn refuses_what_is_not_a_statement() {
        assert_eq!(parse("<Document><BkToCstmrStmt>"), Err(CamtError::NotXml));
        assert_eq!(parse("not xml at all"), Err(CamtError::NotCamt053));
        assert_eq!(
            parse("<Document><CstmrCdtTrfInitn/></Document>"),
            Err(CamtError::NotCamt053)
        );
        assert_eq!(
            parse(
                r#"<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Document><BkToCstmrStmt/></Document>"#
            ),
            Err(CamtError::NotXml)
        );
        let bad = STATEMENT.replace(">8.13<", ">eight<");
        assert_eq!(parse(&bad), Err(CamtError::Invalid("Amt")));
        let bad = STATEMENT.replace("<Dt>2026-12-03</Dt>", "<Dt>03/12/2026</Dt>");
        assert_eq!(parse(&bad), Err(CamtError::Invalid("BookgDt")));
    }
}
