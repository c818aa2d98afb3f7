//! The demo practice for the offline first run: a practice with four staff accounts (one per
//! role, password and TOTP already set) and a handful of fictional patients.

use anyhow::Context;
use chrono::NaiveDate;
use domain::PracticeId;
use domain::people::{ConsentMethod, Sex};
use domain::practice::{Country, Language, Role};
use platform::AppState;
use platform::auth::totp;
use platform::crypto::FieldRef;
use praxis_core::patients::{ConsentInput, NewPatient};
use praxis_core::practices::{NewAdmin, NewPractice};

/// The demo practice's fixed id.
pub const DEMO_PRACTICE: &str = "0d3e0000-0000-7000-8000-000000000001";
/// Every demo account's password.
pub const DEMO_PASSWORD: &str = "demo-password-2026";
/// Every demo account's TOTP secret (raw bytes; printed in base32).
pub const DEMO_TOTP_SECRET: &[u8; 20] = b"praxis-demo-totp-key";

/// What the demo seeded.
pub struct DemoInfo {
    /// The practice.
    pub practice_id: PracticeId,
    /// Sign-in e-mail per role.
    pub accounts: Vec<(Role, String)>,
    /// Whether this run created it.
    pub created: bool,
}

fn accounts() -> Vec<(Role, &'static str, &'static str)> {
    vec![
        (Role::PracticeAdmin, "admin@demo.praxis.test", "Demo Admin"),
        (
            Role::Practitioner,
            "kine@demo.praxis.test",
            "Demo Practitioner",
        ),
        (
            Role::Receptionist,
            "desk@demo.praxis.test",
            "Demo Reception",
        ),
        (Role::Billing, "billing@demo.praxis.test", "Demo Billing"),
    ]
}

/// A valid INSZ for a birth date and serial (fictional).
fn insz(birth: NaiveDate, serial: u32) -> String {
    use chrono::Datelike;
    let base = format!(
        "{:02}{:02}{:02}{:03}",
        birth.year() % 100,
        birth.month(),
        birth.day(),
        serial
    );
    let n: u64 = base.parse().expect("digits");
    let check = if birth.year() >= 2000 {
        97 - (2_000_000_000 + n) % 97
    } else {
        97 - n % 97
    };
    format!("{base}{check:02}")
}

