//! Online payment through Stripe, against the strict Stripe simulator: payment links, the
//! Checkout Session they open (golden form body, nothing of the patient in it), the webhook
//! (signature, whitelist, dedupe), refunds, a second payment, reconciliation and faults.

use praxis_tests::billing::{Billing, press_pay, session_of};
use praxis_tests::stripe_sim::{Fault, StripeSim};
use praxis_tests::{TestApp, insz, spawn_app_with};
use serde_json::{Value, json};

const ACCOUNT: &str = "acct_1PraxisSimA";
const EVENTS: &str = domain::jobs::STRIPE_EVENT;
const REFUNDS: &str = domain::jobs::SEND_REFUND;

async fn app_with(sim: &StripeSim) -> TestApp {
    let mut settings: Vec<(&str, String)> = sim.settings();
    settings.push(("PUBLIC_URL", "{base}".to_owned()));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(&pairs).await
}

async fn online(app: &TestApp) -> Billing {
    let b = Billing::setup(app).await;
    b.enable_stripe(app, ACCOUNT).await;
    b
}

/// A simulator, a server on it, a practice connected to it and one issued invoice (its id).
async fn with_invoice() -> (StripeSim, TestApp, Billing, String) {
    let sim = StripeSim::start(&[ACCOUNT]).await;
    let app = app_with(&sim).await;
    let b = online(&app).await;
    let inv = b.issued(&app).await;
    let id = inv["invoice_id"].as_str().unwrap().to_owned();
    (sim, app, b, id)
}

/// Asks for a refund of `amount` on invoice `id`.
async fn refund(app: &TestApp, b: &Billing, id: &str, amount: &str) -> praxis_tests::Reply {
    app.call(
        "POST",
        &format!("/v1/invoices/{id}/refunds"),
        b.token(),
        Some(&json!({"amount": amount})),
    )
    .await
}

