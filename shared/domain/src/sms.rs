//! SMS text: which encoding a text needs, how many segments it costs, and the stripping of
//! characters the providers refuse (4-byte Unicode such as most emoji).
//!
//! GSM-7 (GSM 03.38): 160 septets in one segment, 153 per part when concatenated; the extension
//! characters `^ { } \ [ ~ ] | €` and form feed cost two septets. Anything outside the table
//! switches the whole text to UCS-2: 70 characters in one segment, 67 per part.

/// The GSM 03.38 basic character set.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The GSM 03.38 extension table (two septets each).
const GSM_EXTENSION: &str = "^{}\\[~]|€\u{0C}";

/// How a text is sent.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// 7-bit GSM alphabet.
    Gsm7,
    /// UCS-2 (16 bits per character).
    Ucs2,
}

/// A text ready for sending, with its cost. `Debug` shows the cost, never the text.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsText {
    /// The text after stripping.
    pub text: String,
    /// The encoding it needs.
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Segments it costs.
    pub segments: usize,
    /// How many characters were removed.
    pub stripped: usize,
}

impl std::fmt::Debug for SmsText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsText")
            .field("encoding", &self.encoding)
            .field("units", &self.units)
            .field("segments", &self.segments)
            .finish_non_exhaustive()
    }
}

/// Everything an SMS provider receives: a number, a text built from whitelisted template fields,
/// and our opaque reference. There is no field for anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundSms {
    /// Recipient.
    pub to: crate::identifiers::MobileNumber,
    /// The rendered text.
    pub text: SmsText,
    /// Our reference (message id), echoed in delivery reports; no personal data.
    pub reference: String,
}

/// Whether a character is in the GSM-7 tables, and its cost in septets.
fn gsm_cost(c: char) -> Option<usize> {
    if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Characters no provider accepts: outside the Basic Multilingual Plane (4-byte UTF-8), and the
/// joiners and variation selectors emoji sequences leave behind.
fn refused(c: char) -> bool {
    (c as u32) > 0xFFFF || matches!(c, '\u{200D}' | '\u{FE0E}' | '\u{FE0F}')
}

/// Strips refused characters (and the whitespace that leaves at the ends), picks the encoding
/// and counts segments.
pub fn prepare(input: &str) -> SmsText {
    let kept: String = input.chars().filter(|c| !refused(*c)).collect();
    let stripped = input.chars().count() - kept.chars().count();
    let text = kept.trim().to_owned();
    let septets: Option<usize> = text.chars().map(gsm_cost).sum();
    let (encoding, units, single, part) = match septets {
        Some(s) => (Encoding::Gsm7, s, 160, 153),
        None => (Encoding::Ucs2, text.encode_utf16().count(), 70, 67),
    };
    let segments = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    SmsText {
        text,
        encoding,
        units,
        segments,
        stripped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_limits() {
        assert_eq!(prepare(&"a".repeat(160)).segments, 1);
        assert_eq!(prepare(&"a".repeat(161)).segments, 2);
        assert_eq!(prepare(&"a".repeat(306)).segments, 2);
        assert_eq!(prepare(&"a".repeat(307)).segments, 3);
        assert_eq!(prepare(&"a".repeat(765)).segments, 5);
        let t = prepare("Uw afspraak bij Kine De Linde: di 3/12 om 09:00. Antwoord JA of NEE.");
        assert_eq!((t.encoding, t.segments), (Encoding::Gsm7, 1));
    }

    #[test]
    fn extension_characters_cost_two() {
        let t = prepare(&format!("{}€", "a".repeat(158)));
        assert_eq!((t.encoding, t.units, t.segments), (Encoding::Gsm7, 160, 1));
        let t = prepare(&format!("{}€", "a".repeat(159)));
        assert_eq!((t.units, t.segments), (161, 2));
    }

    #[test]
    fn non_gsm_switches_to_ucs2() {
        // ç is not in GSM-7 (only Ç is); Polish diacritics neither.
        let t = prepare("Votre rendez-vous: reçu");
        assert_eq!(t.encoding, Encoding::Ucs2);
        assert_eq!(prepare(&"ą".repeat(70)).segments, 1);
        assert_eq!(prepare(&"ą".repeat(71)).segments, 2);
        assert_eq!(prepare(&"ą".repeat(134)).segments, 2);
        assert_eq!(prepare(&"ą".repeat(135)).segments, 3);
        // French and German letters that are in GSM-7 keep it.
        assert_eq!(prepare("é è à ù ä ö ü ß Ç").encoding, Encoding::Gsm7);
    }

    #[test]
    fn four_byte_characters_are_stripped() {
        let t = prepare("Tot morgen 👍🏽 ❤️");
        assert_eq!(
            t.text, "Tot morgen  ❤",
            "inner spaces stay, the ends are trimmed"
        );
        assert_eq!(t.stripped, 3);
        // ❤ (U+2764) is BMP but not GSM-7.
        assert_eq!(t.encoding, Encoding::Ucs2);
        assert_eq!(prepare("Tot morgen 👍").encoding, Encoding::Gsm7);
    }
}
