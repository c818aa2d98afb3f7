//! The patient's pages behind a payment link: server-rendered HTML, no script, one stylesheet
//! of this server, in the invoice's language (`lang` set), with labels and contrast that pass
//! WCAG AA. They show the practice's name, the invoice number, the amount and the due date —
//! nothing clinical, no patient name.
//!
//! `GET /p/{token}` is safe to fetch (link previews of messaging apps do): it shows the page.
//! Only the button (`POST /p/{token}/pay`) opens a Checkout Session. Stripe sends the patient
//! back to `/p/done/{checkout}` or `/p/back/{checkout}`: our attempt id, not the token, so
//! Stripe never holds a key to the page.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::CheckoutId;
use domain::practice::Language;
use platform::json::ApiPath;
use platform::{ApiResult, AppState};
use rust_decimal::Decimal;

use super::checkout::{self, LinkState, LinkView, Opened, Refusal, Returned};

const CSS: &str = include_str!("page.css");

struct Words {
    title: &'static str,
    invoice: &'static str,
    amount: &'static str,
    due: &'static str,
    pay: &'static str,
    transfer: &'static str,
    iban: &'static str,
    reference: &'static str,
    paid: &'static str,
    closed: &'static str,
    expired: &'static str,
    offline: &'static str,
    processing: &'static str,
    try_again: &'static str,
    unavailable: &'static str,
    confirmed: &'static str,
    confirming: &'static str,
    cancelled: &'static str,
    not_found: &'static str,
    secure: &'static str,
}