async fn invoice(app: &TestApp, b: &Billing, id: &str) -> Value {
    let r = app
        .call("GET", &format!("/v1/invoices/{id}"), b.token(), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// The golden form body of a Checkout Session, byte for byte as async-stripe encodes it: every
/// key in its order, with the values that vary (our attempt id, the expiry, this server's
/// URL, the invoice number) filled in.
const GOLDEN_SESSION: &str = "allowed_payment_method_types[0]=card&allowed_payment_method_types[1]=bancontact\
&allowed_payment_method_types[2]=ideal&cancel_url={base}/p/back/{checkout}&client_reference_id={checkout}\
&customer_creation=if_required&expires_at={expires_at}&line_items[0][price_data][currency]=eur\
&line_items[0][price_data][product_data][name]=Factuur+{number}&line_items[0][price_data][unit_amount]=813\
&line_items[0][quantity]=1&locale=nl&metadata[checkout]={checkout}&mode=payment&success_url={base}/p/done/{checkout}";

fn golden_session(checkout: &str, expires_at: i64, base: &str, number: &str) -> String {
    GOLDEN_SESSION
        .replace("{base}", base)
        .replace("{checkout}", checkout)
        .replace("{expires_at}", &expires_at.to_string())
        .replace("{number}", number)
}

#[tokio::test]
async fn a_payment_link_opens_a_session_that_carries_only_what_a_payment_needs() {
    let sim = StripeSim::start(&[ACCOUNT]).await;
    let app = app_with(&sim).await;
    let b = online(&app).await;
    // A patient full of canaries: none of it may reach Stripe.
    let national = insz("770412345");
    let canaries = [
        "Canaryfamstripe",
        "Canarygivstripe",
        "canary.stripe@example.test",
        national.as_str(),
        "Canarystripestraat",
        "Canarystripestad",
        "+32470555123",
    ];
    let p = app
        .call("POST", "/v1/patients", b.token(), Some(&json!({"family_name": canaries[0], "given_names": canaries[1],
            "birth_date": "1977-04-12", "sex": "female", "email": canaries[2], "national_number": canaries[3], "mobile": canaries[6],
            "address": {"street": canaries[4], "number": "7", "postcode": "9000", "city": canaries[5], "country": "BE"}})))
        .await;
    assert_eq!(p.status, 201, "{}", p.text);
    let inv = b
        .issued_for(&app, p.body["patient_id"].as_str().unwrap())
        .await;
    let (id, number) = (
        inv["invoice_id"].as_str().unwrap(),
        inv["number"].as_str().unwrap(),
    );
    let url = b.payment_link(&app, id).await;
    // The link: this server, /p/, 22 characters (128 bits), nothing else.
    let token = url
        .strip_prefix(&format!("{}/p/", app.base))
        .expect("a link of this server");
    assert_eq!(token.len(), 22);
    assert!(
        token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    assert!(!url.contains(number) && !url.contains(id));

    // Opening it shows the page and opens nothing at Stripe (link previews fetch it).
    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("form-action 'self' https://checkout.stripe.com"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<html lang=\"nl\">") && html.contains(number) && html.contains("€ 8,13"),
        "{html}"
    );
    assert!(
        !canaries.iter().any(|c| html.contains(c)),
        "the page shows nothing of the patient"
    );
    assert!(sim.received().is_empty());

    let paid = press_pay(&app, &url).await;
    let session = session_of(&paid);
    assert!(
        paid.headers["location"]
            .to_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/c/pay/cs_")
    );
    let received = sim.received();
    assert_eq!(received.len(), 1);
    let call = &received[0];
    assert_eq!(
        (call.method.as_str(), call.path.as_str()),
        ("POST", "/v1/checkout/sessions")
    );
    assert_eq!(call.account.as_deref(), Some(ACCOUNT));
    let checkout = call
        .form
        .iter()
        .find(|(k, _)| k == "client_reference_id")
        .unwrap()
        .1
        .clone();
    assert_eq!(call.idempotency_key, Some(format!("cs:{checkout}")));
    let expires_at: i64 = call
        .form
        .iter()
        .find(|(k, _)| k == "expires_at")
        .unwrap()
        .1
        .parse()
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now + 3_500..=now + 3_600).contains(&expires_at));
    assert_eq!(
        call.body,
        golden_session(&checkout, expires_at, &app.base, number),
        "the golden form body"
    );
    // The disclosure field names are exactly the keys sent.
    let mut keys: Vec<String> = call
        .form
        .iter()
        .map(|(k, _)| {
            let k = k.replace("[0]", "").replace("[1]", "").replace("[2]", "");
            k.replace('[', ".").replace(']', "")
        })
        .collect();
    keys.dedup();
    keys.sort();
    let logged: Vec<String> = sqlx::query_scalar("select unnest(fields) from core.disclosure where subprocessor_id = 'stripe-eu' and outcome = 'sent' order by 1")
        .fetch_all(&app.owner).await.unwrap();
    assert_eq!(keys, logged);
    for c in canaries {
        assert!(
            !call.body.contains(c) && !call.body.contains(&c.replace(' ', "+")),
            "canary {c} reached Stripe"
        );
    }

    // Pressing again (a second tab, a double tap) goes back to the same session.
    let again = press_pay(&app, &url).await;
    assert_eq!(session_of(&again), session);
    assert_eq!(sim.received().len(), 1);

    // The patient pays; Stripe's event carries what they typed on its page.
    let event = sim.complete(&session);
    assert_eq!(
        StripeSim::deliver(&app.client, &app.base, &event).await,
        200
    );
    assert_eq!(
        StripeSim::deliver(&app.client, &app.base, &event).await,
        200,
        "a duplicate is acknowledged"
    );
    app.drain(&[EVENTS]).await;
    let v = invoice(&app, &b, id).await;
    assert_eq!(v["status"], "paid");
    assert_eq!(v["payments"].as_array().unwrap().len(), 1);
    assert_eq!(v["payments"][0]["method"], "stripe");
    assert_eq!(
        app.count("select count(*) from invoicing.stripe_event")
            .await,
        1
    );
    // Nothing of customer_details stays anywhere.
    let dump: String =
        sqlx::query_scalar("select string_agg(t::text, ' ') from invoicing.stripe_event t")
            .fetch_one(&app.owner)
            .await
            .unwrap();
    for c in [
        "Canary Payer",
        "canary.payer@example.org",
        "+32470999111",
        "Kanariestraat",
    ] {
        assert!(!dump.contains(c), "{c} was stored");
    }
    // Back from Stripe: the done page; the link now says paid and opens nothing more.
    let done = app
        .client
        .get(format!("{}/p/done/{checkout}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("Uw betaling is ontvangen")
    );
    let after = press_pay(&app, &url).await;
    assert_eq!(after.status, 200);
    assert!(after.text.contains("Deze factuur is betaald"));
    assert_eq!(sim.received().len(), 1);
}

#[tokio::test]
async fn webhooks_with_a_bad_signature_an_old_time_or_a_bad_body_are_refused_and_stored_nowhere() {
    let sim = StripeSim::start(&[ACCOUNT]).await;
    let app = app_with(&sim).await;
    let b = online(&app).await;
    let inv = b.issued(&app).await;
    let url = b
        .payment_link(&app, inv["invoice_id"].as_str().unwrap())
        .await;
    let session = session_of(&press_pay(&app, &url).await);
    let body = sim.complete(&session).to_string();
    let now = chrono::Utc::now().timestamp();
    let post = |sig: Option<String>, body: String| {
        let mut r = app
            .client
            .post(format!("{}/v1/hooks/stripe", app.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = sig {
            r = r.header("stripe-signature", s);
        }
        r.send()
    };
    let wrong = invoicing::stripe::signature::sign(body.as_bytes(), "whsec_not_ours_at_all", now);
    let old = StripeSim::signature(&body, now - 301);
    let future = StripeSim::signature(&body, now + 301);
    let tampered = body.replace("813", "1");
    for (sig, b) in [
        (None, body.clone()),
        (Some(wrong), body.clone()),
        (Some(old), body.clone()),
        (Some(future), body.clone()),
        (Some(StripeSim::signature(&body, now)), tampered),
        (Some("t=abc,v1=00".into()), body.clone()),
    ] {
        let r = post(sig, b).await.unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let not_json = "{not json";
    let r = post(Some(StripeSim::signature(not_json, now)), not_json.into())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        app.count("select count(*) from invoicing.stripe_event")
            .await,
        0
    );
    // A type we do not act on, and an account we do not know: acknowledged, stored nowhere.
    let other = json!({"id": "evt_other", "object": "event", "type": "customer.created", "created": now, "livemode": false, "data": {"object": {"id": "cus_1"}}});
    assert_eq!(
        StripeSim::deliver(&app.client, &app.base, &other).await,
        200
    );
    let mut stranger: Value = serde_json::from_str(&body).unwrap();
    stranger["account"] = json!("acct_1SomeoneElse");
    stranger["id"] = json!("evt_stranger");
    stranger["data"]["object"]["client_reference_id"] = json!(uuid::Uuid::new_v4().to_string());
    stranger["data"]["object"]["metadata"] = json!({});
    assert_eq!(
        StripeSim::deliver(&app.client, &app.base, &stranger).await,
        200
    );
    assert_eq!(
        app.count("select count(*) from invoicing.stripe_event")
            .await,
        0
    );
    // The right one is stored once.
    let r = post(Some(StripeSim::signature(&body, now)), body.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.count("select count(*) from invoicing.stripe_event")
            .await,
        1
    );
}

#[tokio::test]
async fn refunds_go_to_stripe_once_and_the_invoice_follows() {
    let (sim, app, b, id) = with_invoice().await;
    let id = id.as_str();
    // Nothing paid online yet: nothing to refund.
    let r = refund(&app, &b, id, "1.00").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["field"], "amount");
    let url = b.payment_link(&app, id).await;
    let session = session_of(&press_pay(&app, &url).await);
    StripeSim::deliver(&app.client, &app.base, &sim.complete(&session)).await;
    app.drain(&[EVENTS]).await;
    // More than was paid: 422 naming the amount, nothing written.
    let r = refund(&app, &b, id, "8.14").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["field"], "amount");
    assert_eq!(app.count("select count(*) from invoicing.refund").await, 0);
    // 20 concurrent retries with one key: one refund, 20 identical answers.
    let key = uuid::Uuid::new_v4().to_string();
    let path = format!("{}/v1/invoices/{id}/refunds", app.base);
    let sends = (0..20)
        .map(|_| {
            app.client
                .post(&path)
                .bearer_auth(b.token().unwrap())
                .header("idempotency-key", &key)
                .json(&json!({"amount": "3.00"}))
        })
        .collect();
    let answers = all_at_once(sends).await;
    let bodies: Vec<String> = answers
        .iter()
        .map(|(s, t)| {
            assert_eq!(*s, 201, "{t}");
            t.clone()
        })
        .collect();
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(app.count("select count(*) from invoicing.refund").await, 1);
    app.drain(&[REFUNDS]).await;
    let refund_calls: Vec<_> = sim
        .received()
        .into_iter()
        .filter(|r| r.path == "/v1/refunds")
        .collect();
    assert_eq!(refund_calls.len(), 1);
    let call = &refund_calls[0];
    let refund_id: Value = serde_json::from_str(&bodies[0]).unwrap();
    let refund_id = refund_id["refund_id"].as_str().unwrap();
    assert_eq!(call.idempotency_key, Some(format!("refund:{refund_id}")));
    let keys: Vec<&str> = call.form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["amount", "metadata[refund]", "payment_intent", "reason"],
        "the golden refund form"
    );
    assert_eq!(call.form[0].1, "300");
    assert_eq!(call.form[3].1, "requested_by_customer");
    let v = invoice(&app, &b, id).await;
    assert_eq!(v["refunds"][0]["state"], "succeeded");
    assert_eq!(v["paid"], "5.13");
    assert_eq!(v["status"], "partially_paid");
    // Stripe's later news of the same refund changes nothing; a failure afterwards puts the
    // money back on the invoice, once.
    let re = sim.refunds()[0]["id"].as_str().unwrap().to_owned();
    for e in [
        sim.refund_update(&re, "succeeded"),
        sim.refund_update(&re, "failed"),
    ] {
        assert_eq!(StripeSim::deliver(&app.client, &app.base, &e).await, 200);
    }
    app.drain(&[EVENTS]).await;
    let v = invoice(&app, &b, id).await;
    assert_eq!(v["refunds"][0]["state"], "failed");
    assert_eq!(v["paid"], "8.13");
    assert_eq!(v["status"], "paid");
}

