//! Patient message templates. A template may use only whitelisted placeholders; there is no
//! placeholder for the patient's name, the national number or anything clinical, so no template
//! can carry them. The appointment type and the practitioner's name are opt-in per practice or
//! type. Rendering strips what providers refuse and reports encoding and segments.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Timelike};
use chrono_tz::Tz;

use crate::practice::Language;
use crate::sms::{SmsText, prepare};

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 8] = [
    "practice",
    "date",
    "time",
    "address",
    "practitioner",
    "type",
    "reply",
    "link",
];

/// What kind of message a template is for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Appointment reminder.
    Reminder,
    /// Waitlist offer of a freed slot.
    WaitlistOffer,
    /// Payment link for an invoice.
    PaymentLink,
    /// Payment reminder.
    PaymentReminder,
}

/// Why a template is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{name}` is not a placeholder.
    #[error("unknown placeholder {{{0}}}")]
    Unknown(String),
    /// A `{` without its `}`.
    #[error("unclosed placeholder")]
    Unclosed,
    /// The placeholder is not allowed for this kind or setting.
    #[error("placeholder {{{0}}} is not allowed here")]
    NotAllowed(String),
    /// Empty template.
    #[error("the template is empty")]
    Empty,
}

/// The placeholders of a template, checked against the whitelist.
pub fn placeholders(template: &str) -> Result<BTreeSet<String>, TemplateError> {
    let mut out = BTreeSet::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or(TemplateError::Unclosed)?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(TemplateError::Unknown(name.to_owned()));
        }
        out.insert(name.to_owned());
        rest = &after[close + 1..];
    }
    Ok(out)
}

/// What a practice allows in its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Allowed {
    /// The practitioner's last name may appear.
    pub practitioner_name: bool,
    /// The appointment type's name may appear.
    pub type_name: bool,
}

/// Checks a template for a kind of message under the practice's settings.
pub fn check(
    template: &str,
    kind: MessageKind,
    allowed: Allowed,
) -> Result<BTreeSet<String>, TemplateError> {
    if template.trim().is_empty() {
        return Err(TemplateError::Empty);
    }
    let used = placeholders(template)?;
    for p in &used {
        let ok = match p.as_str() {
            "practitioner" => allowed.practitioner_name,
            "type" => allowed.type_name,
            "link" => matches!(
                kind,
                MessageKind::PaymentLink | MessageKind::PaymentReminder
            ),
            "date" | "time" => matches!(kind, MessageKind::Reminder | MessageKind::WaitlistOffer),
            _ => true,
        };
        if !ok {
            return Err(TemplateError::NotAllowed(p.clone()));
        }
    }
    Ok(used)
}

/// Values for the placeholders: nothing else exists to put in a message.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    /// Practice display name.
    pub practice: String,
    /// Address line.
    pub address: Option<String>,
    /// Appointment start.
    pub starts_at: Option<DateTime<chrono::Utc>>,
    /// Practitioner's last name (only when allowed).
    pub practitioner: Option<String>,
    /// Appointment type name (only when allowed).
    pub type_name: Option<String>,
    /// Reply instructions.
    pub reply: Option<String>,
    /// Payment link.
    pub link: Option<String>,
}

const WEEKDAYS: [[&str; 7]; 4] = [
    ["ma", "di", "wo", "do", "vr", "za", "zo"],
    ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."],
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    ["Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."],
];
// Every name stays in GSM-7 so that a date never switches a reminder to UCS-2 (70 characters):
// French "août" is written "aout".
const MONTHS: [[&str; 12]; 4] = [
    [
        "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
    ],
    [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "aout", "sept.", "oct.", "nov.",
        "déc.",
    ],
    [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ],
    [
        "Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sep.", "Okt.", "Nov.",
        "Dez.",
    ],
];

fn lang_index(l: Language) -> usize {
    match l {
        Language::Nl => 0,
        Language::Fr => 1,
        Language::En => 2,
        Language::De => 3,
    }
}

/// "di 3 dec", "mar. 3 déc.", "Tue 3 Dec", "Di., 3. Dez." in the practice's zone.
pub fn local_date(tz: Tz, t: DateTime<chrono::Utc>, lang: Language) -> String {
    let l = t.with_timezone(&tz);
    let i = lang_index(lang);
    let wd = WEEKDAYS[i][l.weekday().num_days_from_monday() as usize];
    let mo = MONTHS[i][l.month0() as usize];
    match lang {
        Language::De => format!("{wd}, {}. {mo}", l.day()),
        _ => format!("{wd} {} {mo}", l.day()),
    }
}

