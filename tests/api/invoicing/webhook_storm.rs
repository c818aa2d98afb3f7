//! The webhook under Stripe's real delivery behaviour: 1,000 events delivered 1 to 5 times
//! each, shuffled, many at once, with 100 forged or replayed ones among them, end in exactly
//! the ledger that one in-order delivery of the same events gives.
//!
//! Two practices run the same script (400 invoices, each paid or expired, some refunded in
//! Stripe's Dashboard once or twice). Practice A gets every event once, in order, applied one
//! by one; practice B gets the storm. Their ledgers, invoice by invoice, must be equal.

use futures::StreamExt;
use praxis_tests::TestApp;
use praxis_tests::billing::{Billing, press_pay, session_of};
use praxis_tests::stripe_sim::StripeSim;
use serde_json::{Value, json};

const INVOICES: usize = 400;
const A: &str = "acct_1PraxisStormA";
const B: &str = "acct_1PraxisStormB";

/// A small deterministic generator (the test is the same every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Issues the invoices and opens one session each; their ids and session ids, by index.
async fn open_sessions(app: &TestApp, b: &Billing) -> Vec<(String, String)> {
    futures::stream::iter(0..INVOICES)
        .map(|_| async {
            let inv = b.issued(app).await;
            let id = inv["invoice_id"].as_str().unwrap().to_owned();
            let url = b.payment_link(app, &id).await;
            let session = session_of(&press_pay(app, &url).await);
            (id, session)
        })
        .buffered(8)
        .collect()
        .await
}