fn words(l: Language) -> &'static Words {
    match l {
        Language::Nl => &Words {
            title: "Betaling",
            invoice: "Factuur",
            amount: "Te betalen",
            due: "Vervaldatum",
            pay: "Nu betalen",
            transfer: "Of betaal met een overschrijving:",
            iban: "Rekening",
            reference: "Mededeling",
            paid: "Deze factuur is betaald. Dank u.",
            closed: "Voor deze factuur hoeft u niets meer te betalen.",
            expired: "Deze betaallink is verlopen. Neem contact op met de praktijk.",
            offline: "Online betalen is voor deze praktijk niet mogelijk.",
            processing: "Uw betaling wordt nog bevestigd. U hoeft niet opnieuw te betalen.",
            try_again: "De betaalpagina antwoordt niet. Probeer het over een ogenblik opnieuw.",
            unavailable: "Online betalen lukt nu niet.",
            confirmed: "Uw betaling is ontvangen. Dank u.",
            confirming: "Uw betaling is ontvangen en wordt bevestigd. U hoeft niets meer te doen.",
            cancelled: "De betaling is geannuleerd. Open de link in uw bericht opnieuw om te betalen.",
            not_found: "Deze betaallink bestaat niet.",
            secure: "U betaalt op de beveiligde pagina van Stripe (kaart, Bancontact, iDEAL).",
        },
        Language::Fr => &Words {
            title: "Paiement",
            invoice: "Facture",
            amount: "À payer",
            due: "Échéance",
            pay: "Payer maintenant",
            transfer: "Ou payez par virement :",
            iban: "Compte",
            reference: "Communication",
            paid: "Cette facture est payée. Merci.",
            closed: "Vous n'avez plus rien à payer pour cette facture.",
            expired: "Ce lien de paiement a expiré. Veuillez contacter le cabinet.",
            offline: "Le paiement en ligne n'est pas possible pour ce cabinet.",
            processing: "Votre paiement est en cours de confirmation. Ne payez pas une seconde fois.",
            try_again: "La page de paiement ne répond pas. Réessayez dans un instant.",
            unavailable: "Le paiement en ligne est momentanément impossible.",
            confirmed: "Votre paiement a été reçu. Merci.",
            confirming: "Votre paiement a été reçu et est en cours de confirmation. Vous n'avez plus rien à faire.",
            cancelled: "Le paiement a été annulé. Ouvrez à nouveau le lien de votre message pour payer.",
            not_found: "Ce lien de paiement n'existe pas.",
            secure: "Vous payez sur la page sécurisée de Stripe (carte, Bancontact, iDEAL).",
        },
        Language::En => &Words {
            title: "Payment",
            invoice: "Invoice",
            amount: "Amount due",
            due: "Due date",
            pay: "Pay now",
            transfer: "Or pay by bank transfer:",
            iban: "Account",
            reference: "Reference",
            paid: "This invoice is paid. Thank you.",
            closed: "There is nothing left to pay on this invoice.",
            expired: "This payment link has expired. Please contact the practice.",
            offline: "This practice does not take online payments.",
            processing: "Your payment is being confirmed. Please do not pay again.",
            try_again: "The payment page did not answer. Please try again in a moment.",
            unavailable: "Online payment is not possible right now.",
            confirmed: "Your payment was received. Thank you.",
            confirming: "Your payment was received and is being confirmed. There is nothing more to do.",
            cancelled: "The payment was cancelled. Open the link in your message again to pay.",
            not_found: "This payment link does not exist.",
            secure: "You pay on Stripe's secure page (card, Bancontact, iDEAL).",
        },
        Language::De => &Words {
            title: "Zahlung",
            invoice: "Rechnung",
            amount: "Zu zahlen",
            due: "Fällig am",
            pay: "Jetzt bezahlen",
            transfer: "Oder per Überweisung zahlen:",
            iban: "Konto",
            reference: "Verwendungszweck",
            paid: "Diese Rechnung ist bezahlt. Vielen Dank.",
            closed: "Für diese Rechnung ist nichts mehr zu zahlen.",
            expired: "Dieser Zahlungslink ist abgelaufen. Bitte wenden Sie sich an die Praxis.",
            offline: "Diese Praxis nimmt keine Online-Zahlungen an.",
            processing: "Ihre Zahlung wird noch bestätigt. Bitte zahlen Sie nicht erneut.",
            try_again: "Die Zahlungsseite antwortet nicht. Bitte versuchen Sie es gleich noch einmal.",
            unavailable: "Online-Zahlung ist gerade nicht möglich.",
            confirmed: "Ihre Zahlung ist eingegangen. Vielen Dank.",
            confirming: "Ihre Zahlung ist eingegangen und wird bestätigt. Sie müssen nichts mehr tun.",
            cancelled: "Die Zahlung wurde abgebrochen. Öffnen Sie den Link in Ihrer Nachricht erneut, um zu zahlen.",
            not_found: "Diesen Zahlungslink gibt es nicht.",
            secure: "Sie zahlen auf der sicheren Seite von Stripe (Karte, Bancontact, iDEAL).",
        },
    }
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An amount as the patient's language writes it: `€ 45,50` or `€45.50`.
fn money(l: Language, amount: Decimal) -> String {
    let plain = format!("{:.2}", amount.round_dp(2));
    match l {
        Language::En => format!("€{plain}"),
        _ => format!("€ {}", plain.replace('.', ",")),
    }
}

fn date(l: Language, d: chrono::NaiveDate) -> String {
    match l {
        Language::En => d.format("%-d %B %Y").to_string(),
        _ => d.format("%d-%m-%Y").to_string(),
    }
}

fn page(l: Language, status: StatusCode, heading: &str, body: &str) -> Response {
    let w = words(l);
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{title}</title>\n\
         <link rel=\"stylesheet\" href=\"/p/page.css\">\n</head>\n<body>\n<main>\n\
         <h1>{heading}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        lang = l.as_str(),
        title = esc(w.title),
        heading = esc(heading),
    );
    let mut r = (status, html).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn message(text: &str, role_alert: bool) -> String {
    if role_alert {
        format!("<p class=\"note\" role=\"status\">{}</p>", esc(text))
    } else {
        format!("<p>{}</p>", esc(text))
    }
}