/// Seeds the demo practice unless it exists.
pub async fn seed(state: &AppState) -> anyhow::Result<DemoInfo> {
    let practice: PracticeId = DEMO_PRACTICE.parse().expect("valid uuid");
    let list = accounts();
    let info = DemoInfo {
        practice_id: practice,
        accounts: list.iter().map(|(r, e, _)| (*r, (*e).to_owned())).collect(),
        created: false,
    };
    let mut tx = state.db().tenant(practice).await?;
    let exists: bool = sqlx::query_scalar("select exists (select 1 from core.practice)")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    if exists {
        seed_scheduling(state, practice).await?;
        return Ok(info);
    }
    let (admin_role, admin_email, admin_name) = list[0];
    debug_assert_eq!(admin_role, Role::PracticeAdmin);
    praxis_core::practices::create_with_id(
        state,
        practice,
        NewPractice {
            name: "Kinesitherapie De Linde (demo)".to_owned(),
            country: Country::BE,
            time_zone: "Europe/Brussels".to_owned(),
            default_language: Language::Nl,
            registration_number: Some("0403.170.701".to_owned()),
            admin: NewAdmin {
                email: admin_email.to_owned(),
                display_name: admin_name.to_owned(),
            },
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("creating the demo practice failed: {e:?}"))?;

    let phc = state.passwords().hash(DEMO_PASSWORD.to_owned()).await?;
    let mut tx = state.db().tenant(practice).await?;
    for (role, email, name) in &list[1..] {
        praxis_core::staff::insert_staff(&mut tx, state, practice, email, name, *role).await?;
    }
    let keys = state
        .practice_keys(&mut tx, practice)
        .await
        .context("the demo practice's keys")?;
    let staff: Vec<uuid::Uuid> = sqlx::query_scalar("select staff_id from core.staff_account")
        .fetch_all(&mut *tx)
        .await?;
    for id in staff {
        let field = FieldRef {
            practice,
            table: "core.staff_account",
            column: "totp_secret_enc",
            row: id,
        };
        sqlx::query(
            r#"update core.staff_account
                  set password_hash = $2, totp_secret_enc = $3, totp_confirmed_at = now(),
                      setup_token_hash = null, setup_token_expires_at = null
                where staff_id = $1"#,
        )
        .bind(id)
        .bind(&phc)
        .bind(keys.encrypt(field, DEMO_TOTP_SECRET))
        .execute(&mut *tx)
        .await?;
    }
    let people = [
        (
            "Peeters",
            "Lotte",
            NaiveDate::from_ymd_opt(1984, 3, 12),
            Sex::Female,
            "0470 12 34 56",
            "Lumbago, 6 sessions prescribed",
        ),
        (
            "Janssens",
            "Milan",
            NaiveDate::from_ymd_opt(2004, 11, 2),
            Sex::Male,
            "0485 98 76 54",
            "ACL reconstruction, week 3",
        ),
        (
            "Dubois",
            "Camille",
            NaiveDate::from_ymd_opt(1957, 6, 30),
            Sex::Female,
            "0499 11 22 33",
            "Frozen shoulder",
        ),
        (
            "Maes",
            "Arthur",
            NaiveDate::from_ymd_opt(2012, 1, 18),
            Sex::Male,
            "0476 44 55 66",
            "Flat feet, insoles",
        ),
        (
            "Claes",
            "Nora",
            NaiveDate::from_ymd_opt(1991, 9, 5),
            Sex::Female,
            "0468 77 88 99",
            "Post-partum pelvic floor",
        ),
    ];
    for (i, (family, given, birth, sex, mobile, clinical)) in people.into_iter().enumerate() {
        let birth = birth.expect("valid date");
        praxis_core::patients::insert(
            &mut tx,
            state,
            practice,
            NewPatient {
                family_name: family.to_owned(),
                given_names: given.to_owned(),
                birth_date: birth,
                sex,
                mobile: Some(mobile.to_owned()),
                email: None,
                preferred_language: Some(if family == "Dubois" {
                    Language::Fr
                } else {
                    Language::Nl
                }),
                insurance_country: Some(Country::BE),
                mutuality_code: Some("100".to_owned()),
                uzovi: None,
                policy_number: None,
                insurance_valid_from: None,
                insurance_valid_until: None,
                national_number: Some(insz(birth, 101 + 2 * i as u32)),
                gp_name: Some("Dr. Demo".to_owned()),
                clinical_summary: Some(clinical.to_owned()),
                sms_consent: Some(ConsentInput {
                    method: ConsentMethod::IntakeForm,
                    given_at: None,
                }),
                address: Some(domain::people::PostalAddress {
                    street: "Veldstraat".to_owned(),
                    number: (10 + i).to_string(),
                    box_number: None,
                    postcode: "9000".to_owned(),
                    city: "Gent".to_owned(),
                    country: "BE".to_owned(),
                }),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("seeding a demo patient failed: {e:?}"))?;
    }
    tx.commit()
        .await
        .context("Failed to commit the demo data")?;
    seed_scheduling(state, practice).await?;
    seed_invoicing(state, practice).await?;
    Ok(DemoInfo {
        created: true,
        ..info
    })
}

/// Practitioners (one linked to the practitioner account), weekday hours, two appointment
/// types, a room and the public holidays of this year and the next; once.
async fn seed_scheduling(state: &AppState, practice: PracticeId) -> anyhow::Result<()> {
    use chrono::{Datelike, Duration, NaiveTime, Utc};
    let mut tx = state.db().tenant(practice).await?;
    let has: bool = sqlx::query_scalar("select exists (select 1 from scheduling.practitioner)")
        .fetch_one(&mut *tx)
        .await?;
    if has {
        return Ok(());
    }
    let kine: Option<uuid::Uuid> = sqlx::query_scalar(
        "select staff_id from core.staff_account where role = 'practitioner' limit 1",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let p = practice.as_uuid();
    for (name, staff, riziv) in [
        ("Kine Demo", kine, "54263481527"),
        ("Logo Demo", None, "19234011004"),
    ] {
        let id = uuid::Uuid::now_v7();
        sqlx::query("insert into scheduling.practitioner (practice_id, practitioner_id, display_name, staff_id, riziv_number) values ($1, $2, $3, $4, $5)")
            .bind(p)
            .bind(id)
            .bind(name)
            .bind(staff)
            .bind(riziv)
            .execute(&mut *tx)
            .await?;
        for weekday in 1..=5i16 {
            for (from, to) in [(8, 12), (13, 18)] {
                sqlx::query("insert into scheduling.working_hours (practice_id, practitioner_id, weekday, starts_local, ends_local) values ($1, $2, $3, $4, $5)")
                    .bind(p)
                    .bind(id)
                    .bind(weekday)
                    .bind(NaiveTime::from_hms_opt(from, 0, 0))
                    .bind(NaiveTime::from_hms_opt(to, 0, 0))
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    for (name, minutes, tariff, room) in [
        ("Kinesitherapie 30 min", 30, "560011", false),
        ("Eerste consult", 60, "560055", true),
    ] {
        sqlx::query(
            "insert into scheduling.appointment_type (practice_id, type_id, name, duration_minutes, buffer_after_minutes, tariff_code, needs_room, patient_bookable)
             values ($1, $2, $3, $4, 5, $5, $6, true)",
        )
        .bind(p)
        .bind(uuid::Uuid::now_v7())
        .bind(name)
        .bind(minutes)
        .bind(tariff)
        .bind(room)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("insert into scheduling.room (practice_id, room_id, name) values ($1, $2, 'Behandelzaal 1')")
        .bind(p)
        .bind(uuid::Uuid::now_v7())
        .execute(&mut *tx)
        .await?;
    let tz = chrono_tz::Europe::Brussels;
    let year = Utc::now().with_timezone(&tz).year();
    for y in [year, year + 1] {
        for (day, name) in domain::holidays::public_holidays(domain::practice::Country::BE, y) {
            let start = domain::schedule::boundary(tz, day.and_time(NaiveTime::MIN), true);
            let end = domain::schedule::boundary(
                tz,
                (day + Duration::days(1)).and_time(NaiveTime::MIN),
                true,
            );
            sqlx::query("insert into scheduling.closure (practice_id, closure_id, period, reason, source) values ($1, $2, tstzrange($3, $4), $5, 'holiday')")
                .bind(p)
                .bind(uuid::Uuid::now_v7())
                .bind(start)
                .bind(end)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The practice's invoicing details, a tariff for each appointment type (RIZIV/INAMI
/// nomenclature codes, fee and insurer share, paid on prescription) and each patient's
/// prescription; once.
async fn seed_invoicing(state: &AppState, practice: PracticeId) -> anyhow::Result<()> {
    let mut tx = state.db().tenant(practice).await?;
    let has: bool = sqlx::query_scalar("select exists (select 1 from invoicing.settings)")
        .fetch_one(&mut *tx)
        .await?;
    if has {
        return Ok(());
    }
    sqlx::query(
        "insert into invoicing.settings (practice_id, legal_name, street, house_number, postcode, city, country,
             enterprise_number, iban, bic, provider_number)
         values ($1, 'Praktijk Demo BV', 'Lindestraat', '12', '9000', 'Gent', 'BE', '0403019261',
                 'BE68539007547034', 'GEBABEBB', '54263481527')",
    )
    .bind(practice)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into invoicing.tariff (practice_id, tariff_id, type_id, code, label, valid_from, fee, insurer_share, vat_exemption_reason,
             referral_required)
         select practice_id, gen_random_uuid(), type_id, tariff_code, name, date '2020-01-01',
                case tariff_code when '560055' then 45.00 else 32.50 end,
                case tariff_code when '560055' then 33.75 else 24.37 end, 'VATEX-EU-132-1C', true
           from scheduling.appointment_type where tariff_code is not null",
    )
    .execute(&mut *tx)
    .await?;
    // Kinesitherapy in Belgium is paid on a doctor's prescription: each demo patient has one
    // from their GP, a month old.
    sqlx::query(
        "insert into core.referral (practice_id, referral_id, patient_id, prescriber_number, referral_date)
         select practice_id, gen_random_uuid(), patient_id, '10000106003', current_date - 30 from core.patient",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The demo TOTP secret in base32, for an authenticator app.
pub fn totp_secret_base32() -> String {
    totp::secret_base32(DEMO_TOTP_SECRET)
}
