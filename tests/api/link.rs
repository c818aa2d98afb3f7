//! The LINK Mobility Common Platform client against the strict simulator, through the egress
//! gate: what it sends, and how it classifies failures for retries.

use std::time::Duration;

use domain::PracticeId;
use domain::identifiers::MobileNumber;
use domain::practice::Country;
use domain::sms::{OutboundSms, prepare};
use notifications::providers::link_platform::{CATEGORIES, Config, FIELDS, LinkPlatform};
use notifications::providers::{SendError, SmsProvider};
use platform::egress::{Disclosure, authorize};
use praxis_tests::sim::{Fault, LinkSim, PARTNER, PASSWORD, PLATFORM, USER};
use praxis_tests::*;
use serde_json::json;

fn client(sim: &LinkSim, password: &str, platform: &str) -> LinkPlatform {
    LinkPlatform::new(Config {
        base_url: sim.base.clone(),
        username: USER.into(),
        password: password.to_owned().into(),
        platform_id: platform.into(),
        platform_partner_id: PARTNER.into(),
        sender: "DeLinde".into(),
        delivery_report_gate: Some("GATE01".into()),
        timeout: Duration::from_millis(500),
    })
    .unwrap()
}

fn reminder() -> OutboundSms {
    OutboundSms {
        to: MobileNumber::parse(Country::BE, "0470 12 34 56").unwrap(),
        text: prepare(
            "Herinnering: afspraak bij De Linde op di 1 dec om 09:00. Antwoord JA of NEE. 👍",
        ),
        reference: "msg-0192".into(),
    }
}

#[tokio::test]
async fn sends_only_the_number_the_text_and_our_reference() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let sim = LinkSim::start().await;
    let link = client(&sim, PASSWORD, PLATFORM);
    let db = app.state.db();
    let d = Disclosure {
        practice: PracticeId::from_uuid(admin.practice_id),
        subprocessor: link.subprocessor(),
        purpose: "appointment_reminder",
        data_categories: &CATEGORIES,
        fields: &FIELDS,
        correlation_id: "msg-0192",
    };
    let permit = authorize(db, &d).await.unwrap();
    let accepted = link.send(&permit, &reminder()).await.unwrap();
    permit.sent(db).await.unwrap();
    assert!(accepted.provider_id.starts_with("SIM"));
    assert_eq!(accepted.segments, Some(1));
    let got = sim.received();
    assert_eq!(got.len(), 1);
    let body = &got[0];
    assert_eq!(body["destination"], "+32470123456");
    assert_eq!(
        body["userData"],
        "Herinnering: afspraak bij De Linde op di 1 dec om 09:00. Antwoord JA of NEE."
    );
    assert_eq!(body["refId"], "msg-0192");
    assert_eq!(body["deliveryReportGates"], json!(["GATE01"]));
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "customParameters",
            "deliveryReportGates",
            "destination",
            "ignoreResponse",
            "platformId",
            "platformPartnerId",
            "refId",
            "source",
            "sourceTON",
            "useDeliveryReport",
            "userData"
        ]
    );
    let log = app
        .call("GET", "/v1/disclosures", Some(&admin.token), None)
        .await;
    assert_eq!(log.body[0]["fields"], json!(["destination", "userData"]));
    assert_eq!(log.body[0]["outcome"], "sent");
}

#[tokio::test]
async fn failures_are_classified_for_retries() {
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let sim = LinkSim::start().await;
    let db = app.state.db();
    let d = Disclosure {
        practice: PracticeId::from_uuid(admin.practice_id),
        subprocessor: "linkmobility-pl",
        purpose: "appointment_reminder",
        data_categories: &CATEGORIES,
        fields: &FIELDS,
        correlation_id: "msg-1",
    };
    let permit = authorize(db, &d).await.unwrap();
    let sms = reminder();
    // Credentials and account configuration: permanent.
    assert_eq!(
        client(&sim, "wrong", PLATFORM).send(&permit, &sms).await,
        Err(SendError::Permanent("http_401_106100".into()))
    );
    assert_eq!(
        client(&sim, PASSWORD, "OTHER").send(&permit, &sms).await,
        Err(SendError::Permanent("http_403_106101".into()))
    );
    // Server trouble, throttling and timeouts: retryable; the next attempt goes through.
    let link = client(&sim, PASSWORD, PLATFORM);
    sim.inject(Fault::Status(503, 1));
    assert_eq!(
        link.send(&permit, &sms).await,
        Err(SendError::InDoubt("http_503_106000".into()))
    );
    sim.inject(Fault::Status(429, 1));
    assert_eq!(
        link.send(&permit, &sms).await,
        Err(SendError::Refused("http_429_106000".into()))
    );
    sim.inject(Fault::Delay(Duration::from_secs(2), 1));
    assert_eq!(
        link.send(&permit, &sms).await,
        Err(SendError::InDoubt("timeout".into()))
    );
    assert!(link.send(&permit, &sms).await.is_ok());
    permit.failed(db, "timeout").await.unwrap();
}

