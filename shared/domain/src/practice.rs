//! Practice-level enums: country, language, staff role and the permission matrix.

use serde::{Deserialize, Serialize};

/// Where a practice works; decides national identifiers and insurer flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Country {
    /// Belgium.
    BE,
    /// The Netherlands.
    NL,
}

impl Country {
    /// The ISO 3166-1 alpha-2 code.
    pub fn as_str(self) -> &'static str {
        match self {
            Country::BE => "BE",
            Country::NL => "NL",
        }
    }

    /// Parses the ISO code.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "BE" => Some(Country::BE),
            "NL" => Some(Country::NL),
            _ => None,
        }
    }
}

/// Languages for patient messages and staff defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Dutch.
    Nl,
    /// French.
    Fr,
    /// English.
    En,
    /// German.
    De,
}

impl Language {
    /// The ISO 639-1 code.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Nl => "nl",
            Language::Fr => "fr",
            Language::En => "en",
            Language::De => "de",
        }
    }

    /// Parses the ISO code.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "nl" => Some(Language::Nl),
            "fr" => Some(Language::Fr),
            "en" => Some(Language::En),
            "de" => Some(Language::De),
            _ => None,
        }
    }
}

/// A staff member's role in one practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Treats patients; sees clinical text.
    Practitioner,
    /// Front desk: booking and contact details, no clinical text.
    Receptionist,
    /// Invoices and claims, no clinical text.
    Billing,
    /// Manages staff, the audit trail and support access.
    PracticeAdmin,
}

/// What a route needs. The matrix in [`Role::allows`] is the single source; the README
/// table is written from it and a test walks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read identity, contact and insurance of patients.
    PatientRead,
    /// Create and change identity, contact and insurance of patients.
    PatientWrite,
    /// Read and write the clinical summary.
    ClinicalText,
    /// Read the audit trail.
    AuditRead,
    /// Manage staff accounts (create, unlock, reset, deactivate).
    StaffManage,
    /// Grant and revoke operator support access.
    SupportGrant,
    /// See agendas and appointments.
    ScheduleRead,
    /// Book, hold, reschedule, cancel and close appointments.
    ScheduleWrite,
    /// Set up practitioners, rooms, appointment types, working hours and closures.
    ScheduleManage,
    /// Book a deliberate overlap (double booking) with a reason.
    OverlapOverride,
    /// Object to subprocessors and read the disclosure log.
    PrivacyManage,
    /// See invoices, credit notes, payments and tariffs.
    InvoiceRead,
    /// Draft, issue, credit and write off invoices; record payments and refunds; set tariffs
    /// and the practice's invoicing details.
    InvoiceWrite,
}

impl Permission {
    /// Every permission, for the matrix test and the README table.
    pub const ALL: [Permission; 13] = [
        Permission::PatientRead,
        Permission::PatientWrite,
        Permission::ClinicalText,
        Permission::AuditRead,
        Permission::StaffManage,
        Permission::SupportGrant,
        Permission::ScheduleRead,
        Permission::ScheduleWrite,
        Permission::ScheduleManage,
        Permission::OverlapOverride,
        Permission::PrivacyManage,
        Permission::InvoiceRead,
        Permission::InvoiceWrite,
    ];
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [
        Role::Practitioner,
        Role::Receptionist,
        Role::Billing,
        Role::PracticeAdmin,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Practitioner => "practitioner",
            Role::Receptionist => "receptionist",
            Role::Billing => "billing",
            Role::PracticeAdmin => "practice_admin",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The permission matrix.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            PatientRead | ScheduleRead => true,
            PatientWrite | ScheduleWrite => {
                matches!(self, Practitioner | Receptionist | PracticeAdmin)
            }
            ClinicalText | OverlapOverride => matches!(self, Practitioner | PracticeAdmin),
            InvoiceRead => matches!(self, Receptionist | Billing | PracticeAdmin),
            InvoiceWrite => matches!(self, Billing | PracticeAdmin),
            AuditRead | StaffManage | SupportGrant | ScheduleManage | PrivacyManage => {
                matches!(self, PracticeAdmin)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clinical_roles_see_clinical_text() {
        assert!(Role::Practitioner.allows(Permission::ClinicalText));
        assert!(!Role::Receptionist.allows(Permission::ClinicalText));
        assert!(!Role::Billing.allows(Permission::ClinicalText));
    }

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("operator"), None);
    }
}
