//! What a patient's SMS reply means. Keywords are matched whole, in any case, with surrounding
//! spaces and a trailing full stop or exclamation mark ignored; anything else is kept for staff.

/// The meaning of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// JA, OUI, YES, J (and Y).
    Confirm,
    /// NEE, NON, NO, N, NEIN.
    Cancel,
    /// STOP and its Dutch, French and German forms: no more messages.
    Stop,
    /// Anything else: kept for staff.
    Other,
}

const CONFIRM: [&str; 5] = ["JA", "OUI", "YES", "J", "Y"];
const CANCEL: [&str; 5] = ["NEE", "NON", "NO", "N", "NEIN"];
const STOP: [&str; 9] = [
    "STOP",
    "STOPP",
    "STOPPEN",
    "AFMELDEN",
    "UITSCHRIJVEN",
    "ARRET",
    "ARRÊT",
    "DESABONNER",
    "ABMELDEN",
];

/// Classifies a reply.
pub fn classify(text: &str) -> Intent {
    let word = text
        .trim()
        .trim_end_matches(['.', '!'])
        .trim()
        .to_uppercase();
    if CONFIRM.contains(&word.as_str()) {
        Intent::Confirm
    } else if CANCEL.contains(&word.as_str()) {
        Intent::Cancel
    } else if STOP.contains(&word.as_str()) || word == "DÉSABONNER" {
        Intent::Stop
    } else {
        Intent::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_in_any_case_with_spaces() {
        for s in ["JA", " ja ", "Oui", "yes", "j", "Y."] {
            assert_eq!(classify(s), Intent::Confirm, "{s}");
        }
        for s in ["NEE", "non", " No ", "n", "Nein!"] {
            assert_eq!(classify(s), Intent::Cancel, "{s}");
        }
        for s in [
            "STOP", "stop", "Stopp", "afmelden", "arrêt", "ARRET", "abmelden",
        ] {
            assert_eq!(classify(s), Intent::Stop, "{s}");
        }
        for s in ["ja graag", "", "Nee, ik kom later", "JAA", "stop alles"] {
            assert_eq!(classify(s), Intent::Other, "{s}");
        }
    }
}