#[tokio::test]
async fn the_simulator_is_as_strict_as_the_documentation() {
    let sim = LinkSim::start().await;
    let http = reqwest::Client::new();
    let good = json!({"source": "DeLinde", "destination": "+32470123456", "userData": "Hallo", "platformId": PLATFORM,
                      "platformPartnerId": PARTNER, "useDeliveryReport": false, "ignoreResponse": false});
    let post = |body: serde_json::Value, auth: bool| {
        let mut r = http.post(format!("{}/sms/send", sim.base)).json(&body);
        if auth {
            r = r.basic_auth(USER, Some(PASSWORD));
        }
        async move {
            let resp = r.send().await.unwrap();
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            (status, body["resultCode"].as_i64())
        }
    };
    assert_eq!(post(good.clone(), true).await, (200, Some(1005)));
    assert_eq!(post(good.clone(), false).await, (401, Some(106100)));
    let with = |k: &str, v: serde_json::Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    assert_eq!(
        post(with("destination", json!("0470123456")), true).await,
        (400, Some(106000)),
        "E.164 with +"
    );
    assert_eq!(
        post(with("source", json!("1Clinic")), true).await,
        (400, Some(106000)),
        "sender starts with a digit"
    );
    assert_eq!(
        post(with("source", json!("Kinesitherapie De Linde")), true).await,
        (400, Some(106000)),
        "sender over 11"
    );
    assert_eq!(
        post(with("userData", json!("Tot morgen 👍")), true).await,
        (400, Some(4001)),
        "4-byte characters"
    );
    assert_eq!(
        post(with("useDeliveryReport", json!(true)), true).await,
        (400, Some(106300)),
        "a gate is needed"
    );
    assert_eq!(
        post(with("patientName", json!("x")), true).await,
        (400, Some(106000)),
        "undocumented field"
    );
    let mut no_platform = good.clone();
    no_platform.as_object_mut().unwrap().remove("platformId");
    assert_eq!(post(no_platform, true).await, (400, Some(106200)));
    let mut default_ignore = good.clone();
    default_ignore
        .as_object_mut()
        .unwrap()
        .remove("ignoreResponse");
    assert_eq!(
        post(default_ignore, true).await.0,
        204,
        "ignoreResponse defaults to true"
    );
}

mod smsapi {
    use super::*;
    use notifications::providers::smsapi::{Config, Smsapi};
    use praxis_tests::sim::SMSAPI_TOKEN;

