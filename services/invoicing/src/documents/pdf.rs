//! The PDF of an invoice or credit note: A4, DejaVu Sans embedded (subset) so every text is
//! real, extractable text in any of the four languages, with what BE and NL law ask of an
//! invoice: the practice's name, address, enterprise number (KBO/BCE or KvK), VAT number or
//! the exemption mention, RIZIV/INAMI or AGB number; the patient's name and address; date,
//! number, due date, service dates, lines, totals, payment reference and IBAN.
//!
//! The layout is deliberately plain: one column of blocks, a table of lines that continues on
//! further pages, the totals and the payment block after it.

use std::sync::{Arc, LazyLock};

use domain::invoice::InvoiceKind;
use krilla::Document;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};

use super::data::{DocumentData, address_lines};
use super::labels::{self, Labels};

static REGULAR: LazyLock<Font> =
    LazyLock::new(|| font(include_bytes!("../../assets/fonts/DejaVuSans.ttf")));
static BOLD: LazyLock<Font> =
    LazyLock::new(|| font(include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf")));

fn font(bytes: &'static [u8]) -> Font {
    Font::new(Arc::new(bytes.to_vec()).into(), 0).expect("the bundled font parses")
}

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const LEFT: f32 = 50.0;
const RIGHT: f32 = 545.0;
const BOTTOM: f32 = 70.0;

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
#[error("the PDF could not be written: {0}")]
pub struct PdfError(String);

/// Width of `text` at `size` in DejaVu Sans, for right alignment: the digits (all one width),
/// separators and the euro sign are measured; other characters are estimated.
fn width(text: &str, size: f32, bold: bool) -> f32 {
    let em: f32 = text
        .chars()
        .map(|c| match c {
            '0'..='9' | '€' => {
                if bold {
                    0.696
                } else {
                    0.636
                }
            }
            '.' | ',' | ' ' | '\u{202f}' => 0.3179,
            '-' => 0.361,
            ':' => 0.337,
            'i' | 'l' | 'j' | 't' | 'f' | 'r' => 0.36,
            'm' | 'w' => 0.93,
            'A'..='Z' => 0.72,
            _ => 0.61,
        })
        .sum();
    em * size * if bold { 1.08 } else { 1.0 }
}

/// One drawing operation; the layout is made first, page by page, then painted.
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    Rule {
        y: f32,
    },
}

/// The pages being laid out.
struct Writer {
    pages: Vec<Vec<Op>>,
}

impl Writer {
    fn new() -> Self {
        Writer {
            pages: vec![Vec::new()],
        }
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        self.push(Op::Text {
            x,
            y,
            size,
            bold,
            text: text.to_owned(),
        });
    }

    fn right(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let w = width(text, size, bold);
        self.text(x - w, y, size, bold, text);
    }

    fn rule(&mut self, y: f32) {
        self.push(Op::Rule { y });
    }

    /// Numbers this page at its foot and starts the next one under `heading`.
    fn break_page(&mut self, page_label: &str, page_no: &mut u32, heading: &str) {
        self.right(
            RIGHT,
            HEIGHT - 40.0,
            8.0,
            false,
            &format!("{page_label} {page_no}"),
        );
        *page_no += 1;
        self.pages.push(Vec::new());
        self.text(LEFT, 60.0, 10.0, true, heading);
    }

    fn paint(self, doc: &mut Document, settings: &PageSettings) {
        for ops in self.pages {
            let mut page = doc.start_page_with(settings.clone());
            let mut surface = page.surface();
            for op in ops {
                match op {
                    Op::Text {
                        x,
                        y,
                        size,
                        bold,
                        text,
                    } => {
                        let font = if bold { BOLD.clone() } else { REGULAR.clone() };
                        surface.draw_text(
                            Point::from_xy(x, y),
                            font,
                            size,
                            &text,
                            false,
                            TextDirection::Auto,
                        );
                    }
                    Op::Rule { y } => {
                        let mut pb = PathBuilder::new();
                        if let Some(r) = Rect::from_xywh(LEFT, y, RIGHT - LEFT, 0.6) {
                            pb.push_rect(r);
                        }
                        if let Some(path) = pb.finish() {
                            surface.draw_path(&path);
                        }
                    }
                }
            }
            surface.finish();
            page.finish();
        }
    }
}

/// Breaks `text` into lines of at most `chars` characters at spaces.
fn wrap(text: &str, chars: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > chars {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

// Columns of the line table.
const COL_DATE: f32 = LEFT;
const COL_CODE: f32 = 128.0;
const COL_DESC: f32 = 182.0;
const COL_QTY: f32 = 372.0;
const COL_PRICE: f32 = 440.0;
const COL_AMOUNT: f32 = RIGHT;

fn table_header(w: &mut Writer, l: &Labels, y: f32) -> f32 {
    w.text(COL_DATE, y, 8.5, true, l.service_date);
    w.text(COL_CODE, y, 8.5, true, l.code);
    w.text(COL_DESC, y, 8.5, true, l.description);
    w.right(COL_QTY, y, 8.5, true, l.quantity);
    w.right(COL_PRICE, y, 8.5, true, l.unit_price);
    w.right(COL_AMOUNT, y, 8.5, true, l.amount);
    w.rule(y + 4.0);
    y + 16.0
}

/// Renders the document.
pub fn render(d: &DocumentData) -> Result<Vec<u8>, PdfError> {
    let lang = d.language;
    let l = labels::labels(lang);
    let title = match d.kind {
        InvoiceKind::Invoice => l.invoice,
        InvoiceKind::CreditNote => l.credit_note,
    };
    let money = |a| labels::money(lang, a);
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(format!("{title} {}", d.number))
            .language(lang.as_str().to_owned())
            .creator("Praxis".to_owned()),
    );
    let settings =
        PageSettings::from_wh(WIDTH, HEIGHT).ok_or_else(|| PdfError("page size".into()))?;
    let mut page_no: u32 = 1;
    let heading = format!("{title} {}", d.number);
    let mut w = Writer::new();

    // The practice.
    let mut y = 60.0;
    w.text(LEFT, y, 14.0, true, &d.seller.name);
    y += 16.0;
    for line in address_lines(&d.seller.address).iter().take(2) {
        w.text(LEFT, y, 9.0, false, line);
        y += 12.0;
    }
    let (register, provider) = labels::identifiers(d.country, lang);
    w.text(
        LEFT,
        y,
        9.0,
        false,
        &format!("{register} {}", d.seller.enterprise_number),
    );
    y += 12.0;
    if let Some(n) = &d.seller.provider_number {
        w.text(LEFT, y, 9.0, false, &format!("{provider} {n}"));
        y += 12.0;
    }
    match &d.seller.vat_number {
        Some(v) => w.text(LEFT, y, 9.0, false, &format!("{} {v}", l.vat_number)),
        None => w.text(LEFT, y, 9.0, false, labels::exemption(d.country, lang)),
    }

    // The title block, right.
    let mut ty = 60.0;
    w.right(RIGHT, ty, 18.0, true, title);
    ty += 20.0;
    for (label, value) in [
        (l.number, d.number.clone()),
        (l.date, labels::date(lang, d.issue_date)),
    ]
    .into_iter()
    .chain((d.kind == InvoiceKind::Invoice).then(|| (l.due_date, labels::date(lang, d.due_date))))
    .chain(d.corrects.clone().map(|n| (l.corrects, n)))
    {
        w.right(RIGHT, ty, 9.5, false, &format!("{label}: {value}"));
        ty += 13.0;
    }

    // The patient (or payer).
    y = y.max(ty) + 30.0;
    w.text(LEFT, y, 8.5, true, l.to);
    y += 13.0;
    w.text(LEFT, y, 10.5, true, &d.buyer.name);
    y += 13.0;
    for line in d.buyer.address.iter().flat_map(address_lines) {
        w.text(LEFT, y, 10.0, false, &line);
        y += 13.0;
    }

    // The lines.
    y += 22.0;
    y = table_header(&mut w, l, y);
    for line in &d.lines {
        let label = wrap(&line.label, 36);
        let needed = 13.0 * label.len() as f32 + 4.0;
        if y + needed > HEIGHT - BOTTOM {
            w.break_page(l.page, &mut page_no, &heading);
            y = table_header(&mut w, l, 84.0);
        }
        w.text(
            COL_DATE,
            y,
            9.0,
            false,
            &labels::date(lang, line.service_date),
        );
        w.text(COL_CODE, y, 9.0, false, &line.code);
        for (i, part) in label.iter().enumerate() {
            w.text(COL_DESC, y + 13.0 * i as f32, 9.0, false, part);
        }
        w.right(
            COL_QTY,
            y,
            9.0,
            false,
            &labels::quantity(lang, line.quantity),
        );
        w.right(COL_PRICE, y, 9.0, false, &money(line.unit_price));
        w.right(COL_AMOUNT, y, 9.0, false, &money(line.net));
        y += needed + 3.0;
    }
    w.rule(y - 6.0);

    // Totals, payment: kept together on one page.
    if y + 200.0 > HEIGHT - BOTTOM {
        w.break_page(l.page, &mut page_no, &heading);
        y = 90.0;
    }
    y += 10.0;
    let total_row = |w: &mut Writer, y: &mut f32, label: &str, amount: String, bold: bool| {
        w.right(COL_PRICE, *y, 9.5, bold, label);
        w.right(COL_AMOUNT, *y, 9.5, bold, &amount);
        *y += 14.0;
    };
    total_row(&mut w, &mut y, l.net_total, money(d.totals.net), false);
    let vat_label = if d.totals.vat.is_zero() {
        format!("{} 0 %", l.vat)
    } else {
        l.vat.to_owned()
    };
    total_row(&mut w, &mut y, &vat_label, money(d.totals.vat), false);
    total_row(&mut w, &mut y, l.total, money(d.totals.total), true);
    if !d.totals.insurer.is_zero() {
        total_row(
            &mut w,
            &mut y,
            l.insurer_share,
            money(d.totals.insurer),
            false,
        );
    }
    let due_label = match d.kind {
        InvoiceKind::Invoice => l.to_pay,
        InvoiceKind::CreditNote => l.to_refund,
    };
    total_row(&mut w, &mut y, due_label, money(d.totals.patient), true);
    if d.seller.vat_number.is_some() && d.totals.vat.is_zero() {
        y += 6.0;
        w.text(LEFT, y, 8.5, false, labels::exemption(d.country, lang));
        y += 12.0;
    }

    if d.kind == InvoiceKind::Invoice && !d.totals.patient.is_zero() {
        y += 24.0;
        w.text(LEFT, y, 9.5, true, l.pay_to);
        y += 14.0;
        let bic = d
            .seller
            .bic
            .as_deref()
            .map(|b| format!("  BIC {b}"))
            .unwrap_or_default();
        w.text(
            LEFT,
            y,
            9.5,
            false,
            &format!("IBAN {}{bic}", group_iban(&d.seller.iban)),
        );
        y += 14.0;
        if let Some(r) = &d.payment_reference {
            w.text(LEFT, y, 9.5, false, &format!("{}: {r}", l.reference));
            y += 14.0;
        }
        w.text(
            LEFT,
            y,
            9.5,
            false,
            &format!("{}: {}", l.due_date, labels::date(lang, d.due_date)),
        );
    }
    w.right(
        RIGHT,
        HEIGHT - 40.0,
        8.0,
        false,
        &format!("{} {page_no}", l.page),
    );
    w.paint(&mut doc, &settings);
    doc.finish().map_err(|e| PdfError(format!("{e:?}")))
}

/// `BE68539007547034` → `BE68 5390 0754 7034`.
fn group_iban(iban: &str) -> String {
    iban.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_wrap_at_spaces() {
        assert_eq!(
            wrap("Zitting kinesitherapie in de praktijk van de therapeut", 20),
            vec![
                "Zitting",
                "kinesitherapie in de",
                "praktijk van de",
                "therapeut"
            ]
        );
        assert_eq!(group_iban("BE68539007547034"), "BE68 5390 0754 7034");
    }
}
