//! The patient's payment pages in a real browser (Debian's headless Chromium), in each of the
//! four languages: what each page shows, that its policy refuses nothing it needs, and a
//! screenshot of each (`target/artefacts/pages/<page>-<lang>.png`, linked from the README).

use praxis_tests::billing::{Billing, press_pay, session_of};
use praxis_tests::browser;
use praxis_tests::stripe_sim::StripeSim;
use praxis_tests::{TestApp, patient_body};
use serde_json::json;

const ACCOUNT: &str = "acct_1PraxisPages";

struct Expect {
    lang: &'static str,
    pay: &'static str,
    paid: &'static str,
    expired: &'static str,
    confirming: &'static str,
    cancelled: &'static str,
    amount: &'static str,
}

const LANGUAGES: [Expect; 4] = [
    Expect {
        lang: "nl",
        pay: "Nu betalen",
        paid: "Deze factuur is betaald",
        expired: "Deze betaallink is verlopen",
        confirming: "wordt bevestigd",
        cancelled: "De betaling is geannuleerd",
        amount: "€ 8,13",
    },
    Expect {
        lang: "fr",
        pay: "Payer maintenant",
        paid: "Cette facture est payée",
        expired: "Ce lien de paiement a expiré",
        confirming: "en cours de confirmation",
        cancelled: "Le paiement a été annulé",
        amount: "€ 8,13",
    },
    Expect {
        lang: "en",
        pay: "Pay now",
        paid: "This invoice is paid",
        expired: "This payment link has expired",
        confirming: "is being confirmed",
        cancelled: "The payment was cancelled",
        amount: "€8.13",
    },
    Expect {
        lang: "de",
        pay: "Jetzt bezahlen",
        paid: "Diese Rechnung ist bezahlt",
        expired: "Dieser Zahlungslink ist abgelaufen",
        confirming: "wird bestätigt",
        cancelled: "Die Zahlung wurde abgebrochen",
        amount: "€ 8,13",
    },
];

async fn shows(browser: &std::path::Path, url: &str, lang: &str, name: &str, expected: &[&str]) {
    let page = browser::render(browser, url, 2_000).await;
    assert!(
        page.policy_refusals().is_empty(),
        "{name}-{lang}: {:?}",
        page.policy_refusals()
    );
    assert!(
        page.dom.contains(&format!("<html lang=\"{lang}\">")),
        "{name}-{lang}: {}",
        page.dom
    );
    let text = page.text();
    for e in expected {
        assert!(
            text.contains(e),
            "{name}-{lang} does not show {e:?}: {text}"
        );
    }
    browser::screenshot(
        browser,
        url,
        &browser::artefacts()
            .join("pages")
            .join(format!("{name}-{lang}.png")),
        (390, 844),
    )
    .await;
}

async fn invoice_in(app: &TestApp, b: &Billing, lang: &str) -> (String, String, String) {
    let mut body = patient_body("Paginatest");
    body["preferred_language"] = json!(lang);
    let p = app
        .call("POST", "/v1/patients", b.token(), Some(&body))
        .await;
    assert_eq!(p.status, 201, "{}", p.text);
    let inv = b
        .issued_for(app, p.body["patient_id"].as_str().unwrap())
        .await;
    let id = inv["invoice_id"].as_str().unwrap().to_owned();
    let url = b.payment_link(app, &id).await;
    (id, inv["number"].as_str().unwrap().to_owned(), url)
}

#[tokio::test]
async fn every_payment_page_in_every_language_in_a_browser() {
    let Some(browser) = browser::chromium() else {
        return;
    };
    let sim = StripeSim::start(&[ACCOUNT]).await;
    let mut settings: Vec<(&str, String)> = sim.settings();
    settings.push(("PUBLIC_URL", "{base}".to_owned()));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = praxis_tests::spawn_app_with(&pairs).await;
    let b = Billing::setup(&app).await;
    b.enable_stripe(&app, ACCOUNT).await;
    for e in &LANGUAGES {
        // The page behind the link: practice, number, amount, due date, the button, transfer.
        let (_, number, url) = invoice_in(&app, &b, e.lang).await;
        shows(
            &browser,
            &url,
            e.lang,
            "link",
            &[
                "Kinepraktijk De Linde BV",
                &number,
                e.amount,
                e.pay,
                "BE68 5390 0754 7034",
            ],
        )
        .await;
        // Stripe sends the patient back: cancelled, or paid and being confirmed; then paid.
        let session = session_of(&press_pay(&app, &url).await);
        let checkout = sim
            .received()
            .last()
            .unwrap()
            .form
            .iter()
            .find(|(k, _)| k == "client_reference_id")
            .unwrap()
            .1
            .clone();
        shows(
            &browser,
            &format!("{}/p/back/{checkout}", app.base),
            e.lang,
            "cancelled",
            &[e.cancelled],
        )
        .await;
        shows(
            &browser,
            &format!("{}/p/done/{checkout}", app.base),
            e.lang,
            "confirming",
            &[e.confirming],
        )
        .await;
        StripeSim::deliver(&app.client, &app.base, &sim.complete(&session)).await;
        app.drain(&[domain::jobs::STRIPE_EVENT]).await;
        shows(&browser, &url, e.lang, "paid", &[e.paid, &number]).await;
        // A link past its date.
        let (id, _, url) = invoice_in(&app, &b, e.lang).await;
        sqlx::query("update invoicing.payment_link set expires_at = now() - interval '1 day' where invoice_id = $1::uuid")
            .bind(&id)
            .execute(&app.owner)
            .await
            .unwrap();
        shows(&browser, &url, e.lang, "expired", &[e.expired]).await;
    }
    // A token we never gave out.
    let page = browser::render(
        &browser,
        &format!("{}/p/AAAAAAAAAAAAAAAAAAAAAA", app.base),
        2_000,
    )
    .await;
    assert!(
        page.text().contains("Deze betaallink bestaat niet")
            && page.text().contains("This payment link does not exist")
    );
}