/// Sends the requests at once; their statuses and bodies, in order.
async fn all_at_once(requests: Vec<reqwest::RequestBuilder>) -> Vec<(u16, String)> {
    let handles: Vec<_> = requests
        .into_iter()
        .map(|rb| {
            tokio::spawn(async move {
                let r = rb.send().await.unwrap();
                let s = r.status().as_u16();
                (s, r.text().await.unwrap())
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_second_payment_of_a_paid_invoice_is_refunded_as_a_duplicate() {
    let (sim, app, b, id) = with_invoice().await;
    let id = id.as_str();
    // Two links (say, an SMS and a staff hand-out), two sessions, both paid.
    let first = session_of(&press_pay(&app, &b.payment_link(&app, id).await).await);
    let e1 = sim.complete(&first);
    // The second session is opened on a fresh attempt: the first one's checkout is closed by
    // hand here (as if it had expired) so the second click opens a new one.
    sqlx::query("update invoicing.checkout set state = 'expired'")
        .execute(&app.owner)
        .await
        .unwrap();
    let second = session_of(&press_pay(&app, &b.payment_link(&app, id).await).await);
    assert_ne!(first, second);
    let e2 = sim.complete(&second);
    for e in [&e1, &e2] {
        assert_eq!(StripeSim::deliver(&app.client, &app.base, e).await, 200);
    }
    app.drain(&[EVENTS, REFUNDS]).await;
    let v = invoice(&app, &b, id).await;
    assert_eq!(v["payments"].as_array().unwrap().len(), 2);
    let refunds = v["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["reason"], "duplicate");
    assert_eq!(refunds[0]["amount_cents"], 813);
    assert_eq!(refunds[0]["state"], "succeeded");
    assert_eq!(v["paid"], "8.13");
    assert_eq!(v["status"], "paid");
    let sent: Vec<_> = sim
        .received()
        .into_iter()
        .filter(|r| r.path == "/v1/refunds")
        .collect();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.contains("reason=duplicate"));
}

#[tokio::test]
async fn reconciliation_heals_a_missed_webhook() {
    let (sim, app, b, id) = with_invoice().await;
    let id = id.as_str();
    let session = session_of(&press_pay(&app, &b.payment_link(&app, id).await).await);
    let _never_delivered = sim.complete(&session);
    let practice = b.clinic.admin.practice_id;
    let stored = invoicing::stripe::reconcile::reconcile_practice(
        &app.state,
        domain::PracticeId::from_uuid(practice),
    )
    .await
    .unwrap();
    assert_eq!(stored, 1);
    // A second run finds nothing new.
    let again = invoicing::stripe::reconcile::reconcile_practice(
        &app.state,
        domain::PracticeId::from_uuid(practice),
    )
    .await
    .unwrap();
    assert_eq!(again, 0);
    app.drain(&[EVENTS]).await;
    assert_eq!(invoice(&app, &b, id).await["status"], "paid");
    let listed: Vec<_> = sim
        .received()
        .into_iter()
        .filter(|r| r.path == "/v1/events")
        .collect();
    assert!(
        listed
            .iter()
            .all(|r| r.method == "GET" && r.idempotency_key.is_none())
    );
}

#[tokio::test]
async fn stripe_failures_show_a_page_and_a_lost_answer_is_asked_again_with_the_same_key() {
    let sim = StripeSim::start(&[ACCOUNT]).await;
    let app = app_with(&sim).await;
    let b = online(&app).await;
    let inv = b.issued(&app).await;
    let url = b
        .payment_link(&app, inv["invoice_id"].as_str().unwrap())
        .await;
    // Busy: try again shortly; nothing failed for good.
    sim.inject(Fault::Status(429, 1));
    let r = press_pay(&app, &url).await;
    assert_eq!(r.status, 503);
    assert!(
        r.text.contains("Probeer het over een ogenblik opnieuw"),
        "{}",
        r.text
    );
    // The same attempt (the same key) is asked again, and opens.
    let s = session_of(&press_pay(&app, &url).await);
    let calls = sim.received();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].idempotency_key, calls[1].idempotency_key);
    assert!(s.starts_with("cs_test_"));
    // A lost answer (Stripe did it, we timed out): the retry replays Stripe's first answer.
    sqlx::query("update invoicing.checkout set state = 'expired'")
        .execute(&app.owner)
        .await
        .unwrap();
    sim.inject(Fault::Delay(std::time::Duration::from_millis(2_500), 1));
    let r = press_pay(&app, &url).await;
    assert_eq!(r.status, 503, "{}", r.text);
    let s2 = session_of(&press_pay(&app, &url).await);
    assert_eq!(
        sim.sessions().len(),
        2,
        "the retry opened no second session"
    );
    assert!(sim.sessions().iter().any(|x| x["id"] == s2.as_str()));
    // Stripe fails for good: pay by transfer, the page says so.
    sqlx::query("update invoicing.checkout set state = 'expired'")
        .execute(&app.owner)
        .await
        .unwrap();
    sim.inject(Fault::Status(500, 1));
    let r = press_pay(&app, &url).await;
    assert_eq!(r.status, 503);
    assert!(
        r.text.contains("Online betalen lukt nu niet") && r.text.contains("BE68 5390 0754 7034"),
        "{}",
        r.text
    );
    let failed: Vec<String> = sqlx::query_scalar("select detail from core.disclosure where subprocessor_id = 'stripe-eu' and outcome = 'failed' order by occurred_at")
        .fetch_all(&app.owner).await.unwrap();
    assert_eq!(failed, ["http_429", "timeout", "http_500"]);
}

#[tokio::test]
async fn a_practice_that_objects_to_stripe_sends_nothing_and_unknown_links_show_nothing() {
    let sim = StripeSim::start(&[ACCOUNT]).await;
    let app = app_with(&sim).await;
    let b = online(&app).await;
    let inv = b.issued(&app).await;
    let url = b
        .payment_link(&app, inv["invoice_id"].as_str().unwrap())
        .await;
    let r = app
        .call(
            "POST",
            "/v1/subprocessors/stripe-eu/objection",
            b.token(),
            Some(&json!({"reason": "bank transfer only"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = press_pay(&app, &url).await;
    assert_eq!(r.status, 503);
    assert!(sim.received().is_empty());
    // Unknown or malformed tokens: 404, the same page.
    for token in ["AAAAAAAAAAAAAAAAAAAAAA", "short", "x'or'1=1"] {
        let r = app
            .client
            .get(format!("{}/p/{token}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    // A credit note or a draft gets no link.
    let d = b.draft(&app, json!([b.tariff_line("1")])).await;
    let r = app
        .call(
            "POST",
            &format!(
                "/v1/invoices/{}/payment-links",
                d["invoice_id"].as_str().unwrap()
            ),
            b.token(),
            None,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
}

#[tokio::test]
async fn a_refund_goes_with_the_credit_note_of_its_invoice_and_the_invoice_lists_its_documents() {
    let (sim, app, b, id) = with_invoice().await;
    let id = id.as_str();
    let session = session_of(&press_pay(&app, &b.payment_link(&app, id).await).await);
    StripeSim::deliver(&app.client, &app.base, &sim.complete(&session)).await;
    app.drain(&[EVENTS]).await;
    let cn = app
        .call(
            "POST",
            &format!("/v1/invoices/{id}/credit-notes"),
            b.token(),
            Some(&json!({})),
        )
        .await;
    assert_eq!(cn.status, 201, "{}", cn.text);
    let cn_id = cn.body["invoice_id"].as_str().unwrap();
    // A credit note of another invoice does not go with this refund.
    let other = b.issued(&app).await;
    let other_cn = app
        .call(
            "POST",
            &format!(
                "/v1/invoices/{}/credit-notes",
                other["invoice_id"].as_str().unwrap()
            ),
            b.token(),
            Some(&json!({})),
        )
        .await;
    let r = app
        .call(
            "POST",
            &format!("/v1/invoices/{id}/refunds"),
            b.token(),
            Some(&json!({"amount": "8.13", "credit_note_id": other_cn.body["invoice_id"]})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["field"], "credit_note_id");
    let r = app
        .call(
            "POST",
            &format!("/v1/invoices/{id}/refunds"),
            b.token(),
            Some(&json!({"amount": "8.13", "credit_note_id": cn_id})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["credit_note_id"], cn_id);
    app.drain(&[REFUNDS, domain::jobs::RENDER_DOCUMENTS]).await;
    let v = invoice(&app, &b, id).await;
    assert_eq!(
        (v["status"].as_str(), v["paid"].as_str()),
        (Some("credited"), Some("0.00"))
    );
    assert_eq!(v["refunds"][0]["credit_note_id"], cn_id);
    assert_eq!(v["documents"][0]["format"], "pdf");
    let pdf = app
        .client
        .get(format!(
            "{}{}",
            app.base,
            v["documents"][0]["path"].as_str().unwrap()
        ))
        .bearer_auth(b.token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
}