/// "09:00" in the practice's zone.
pub fn local_time(tz: Tz, t: DateTime<chrono::Utc>) -> String {
    let l = t.with_timezone(&tz);
    format!("{:02}:{:02}", l.hour(), l.minute())
}

/// Fills a checked template. A placeholder without a value renders empty.
pub fn render(
    template: &str,
    tz: Tz,
    lang: Language,
    f: &Fields,
) -> Result<SmsText, TemplateError> {
    placeholders(template)?;
    let mut out = String::with_capacity(template.len() + 40);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or(TemplateError::Unclosed)?;
        let value = match &after[..close] {
            "practice" => f.practice.clone(),
            "date" => f
                .starts_at
                .map(|t| local_date(tz, t, lang))
                .unwrap_or_default(),
            "time" => f.starts_at.map(|t| local_time(tz, t)).unwrap_or_default(),
            "address" => f.address.clone().unwrap_or_default(),
            "practitioner" => f.practitioner.clone().unwrap_or_default(),
            "type" => f.type_name.clone().unwrap_or_default(),
            "reply" => f.reply.clone().unwrap_or_default(),
            "link" => f.link.clone().unwrap_or_default(),
            other => return Err(TemplateError::Unknown(other.to_owned())),
        };
        out.push_str(&value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(prepare(out.trim()))
}

/// The built-in reminder template of a language.
pub fn default_reminder(lang: Language) -> &'static str {
    match lang {
        Language::Nl => {
            "Herinnering: afspraak bij {practice} op {date} om {time}. Antwoord JA om te bevestigen of NEE om te annuleren."
        }
        Language::Fr => {
            "Rappel: rendez-vous chez {practice} le {date} à {time}. Répondez OUI pour confirmer ou NON pour annuler."
        }
        Language::En => {
            "Reminder: appointment at {practice} on {date} at {time}. Reply YES to confirm or NO to cancel."
        }
        Language::De => {
            "Erinnerung: Termin bei {practice} am {date} um {time}. Antworten Sie JA zum Bestätigen oder NEIN zum Absagen."
        }
    }
}

/// The built-in template of a kind of message in a language.
pub fn default_template(kind: MessageKind, lang: Language) -> &'static str {
    match (kind, lang) {
        (MessageKind::Reminder, l) => default_reminder(l),
        (MessageKind::WaitlistOffer, Language::Nl) => {
            "{practice}: er is een plaats vrij op {date} om {time}. Bel ons om ze te boeken."
        }
        (MessageKind::WaitlistOffer, Language::Fr) => {
            "{practice}: une place est libre le {date} à {time}. Appelez-nous pour la réserver."
        }
        (MessageKind::WaitlistOffer, Language::En) => {
            "{practice}: a slot is free on {date} at {time}. Call us to book it."
        }
        (MessageKind::WaitlistOffer, Language::De) => {
            "{practice}: am {date} um {time} ist ein Termin frei. Rufen Sie uns an."
        }
        (MessageKind::PaymentLink, Language::Nl) => "{practice}: uw factuur online betalen: {link}",
        (MessageKind::PaymentLink, Language::Fr) => {
            "{practice}: payez votre facture en ligne: {link}"
        }
        (MessageKind::PaymentLink, Language::En) => "{practice}: pay your invoice online: {link}",
        (MessageKind::PaymentLink, Language::De) => "{practice}: Rechnung online bezahlen: {link}",
        (MessageKind::PaymentReminder, Language::Nl) => {
            "{practice}: uw factuur staat nog open. Betalen kan via {link}"
        }
        (MessageKind::PaymentReminder, Language::Fr) => {
            "{practice}: votre facture est encore ouverte. Payez via {link}"
        }
        (MessageKind::PaymentReminder, Language::En) => {
            "{practice}: your invoice is still open. Pay via {link}"
        }
        (MessageKind::PaymentReminder, Language::De) => {
            "{practice}: Ihre Rechnung ist noch offen. Bezahlen: {link}"
        }
    }
}

