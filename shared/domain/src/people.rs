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
