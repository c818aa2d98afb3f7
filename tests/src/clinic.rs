//! A practice ready for scheduling and messages, built through the API:
//! `Clinic::builder(&app).country("BE").hours(&[("08:00", "18:00")]).build().await`.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{Session, TestApp, patient_body};

/// A practice with its admin signed in, one practitioner working the same hours every day, a
/// 30-minute appointment type and one patient.
pub struct Clinic {
    /// The practice admin, signed in.
    pub admin: Session,
    /// The practitioner.
    pub practitioner: String,
    /// The appointment type.
    pub type_id: String,
    /// A patient without a mobile number ("Peeters").
    pub patient: Uuid,
}

/// How the clinic is set up; every setting has the common default.
pub struct ClinicBuilder<'a> {
    app: &'a TestApp,
    name: &'a str,
    country: &'a str,
    hours: Vec<(&'a str, &'a str)>,
    buffers: (i32, i32),
    needs_room: bool,
}

impl Clinic {
    /// A Belgian practice open 08:00–18:00 every day, a 30-minute type without buffers or room.
    pub fn builder(app: &TestApp) -> ClinicBuilder<'_> {
        ClinicBuilder {
            app,
            name: "Kine De Linde",
            country: "BE",
            hours: vec![("08:00", "18:00")],
            buffers: (0, 0),
            needs_room: false,
        }
    }

    /// The admin's bearer token.
    pub fn token(&self) -> Option<&str> {
        Some(self.admin.token.as_str())
    }
}

impl<'a> ClinicBuilder<'a> {
    /// The practice's name.
    pub fn name(mut self, name: &'a str) -> Self {
        self.name = name;
        self
    }

    /// `BE` (Brussels time) or `NL` (Amsterdam time).
    pub fn country(mut self, country: &'a str) -> Self {
        self.country = country;
        self
    }

    /// The practitioner's working periods, the same every day of the week.
    pub fn hours(mut self, periods: &[(&'a str, &'a str)]) -> Self {
        self.hours = periods.to_vec();
        self
    }

    /// Minutes blocked before and after each appointment of the type.
    pub fn buffers(mut self, before: i32, after: i32) -> Self {
        self.buffers = (before, after);
        self
    }

    /// Whether the type needs a room.
    pub fn needs_room(mut self, needs: bool) -> Self {
        self.needs_room = needs;
        self
    }

    /// Creates it all over HTTP.
    pub async fn build(self) -> Clinic {
        let app = self.app;
        let admin = app.practice_with_admin(self.name, self.country).await;
        let t = Some(admin.token.as_str());
        let p = app
            .call(
                "POST",
                "/v1/practitioners",
                t,
                Some(&json!({"display_name": "Dr. An Willems", "riziv_number": "54263481527"})),
            )
            .await;
        assert_eq!(p.status, 201, "{}", p.text);
        let practitioner = p.body["practitioner_id"].as_str().unwrap().to_owned();
        let periods: Vec<Value> = (1..=7)
            .flat_map(|d| {
                self.hours
                    .iter()
                    .map(move |(s, e)| json!({"weekday": d, "starts": s, "ends": e}))
            })
            .collect();
        let w = app
            .call(
                "PUT",
                &format!("/v1/practitioners/{practitioner}/working-hours"),
                t,
                Some(&json!({"periods": periods})),
            )
            .await;
        assert_eq!(w.status, 200, "{}", w.text);
        let ty = app
            .call(
                "POST",
                "/v1/appointment-types",
                t,
                Some(&json!({"name": "Kine 30", "duration_minutes": 30,
                             "buffer_before_minutes": self.buffers.0, "buffer_after_minutes": self.buffers.1,
                             "needs_room": self.needs_room, "tariff_code": "560011"})),
            )
            .await;
        assert_eq!(ty.status, 201, "{}", ty.text);
        let patient = app.patient(&admin, patient_body("Peeters")).await;
        Clinic {
            practitioner,
            type_id: ty.body["type_id"].as_str().unwrap().to_owned(),
            patient,
            admin,
        }
    }
}