    fn client(sim: &LinkSim, token: &str) -> Smsapi {
        Smsapi::new(Config {
            base_url: sim.base.clone(),
            token: token.to_owned().into(),
            sender: "DeLinde".into(),
            notify_url: None,
            timeout: Duration::from_millis(500),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn sends_with_idx_and_a_lost_answer_never_sends_twice() {
        let app = spawn_app().await;
        let admin = app.practice_with_admin("A", "BE").await;
        let sim = LinkSim::start().await;
        let d = Disclosure {
            practice: PracticeId::from_uuid(admin.practice_id),
            subprocessor: "linkmobility-pl",
            purpose: "appointment_reminder",
            data_categories: &CATEGORIES,
            fields: &notifications::providers::smsapi::FIELDS,
            correlation_id: "msg-7",
        };
        let permit = authorize(app.state.db(), &d).await.unwrap();
        let api = client(&sim, SMSAPI_TOKEN);
        let first = api.send(&permit, &reminder()).await.unwrap();
        assert!(!first.duplicate && first.provider_id.len() == 24);
        let body = &sim.received()[0];
        assert_eq!(body["to"], "32470123456", "no plus for SMSAPI");
        assert_eq!(body["idx"], "msg-0192");
        assert_eq!(body["check_idx"], "1");
        assert!(
            body.get("details").is_none(),
            "details would echo the text back"
        );
        // The answer was lost and the job retries: SMSAPI refuses the idx, nothing is sent twice.
        let again = api.send(&permit, &reminder()).await.unwrap();
        assert!(again.duplicate);
        assert_eq!(sim.received().len(), 1);
        // Errors.
        assert_eq!(
            client(&sim, "wrong").send(&permit, &reminder()).await,
            Err(SendError::Permanent("error_101".into()))
        );
        // A number SMSAPI cannot deliver to: permanent, and flagged by the caller.
        let mut bad = reminder();
        bad.to = MobileNumber::from_e164("+3247".to_owned());
        bad.reference = "msg-0193".into();
        assert_eq!(
            api.send(&permit, &bad).await,
            Err(SendError::InvalidRecipient("error_13".into()))
        );
        sim.inject(Fault::Status(429, 1));
        assert_eq!(
            api.send(&permit, &reminder()).await,
            Err(SendError::Refused("http_429".into()))
        );
        sim.inject(Fault::Status(502, 1));
        assert_eq!(
            api.send(&permit, &reminder()).await,
            Err(SendError::InDoubt("http_502".into()))
        );
        sim.inject(Fault::Delay(Duration::from_secs(2), 1));
        assert_eq!(
            api.send(&permit, &reminder()).await,
            Err(SendError::InDoubt("timeout".into()))
        );
        permit.sent(app.state.db()).await.unwrap();
    }

    #[tokio::test]
    async fn the_simulator_refuses_what_smsapi_refuses() {
        let sim = LinkSim::start().await;
        let http = reqwest::Client::new();
        let post = |pairs: Vec<(&'static str, &'static str)>| {
            let r = http
                .post(format!("{}/sms.do", sim.base))
                .bearer_auth(SMSAPI_TOKEN)
                .form(&pairs);
            async move {
                r.send()
                    .await
                    .unwrap()
                    .json::<serde_json::Value>()
                    .await
                    .unwrap()["error"]
                    .as_i64()
            }
        };
        let base = vec![
            ("to", "32470123456"),
            ("message", "Hallo"),
            ("from", "DeLinde"),
            ("encoding", "utf-8"),
            ("format", "json"),
        ];
        assert_eq!(post(base.clone()).await, None);
        let with = |k: &'static str, v: &'static str| {
            let mut b: Vec<(&'static str, &'static str)> =
                base.iter().filter(|(x, _)| *x != k).cloned().collect();
            b.push((k, v));
            b
        };
        assert_eq!(post(with("to", "+32470123456")).await, Some(13));
        assert_eq!(post(with("message", "Tot morgen 👍")).await, Some(11));
        assert_eq!(post(with("from", "Kinesitherapie")).await, Some(14));
        assert_eq!(post(with("patient", "x")).await, Some(8));
        assert_eq!(post(with("format", "text")).await, Some(8));
    }
}

#[tokio::test]
async fn the_configured_provider_is_the_one_used() {
    use notifications::providers::Provider;
    let app = spawn_app().await;
    let admin = app.practice_with_admin("A", "BE").await;
    let sim = LinkSim::start().await;
    let d = Disclosure {
        practice: PracticeId::from_uuid(admin.practice_id),
        subprocessor: "linkmobility-pl",
        purpose: "appointment_reminder",
        data_categories: &CATEGORIES,
        fields: &FIELDS,
        correlation_id: "msg-9",
    };
    let permit = authorize(app.state.db(), &d).await.unwrap();
    let settings = |pairs: &[(&str, &str)]| {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        platform::Settings::from_lookup(|k| map.get(k).cloned()).unwrap()
    };
    // Default: the sandbox, nothing leaves.
    let sandbox = Provider::from_settings(&settings(&[])).unwrap();
    let ok = sandbox.send(&permit, &reminder()).await.unwrap();
    assert_eq!(ok.provider_id, "sandbox-msg-0192");
    assert!(sim.raw().is_empty());
    // SMSAPI from configuration, against the simulator.
    let smsapi = Provider::from_settings(&settings(&[
        ("SMS_PROVIDER", "smsapi"),
        ("SMSAPI_BASE_URL", &sim.base),
        ("SMSAPI_TOKEN", praxis_tests::sim::SMSAPI_TOKEN),
        ("SMS_SENDER", "DeLinde"),
    ]))
    .unwrap();
    assert!(!smsapi.send(&permit, &reminder()).await.unwrap().duplicate);
    assert_eq!(sim.received()[0]["from"], "DeLinde");
    permit.sent(app.state.db()).await.unwrap();
}
