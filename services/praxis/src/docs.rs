//! `/openapi.json` and a self-contained API docs page rendered on the server from the same
//! description: no script, no CDN, nothing fetched at build or run time.

use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use platform::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs_page))
}

fn spec_json() -> &'static str {
    static SPEC: OnceLock<String> = OnceLock::new();
    SPEC.get_or_init(|| {
        serde_json::to_string_pretty(&crate::openapi()).expect("the OpenAPI description serialises")
    })
}

async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], spec_json())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn docs_page() -> Html<&'static str> {
    static PAGE: OnceLock<String> = OnceLock::new();
    Html(PAGE.get_or_init(render))
}

fn render() -> String {
    let spec: serde_json::Value = serde_json::from_str(spec_json()).expect("valid JSON");
    let mut out = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Praxis API</title><style>\
         body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
         code{background:#f3f3f3;padding:0 .2rem}.op{border-top:1px solid #ddd;padding:.6rem 0}\
         .m{display:inline-block;min-width:4.5rem;font-weight:bold}.t{color:#666}</style></head><body>",
    );
    let info = &spec["info"];
    let _ = write!(
        out,
        "<h1>{} <small>{}</small></h1><p>{}</p><p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI {}).</p>",
        esc(info["title"].as_str().unwrap_or("API")),
        esc(info["version"].as_str().unwrap_or("")),
        esc(info["description"].as_str().unwrap_or("")),
        esc(spec["openapi"].as_str().unwrap_or("")),
    );
    if let Some(paths) = spec["paths"].as_object() {
        for (path, ops) in paths {
            let Some(ops) = ops.as_object() else { continue };
            for (method, op) in ops {
                let tags: Vec<&str> = op["tags"]
                    .as_array()
                    .map(|t| t.iter().filter_map(|v| v.as_str()).collect())
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    "<div class=\"op\"><span class=\"m\">{}</span><code>{}</code> <span class=\"t\">{}</span><br>{}<br><small>{}</small></div>",
                    esc(&method.to_uppercase()),
                    esc(path),
                    esc(&tags.join(", ")),
                    esc(op["summary"].as_str().unwrap_or("")),
                    esc(op["description"].as_str().unwrap_or("")),
                );
            }
        }
    }
    out.push_str("</body></html>");
    out
}
