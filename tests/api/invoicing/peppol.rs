//! Peppol BIS Billing 3.0: every UBL document the writer produces — invoice and credit note,
//! Belgian and Dutch seller, exempt care and a standard-rated product — passes the official
//! EN 16931 and PEPPOL rules with no fatal finding.

use domain::invoice::InvoiceKind;
use domain::practice::Country;
use invoicing::documents::ubl;
use praxis_tests::billing::sample_document as document;

#[test]
fn every_ubl_document_passes_the_peppol_validator() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artefacts/ubl");
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for country in [Country::BE, Country::NL] {
        for kind in [InvoiceKind::Invoice, InvoiceKind::CreditNote] {
            let xml = ubl::write(&document(country, kind)).unwrap();
            assert!(xml.contains("Elastische tape &amp; zo"), "text is escaped");
            let path = dir.join(format!("{}-{}.xml", country.as_str(), kind.as_str()));
            std::fs::write(&path, xml).unwrap();
            files.push(path);
        }
    }
    // The validator is live: a document with a wrong amount due fails it.
    let good = std::fs::read_to_string(&files[0]).unwrap();
    let broken = good.replacen(
        "<cbc:PayableAmount currencyID=\"EUR\">",
        "<cbc:PayableAmount currencyID=\"EUR\">1",
        1,
    );
    let broken_path = dir.join("broken-amount-due.xml");
    std::fs::write(&broken_path, broken).unwrap();
    files.push(broken_path);
    let results = praxis_tests::peppol::validate(&files);
    let (broken, results) = results.split_last().unwrap();
    assert!(
        broken.1 >= 1 && broken.2.contains("BR-CO-16"),
        "{}",
        broken.2
    );
    for (file, fatal, report) in results {
        assert_eq!(*fatal, 0, "{}:\n{report}", file.display());
    }
}

#[test]
fn a_document_without_a_peppol_participant_is_not_written() {
    let mut doc = document(Country::BE, InvoiceKind::Invoice);
    doc.buyer.peppol_id = None;
    assert_eq!(ubl::write(&doc), Err(ubl::UblError::NoParticipant));
    doc.buyer.peppol_id = Some("0208".into());
    assert_eq!(ubl::write(&doc), Err(ubl::UblError::BadParticipant));
}