/// The script: what happens to invoice `i`'s session, as Stripe's events.
fn script(sim: &StripeSim, i: usize, session: &str) -> Vec<Value> {
    if i.is_multiple_of(4) {
        return vec![sim.expire(session)];
    }
    let paid = sim.complete(session);
    let pi = paid["data"]["object"]["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut events = vec![paid];
    if i % 4 >= 2 {
        events.extend(sim.dashboard_refund(&pi, 200));
    }
    if i % 4 == 3 {
        events.extend(sim.dashboard_refund(&pi, 150));
    }
    events
}

/// An invoice's ledger: status, paid, its payments and refunds (amounts and states).
async fn ledger(app: &TestApp, ids: &[(String, String)]) -> Vec<Value> {
    let mut out = Vec::with_capacity(ids.len());
    for (id, _) in ids {
        let row: (String, String, Vec<String>, Vec<String>, Vec<String>) = sqlx::query_as(
            "select i.status, i.paid::text,
                    array(select amount::text from invoicing.payment p where p.invoice_id = i.invoice_id order by amount),
                    array(select amount_cents || ':' || state || ':' || reason from invoicing.refund r where r.invoice_id = i.invoice_id order by 1),
                    array(select state from invoicing.checkout c where c.invoice_id = i.invoice_id order by 1)
               from invoicing.invoice i where i.invoice_id = $1::uuid",
        )
        .bind(id)
        .fetch_one(&app.owner)
        .await
        .unwrap();
        out.push(json!(row));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_events_shuffled_duplicated_and_concurrent_end_in_the_in_order_ledger() {
    let sim = StripeSim::start(&[A, B]).await;
    let mut settings: Vec<(&str, String)> = sim.settings();
    settings.push(("PUBLIC_URL", "{base}".to_owned()));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = praxis_tests::spawn_app_with(&pairs).await;
    let (a, b) = (Billing::setup(&app).await, Billing::setup(&app).await);
    a.enable_stripe(&app, A).await;
    b.enable_stripe(&app, B).await;
    let (ids_a, ids_b) = (open_sessions(&app, &a).await, open_sessions(&app, &b).await);
    let mut events_a = Vec::new();
    let mut events_b = Vec::new();
    for i in 0..INVOICES {
        events_a.extend(script(&sim, i, &ids_a[i].1));
        events_b.extend(script(&sim, i, &ids_b[i].1));
    }
    assert_eq!(events_b.len(), 1_000);

    // A: each event once, in order, applied one by one.
    for e in &events_a {
        assert_eq!(StripeSim::deliver(&app.client, &app.base, e).await, 200);
    }
    let practice_a = domain::PracticeId::from_uuid(a.clinic.admin.practice_id);
    for e in &events_a {
        let job = domain::jobs::StripeEvent {
            practice_id: practice_a,
            event_id: e["id"].as_str().unwrap().to_owned(),
        };
        invoicing::stripe::apply::apply_event(&app.state, job)
            .await
            .unwrap();
    }

    // B: every event 1 to 5 times, shuffled, 16 at a time, with 100 bad ones among them.
    let mut rng = Lcg(0x5eed_cafe);
    let mut deliveries: Vec<(String, String)> = Vec::new();
    for e in &events_b {
        let body = e.to_string();
        for _ in 0..=rng.below(5) {
            deliveries.push((body.clone(), String::new()));
        }
    }
    let now = chrono::Utc::now().timestamp();
    for k in 0..100 {
        let mut forged = events_b[k * 7].clone();
        forged["id"] = json!(format!("evt_forged{k:03}"));
        let body = forged.to_string();
        let sig = if k % 2 == 0 {
            invoicing::stripe::signature::sign(body.as_bytes(), "whsec_someone_else_entirely", now)
        } else {
            StripeSim::signature(&body, now - 600)
        };
        deliveries.push((body, sig));
    }
    for i in (1..deliveries.len()).rev() {
        deliveries.swap(i, rng.below(i + 1));
    }
    let total = deliveries.len();
    let url = format!("{}/v1/hooks/stripe", app.base);
    let storm = futures::stream::iter(deliveries)
        .map(|(body, sig)| {
            let client = app.client.clone();
            let url = url.clone();
            async move {
                let sig = if sig.is_empty() {
                    StripeSim::signature(&body, chrono::Utc::now().timestamp())
                } else {
                    sig
                };
                let forged = body.contains("evt_forged");
                let status = client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("stripe-signature", sig)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                (forged, status)
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>();
    // The workers apply events while the storm is still arriving.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let workers = tokio::spawn(praxis::workers::run(app.state.clone(), async move {
        let _ = stopped.await;
    }));
    let started = std::time::Instant::now();
    let answers = storm.await;
    let _ = stop.send(());
    workers.await.unwrap().unwrap();
    app.drain(&[domain::jobs::STRIPE_EVENT]).await;
    eprintln!(
        "storm: {total} deliveries and their jobs in {:?}",
        started.elapsed()
    );
    assert_eq!(answers.len(), total);
    assert!(
        answers
            .iter()
            .all(|(forged, s)| if *forged { *s == 400 } else { *s == 200 }),
        "forged ones 400, the rest 200"
    );

    assert_eq!(
        app.count("select count(*) from invoicing.stripe_event where event_id like 'evt_forged%'")
            .await,
        0,
        "the bad ones are stored nowhere"
    );
    assert_eq!(
        app.count("select count(*) from invoicing.stripe_event where processed_at is null")
            .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from (select checkout_id from invoicing.payment group by checkout_id having count(*) > 1) d").await,
        0,
        "no duplicate payments"
    );
    let (la, lb) = (ledger(&app, &ids_a).await, ledger(&app, &ids_b).await);
    for i in 0..INVOICES {
        assert_eq!(
            la[i], lb[i],
            "invoice {i}: in order {} vs storm {}",
            la[i], lb[i]
        );
    }
    // And the in-order ledger is what the script says.
    let expect = |i: usize| match i % 4 {
        0 => ("issued", "0.00"),
        1 => ("paid", "8.13"),
        2 => ("partially_paid", "6.13"),
        _ => ("partially_paid", "4.63"),
    };
    for (i, l) in la.iter().enumerate() {
        assert_eq!(
            (l[0].as_str().unwrap(), l[1].as_str().unwrap()),
            expect(i),
            "invoice {i}"
        );
    }
}