/// What `{reply}` says in a language.
pub fn reply_instructions(lang: Language) -> &'static str {
    match lang {
        Language::Nl => "Antwoord JA of NEE.",
        Language::Fr => "Répondez OUI ou NON.",
        Language::En => "Reply YES or NO.",
        Language::De => "Antworten Sie JA oder NEIN.",
    }
}

impl MessageKind {
    /// The name used in storage and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Reminder => "reminder",
            MessageKind::WaitlistOffer => "waitlist_offer",
            MessageKind::PaymentLink => "payment_link",
            MessageKind::PaymentReminder => "payment_reminder",
        }
    }

    /// Parses [`MessageKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            MessageKind::Reminder,
            MessageKind::WaitlistOffer,
            MessageKind::PaymentLink,
            MessageKind::PaymentReminder,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::Encoding;
    use chrono::TimeZone;

    fn fields() -> Fields {
        Fields {
            // A long practice name: 40 characters.
            practice: "Kinesitherapie en Osteopathie De Lindeke".into(),
            starts_at: Some(
                chrono_tz::Europe::Brussels
                    .with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
                    .unwrap()
                    .with_timezone(&chrono::Utc),
            ),
            ..Fields::default()
        }
    }

    #[test]
    fn default_reminders_fit_one_gsm_segment_in_every_language() {
        for lang in [Language::Nl, Language::Fr, Language::En, Language::De] {
            let t = render(
                default_reminder(lang),
                chrono_tz::Europe::Brussels,
                lang,
                &fields(),
            )
            .unwrap();
            assert_eq!(
                (t.encoding, t.segments),
                (Encoding::Gsm7, 1),
                "{lang:?}: {} ({} units)",
                t.text,
                t.units
            );
            check(
                default_reminder(lang),
                MessageKind::Reminder,
                Allowed::default(),
            )
            .unwrap();
        }
        let nl = render(
            default_reminder(Language::Nl),
            chrono_tz::Europe::Brussels,
            Language::Nl,
            &fields(),
        )
        .unwrap();
        assert!(nl.text.contains("op di 1 dec om 09:00"), "{}", nl.text);
        let de = render(
            default_reminder(Language::De),
            chrono_tz::Europe::Brussels,
            Language::De,
            &fields(),
        )
        .unwrap();
        assert!(de.text.contains("am Di., 1. Dez. um 09:00"), "{}", de.text);
    }

    #[test]
    fn every_date_word_is_gsm7() {
        for words in WEEKDAYS
            .iter()
            .map(|w| w.as_slice())
            .chain(MONTHS.iter().map(|m| m.as_slice()))
        {
            for w in words {
                assert_eq!(prepare(w).encoding, Encoding::Gsm7, "{w}");
            }
        }
    }

    #[test]
    fn only_whitelisted_placeholders() {
        assert_eq!(
            placeholders("Dag {patient}"),
            Err(TemplateError::Unknown("patient".into()))
        );
        assert_eq!(
            placeholders("Dag {national_number}"),
            Err(TemplateError::Unknown("national_number".into()))
        );
        assert_eq!(placeholders("Dag {practice"), Err(TemplateError::Unclosed));
        assert_eq!(
            check(
                "Bij {practitioner}",
                MessageKind::Reminder,
                Allowed::default()
            ),
            Err(TemplateError::NotAllowed("practitioner".into()))
        );
        assert!(
            check(
                "Bij {practitioner}",
                MessageKind::Reminder,
                Allowed {
                    practitioner_name: true,
                    type_name: false
                }
            )
            .is_ok()
        );
        assert_eq!(
            check(
                "Betaal via {link}",
                MessageKind::Reminder,
                Allowed::default()
            ),
            Err(TemplateError::NotAllowed("link".into()))
        );
        assert!(
            check(
                "Betaal via {link}",
                MessageKind::PaymentLink,
                Allowed::default()
            )
            .is_ok()
        );
        assert_eq!(
            check("  ", MessageKind::Reminder, Allowed::default()),
            Err(TemplateError::Empty)
        );
    }

    #[test]
    fn long_templates_are_flagged_by_their_segments() {
        let long = format!(
            "{} {{practice}} {{date}} {{time}}",
            "Herinnering ".repeat(12)
        );
        let t = render(&long, chrono_tz::Europe::Brussels, Language::Nl, &fields()).unwrap();
        assert!(t.segments > 1);
    }
}
