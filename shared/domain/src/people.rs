//! Patient-level enums.

use serde::{Deserialize, Serialize};

/// Administrative sex as recorded by the practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Other.
    Other,
    /// Not known or not stated.
    Unknown,
}

impl Sex {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "female" => Some(Sex::Female),
            "male" => Some(Sex::Male),
            "other" => Some(Sex::Other),
            "unknown" => Some(Sex::Unknown),
            _ => None,
        }
    }
}

/// How SMS consent was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMethod {
    /// Said to staff.
    Verbal,
    /// Signed on paper.
    Written,
    /// Given online.
    Online,
    /// On the intake form.
    IntakeForm,
}

impl ConsentMethod {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentMethod::Verbal => "verbal",
            ConsentMethod::Written => "written",
            ConsentMethod::Online => "online",
            ConsentMethod::IntakeForm => "intake_form",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "verbal" => Some(ConsentMethod::Verbal),
            "written" => Some(ConsentMethod::Written),
            "online" => Some(ConsentMethod::Online),
            "intake_form" => Some(ConsentMethod::IntakeForm),
            _ => None,
        }
    }
}

/// A postal address, as an invoice prints it. Stored encrypted as one document; only its
/// country is kept readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"street": "Kerkstraat", "number": "12", "box": "B", "postcode": "9000", "city": "Gent", "country": "BE"}))]
pub struct PostalAddress {
    /// Street.
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub street: String,
    /// House number.
    #[schema(
        max_length = 10,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub number: String,
    /// Box (BE *bus*) or addition (NL *toevoeging*).
    #[serde(default, rename = "box", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 10, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub box_number: Option<String>,
    /// Postcode in the country's form: BE and LU 4 digits, NL 4 digits and 2 letters, DE and
    /// FR 5 digits.
    #[schema(max_length = 10, pattern = r"^[0-9A-Za-z ]{4,10}$")]
    pub postcode: String,
    /// City.
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub city: String,
    /// Country, ISO 3166-1 alpha-2: BE, NL, LU, DE or FR.
    #[schema(pattern = "^(BE|NL|LU|DE|FR)$")]
    pub country: String,
}

/// Why an address was refused: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct AddressError {
    /// The field (`postcode`, …).
    pub field: &'static str,
    /// What is wrong (never the value).
    pub problem: &'static str,
}

impl PostalAddress {
    /// Trims every field, checks lengths and the postcode of the country, and writes the
    /// postcode in its usual form (`3511 AB`).
    pub fn normalise(self) -> Result<PostalAddress, AddressError> {
        fn line(
            field: &'static str,
            v: &str,
            max: usize,
            required: bool,
        ) -> Result<Option<String>, AddressError> {
            let v = v.trim();
            if v.chars().any(char::is_control) {
                return Err(AddressError {
                    field,
                    problem: "contains a control character",
                });
            }
            if v.chars().count() > max {
                return Err(AddressError {
                    field,
                    problem: "is too long",
                });
            }
            if v.is_empty() {
                return if required {
                    Err(AddressError {
                        field,
                        problem: "is required",
                    })
                } else {
                    Ok(None)
                };
            }
            Ok(Some(v.to_owned()))
        }
        let street = line("street", &self.street, 200, true)?.unwrap_or_default();
        let number = line("number", &self.number, 10, true)?.unwrap_or_default();
        let box_number = match self.box_number.as_deref() {
            Some(b) => line("box", b, 10, false)?,
            None => None,
        };
        let city = line("city", &self.city, 100, true)?.unwrap_or_default();
        let country = self.country.trim().to_ascii_uppercase();
        let compact: String = self
            .postcode
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let b = compact.as_bytes();
        let digits = |n: usize| b.len() == n && b.iter().all(u8::is_ascii_digit);
        let postcode = match country.as_str() {
            "BE" | "LU" if digits(4) && b[0] != b'0' => compact,
            "DE" | "FR" if digits(5) => compact,
            "NL" if b.len() == 6
                && b[..4].iter().all(u8::is_ascii_digit)
                && b[0] != b'0'
                && b[4..].iter().all(u8::is_ascii_uppercase) =>
            {
                format!("{} {}", &compact[..4], &compact[4..])
            }
            "BE" | "LU" | "DE" | "FR" | "NL" => {
                return Err(AddressError {
                    field: "postcode",
                    problem: "is not a postcode of the country",
                });
            }
            _ => {
                return Err(AddressError {
                    field: "country",
                    problem: "must be BE, NL, LU, DE or FR",
                });
            }
        };
        Ok(PostalAddress {
            street,
            number,
            box_number,
            postcode,
            city,
            country,
        })
    }
}

#[cfg(test)]
mod address_tests {
    use super::PostalAddress;

    fn addr(postcode: &str, country: &str) -> PostalAddress {
        PostalAddress {
            street: " Kerkstraat ".into(),
            number: "12".into(),
            box_number: Some(" ".into()),
            postcode: postcode.into(),
            city: "Gent".into(),
            country: country.into(),
        }
    }

    #[test]
    fn postcodes_follow_their_country() {
        let be = addr("9000", "be").normalise().unwrap();
        assert_eq!(
            (be.street.as_str(), be.box_number, be.country.as_str()),
            ("Kerkstraat", None, "BE")
        );
        assert_eq!(
            addr("3511ab", "NL").normalise().unwrap().postcode,
            "3511 AB"
        );
        assert_eq!(addr("10115", "DE").normalise().unwrap().postcode, "10115");
        for (p, c, field) in [
            ("0900", "BE", "postcode"),
            ("90000", "BE", "postcode"),
            ("3511", "NL", "postcode"),
            ("1011", "DE", "postcode"),
            ("9000", "US", "country"),
        ] {
            assert_eq!(addr(p, c).normalise().unwrap_err().field, field, "{p} {c}");
        }
        let mut blank = addr("9000", "BE");
        blank.city = "  ".into();
        assert_eq!(blank.normalise().unwrap_err().field, "city");
    }
}