fn summary(v: &LinkView) -> String {
    let w = words(v.language);
    let mut s = format!(
        "<dl class=\"invoice\">\n<dt>{}</dt><dd>{}</dd>\n<dt>{}</dt><dd class=\"amount\">{}</dd>\n",
        esc(w.invoice),
        esc(&v.number),
        esc(w.amount),
        esc(&money(v.language, v.amount)),
    );
    if let Some(d) = v.due_date {
        s.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>\n",
            esc(w.due),
            esc(&date(v.language, d))
        ));
    }
    s.push_str("</dl>");
    s
}

fn transfer(v: &LinkView) -> String {
    let w = words(v.language);
    match (&v.iban, &v.reference) {
        (Some(iban), Some(reference)) => {
            // Printed in groups of four, as on a bank card.
            let iban = iban
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            format!(
                "<section aria-labelledby=\"transfer\">\n<h2 id=\"transfer\">{}</h2>\n<dl>\n<dt>{}</dt><dd class=\"code\">{}</dd>\n<dt>{}</dt><dd class=\"code\">{}</dd>\n</dl>\n</section>",
                esc(w.transfer),
                esc(w.iban),
                esc(&iban),
                esc(w.reference),
                esc(reference),
            )
        }
        _ => String::new(),
    }
}

/// The page of a link in the state it is in.
pub(crate) fn link_page(token: &str, v: &LinkView, refusal: Option<Refusal>) -> Response {
    let w = words(v.language);
    let heading = format!("{} — {}", v.practice_name, w.title);
    let body = match (v.state, refusal) {
        (LinkState::Paid, _) => format!("{}\n{}", summary(v), message(w.paid, true)),
        (LinkState::Closed, _) => message(w.closed, true),
        (LinkState::Expired, _) => {
            return page(
                v.language,
                StatusCode::GONE,
                &heading,
                &message(w.expired, true),
            );
        }
        (LinkState::Payable { .. }, Some(Refusal::Processing)) => {
            format!("{}\n{}", summary(v), message(w.processing, true))
        }
        (LinkState::Payable { online: true }, r) => {
            let note = match r {
                Some(Refusal::TryAgain) => message(w.try_again, true),
                Some(Refusal::Unavailable) => message(w.unavailable, true),
                _ => String::new(),
            };
            format!(
                "{}\n{note}\n<form method=\"post\" action=\"/p/{token}/pay\">\n\
                 <button type=\"submit\">{}</button>\n</form>\n<p class=\"small\">{}</p>\n{}",
                summary(v),
                esc(w.pay),
                esc(w.secure),
                transfer(v),
                token = esc(token),
            )
        }
        (LinkState::Payable { online: false }, _) => {
            format!(
                "{}\n{}\n{}",
                summary(v),
                message(w.offline, false),
                transfer(v)
            )
        }
    };
    let status = match refusal {
        Some(Refusal::TryAgain) | Some(Refusal::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    page(v.language, status, &heading, &body)
}

/// A token we never gave out (in Dutch, French and English: we do not know the language).
fn not_found() -> Response {
    let text = [Language::Nl, Language::Fr, Language::En]
        .iter()
        .map(|l| {
            format!(
                "<p lang=\"{}\">{}</p>",
                l.as_str(),
                esc(words(*l).not_found)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    page(Language::Nl, StatusCode::NOT_FOUND, "—", &text)
}

/// The page behind a payment link: the practice, the invoice number, the amount due and the
/// due date, a button to pay online and the details for a bank transfer. Safe to fetch: it
/// opens nothing at Stripe.
#[utoipa::path(get, path = "/p/{token}", tag = "payment pages",
    params(("token" = String, Path, description = "The link's token")),
    responses((status = 200, description = "The page", content_type = "text/html"),
              (status = 404, description = "No such link", content_type = "text/html"),
              (status = 410, description = "The link has expired", content_type = "text/html")))]
pub async fn payment_page(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> ApiResult<Response> {
    Ok(match checkout::view(&state, &token).await? {
        Some(v) => link_page(&token, &v, None),
        None => not_found(),
    })
}

/// The "pay" button: opens a Checkout Session for what is owed and sends the patient to
/// Stripe's page (303), or shows why not.
#[utoipa::path(post, path = "/p/{token}/pay", tag = "payment pages",
    params(("token" = String, Path, description = "The link's token")),
    responses((status = 303, description = "To Stripe's payment page", headers(("Location" = String, description = "Stripe's page"))),
              (status = 200, description = "Nothing to pay online (paid, closed, no online payments)", content_type = "text/html"),
              (status = 404, description = "No such link", content_type = "text/html"),
              (status = 410, description = "The link has expired", content_type = "text/html"),
              (status = 503, description = "Stripe did not open a session; try again or pay by transfer", content_type = "text/html")))]
pub async fn pay(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> ApiResult<Response> {
    Ok(match checkout::pay(&state, &token).await? {
        Some(Opened::Redirect(url)) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&url) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Some(Opened::Page(v, refusal)) => link_page(&token, &v, Some(refusal)),
        None => not_found(),
    })
}

fn returned_page(found: Option<(Language, Returned)>) -> Response {
    let Some((l, r)) = found else {
        return not_found();
    };
    let w = words(l);
    let text = match r {
        Returned::Confirmed => w.confirmed,
        Returned::Confirming => w.confirming,
        Returned::Cancelled => w.cancelled,
    };
    page(l, StatusCode::OK, w.title, &message(text, true))
}

/// Where Stripe sends the patient after paying: received, confirmed or being confirmed (the
/// invoice is marked paid by the webhook, never by this page).
#[utoipa::path(get, path = "/p/done/{checkout_id}", tag = "payment pages",
    params(("checkout_id" = CheckoutId, Path, description = "Our attempt id")),
    responses((status = 200, description = "The page", content_type = "text/html"),
              (status = 404, description = "No such attempt", content_type = "text/html")))]
pub async fn done(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<CheckoutId>,
) -> ApiResult<Response> {
    Ok(returned_page(checkout::returned(&state, id, false).await?))
}

/// Where Stripe's back button goes: cancelled, open the link again to pay.
#[utoipa::path(get, path = "/p/back/{checkout_id}", tag = "payment pages",
    params(("checkout_id" = CheckoutId, Path, description = "Our attempt id")),
    responses((status = 200, description = "The page", content_type = "text/html"),
              (status = 404, description = "No such attempt", content_type = "text/html")))]
pub async fn back(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<CheckoutId>,
) -> ApiResult<Response> {
    Ok(returned_page(checkout::returned(&state, id, true).await?))
}

/// The pages' stylesheet.
#[utoipa::path(get, path = "/p/page.css", tag = "payment pages",
    responses((status = 200, description = "The stylesheet", content_type = "text/css")))]
pub async fn stylesheet() -> Response {
    let mut r = CSS.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    /// WCAG 2 contrast ratio of two `#rrggbb` colours.
    fn contrast(a: &str, b: &str) -> f64 {
        let lum = |hex: &str| {
            let c = |i: usize| {
                let v = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
                if v <= 0.03928 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * c(1) + 0.7152 * c(3) + 0.0722 * c(5)
        };
        let (x, y) = (lum(a), lum(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn every_text_colour_of_the_stylesheet_passes_wcag_aa_on_its_background() {
        // (text, background) as page.css pairs them.
        let pairs = [
            ("#1a1a1a", "#ffffff"),
            ("#4a4f57", "#ffffff"),
            ("#ffffff", "#0b57d0"),
            ("#ffffff", "#0842a0"),
            ("#1a1a1a", "#eef3fd"),
        ];
        for (fg, bg) in pairs {
            assert!(
                CSS.contains(fg) && CSS.contains(bg),
                "{fg} on {bg} is not in the stylesheet"
            );
            assert!(
                contrast(fg, bg) >= 4.5,
                "{fg} on {bg}: {:.2}",
                contrast(fg, bg)
            );
        }
    }

    #[test]
    fn amounts_in_the_patients_language() {
        assert_eq!(money(Language::Nl, Decimal::new(4550, 2)), "€ 45,50");
        assert_eq!(money(Language::En, Decimal::new(4550, 2)), "€45.50");
    }
}
