//! The black-box harness: a fresh database per test (created here), migrated by the
//! real migrator, and the real server on a random port, connected as the application role.
//! Tests talk HTTP to it; assertions about stored data use the owner pool.

pub mod bench;
pub mod billing;
pub mod browser;
pub mod clinic;
pub mod fhir;
pub mod insurer;
pub mod peppol;
pub mod python;
pub mod seed;
pub mod sim;
pub mod stripe_sim;

use std::collections::HashMap;

pub use clinic::Clinic;

use base64::Engine;
use platform::config::Settings;
use platform::db::Db;
use praxis::{Application, Components};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

/// The operator key every test server accepts.
pub const OPERATOR_KEY: &str = "test-operator-key-0123456789abcdefghijklmnop";
/// The password test staff get.
pub const PASSWORD: &str = "a-long-test-password-1";

/// A running server over its own database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// Superuser pool of this test's database (assertions and tampering only).
    pub owner: PgPool,
    /// Application-role connection options for this database.
    pub app_options: PgConnectOptions,
    /// The server's state.
    pub state: platform::AppState,
}

/// Queues whose jobs may wait without a consumer here: the notifications benchmark's no-op
/// baseline.
const AWAITING_CONSUMER: [&str; 1] = [praxis::workers::NOOP_QUEUE];

/// At the end of every test (that has not failed already): no job failed or was killed, and
/// no job waits in a queue nobody consumes (a typo in a queue name, a consumer not registered).
impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let options = self.owner.connect_options().as_ref().clone();
        let mut consumed: Vec<String> = praxis::workers::queues(&self.state)
            .into_iter()
            .map(str::to_owned)
            .collect();
        consumed.extend(AWAITING_CONSUMER.iter().map(|q| (*q).to_owned()));
        let problems = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the job check");
            runtime.block_on(async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect_with(&options)
                    .await
                    .expect("connect for the job check");
                let rows: Vec<(String, String, i64)> = sqlx::query_as(
                    "select job_type, status, count(*) from apalis.jobs
                      where status in ('Failed', 'Killed') or job_type <> all($1)
                      group by 1, 2 order by 1, 2",
                )
                .bind(&consumed)
                .fetch_all(&mut conn)
                .await
                .expect("read the job queue");
                let _ = conn.close().await;
                rows
            })
        })
        .join()
        .expect("job check");
        assert!(
            problems.is_empty(),
            "jobs left failed, killed or in a queue nobody consumes (queue, status, count): {problems:?}"
        );
    }
}

/// A staff member with an active session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Practice.
    pub practice_id: Uuid,
    /// Staff id.
    pub staff_id: Uuid,
    /// Sign-in e-mail.
    pub email: String,
    /// Bearer token.
    pub token: String,
    /// TOTP secret.
    pub totp_secret: Vec<u8>,
}

/// A response with its parsed JSON body.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// Raw body.
    pub text: String,
}

impl Reply {
    /// Asserts a problem+json answer with `status` and `code`; returns the body.
    pub fn problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "body: {}",
            self.text
        );
        assert_eq!(self.body["code"], code, "body: {}", self.text);
        &self.body
    }
}

/// The server that test databases are created on: `TEST_DATABASE_URL`, else `DATABASE_URL`,
/// else the local server as `postgres`.
fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

const TEST_DB_PREFIX: &str = "praxis_test_";
const TEMPLATE_PREFIX: &str = "praxis_template_";

/// A superuser connection to the `postgres` database of the test server.
async fn admin_connection() -> (sqlx::PgConnection, PgConnectOptions) {
    use sqlx::{ConnectOptions, Connection};
    let admin_opts: PgConnectOptions = admin_url()
        .parse()
        .expect("TEST_DATABASE_URL is a postgres URL");
    // A loopback server is reached without TLS unless the URL asks for it: a handshake costs
    // ~50 ms of server time per connection here, and each test opens several.
    let admin_opts = if admin_url().contains("sslmode=") {
        admin_opts
    } else {
        admin_opts.ssl_mode(sqlx::postgres::PgSslMode::Disable)
    };
    let admin_opts = admin_opts.database("postgres").disable_statement_logging();
    let admin = sqlx::PgConnection::connect_with(&admin_opts)
        .await
        .expect("connect to the test server");
    (admin, admin_opts)
}

/// The name of the template for the migrations compiled into this binary: a digest of every
/// migration's checksum, so a changed or added migration gets a template of its own.
fn template_name() -> String {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    for m in platform::db::migrator().iter() {
        digest.update(m.version.to_be_bytes());
        digest.update(&m.checksum[..]);
    }
    for m in apalis_postgres::PostgresStorage::migrations().iter() {
        digest.update(m.version.to_be_bytes());
        digest.update(&m.checksum[..]);
    }
    format!("{TEMPLATE_PREFIX}{}", &hex::encode(digest.finalize())[..16])
}

/// The migrated template database, built once per migration set by the first test process that
/// needs it (under an advisory lock, so parallel test binaries build it once) and cloned for
/// every test: `create database … template …` copies files in about a tenth of the time the
/// migrations take.
async fn template() -> &'static str {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let (mut admin, admin_opts) = admin_connection().await;
            sqlx::query("select pg_advisory_lock(hashtext('praxis test template'))")
                .execute(&mut admin)
                .await
                .expect("template lock");
            let exists: bool =
                sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut admin)
                    .await
                    .expect("look up the template");
            if !exists {
                // Built under another name and renamed when complete: a process that dies
                // half-way leaves no template that looks finished.
                let building = format!("{name}_building");
                for sql in [
                    format!("drop database if exists \"{building}\" with (force)"),
                    format!("create database \"{building}\""),
                ] {
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await
                        .expect("prepare the template");
                }
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(admin_opts.clone().database(&building))
                    .await
                    .expect("connect to the template");
                platform::db::migrate_pool(&pool, None)
                    .await
                    .expect("migrations");
                pool.close().await;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "alter database \"{building}\" rename to \"{name}\""
                )))
                .execute(&mut admin)
                .await
                .expect("name the template");
                // Templates of other migration sets are dropped unless a run still uses them.
                let old: Vec<String> = sqlx::query_scalar(
                    "select datname from pg_database where datname like 'praxis\\_template\\_%' and datname <> $1",
                )
                .bind(&name)
                .fetch_all(&mut admin)
                .await
                .unwrap_or_default();
                for db in old {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "drop database if exists \"{db}\""
                    )))
                    .execute(&mut admin)
                    .await;
                }
            }
            sqlx::query("select pg_advisory_unlock(hashtext('praxis test template'))")
                .execute(&mut admin)
                .await
                .expect("template unlock");
            name
        })
        .await
}

/// Creates a migrated database for one test (a clone of the template) and returns a superuser
/// pool on it. Databases left by earlier runs (over an hour old) are dropped on the way.
pub async fn fresh_database() -> PgPool {
    let template = template().await;
    let (mut admin, admin_opts) = admin_connection().await;
    let now = chrono::Utc::now().timestamp();
    let stale: Vec<String> = sqlx::query_scalar(
        "select datname from pg_database where datname like 'praxis\\_test\\_%'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap_or_default();
    for name in stale {
        let ts: i64 = name
            .trim_start_matches(TEST_DB_PREFIX)
            .split('_')
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or(now);
        if now - ts > 3600 {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "drop database if exists \"{name}\" with (force)"
            )))
            .execute(&mut admin)
            .await;
        }
    }
    let name = format!(
        "{TEST_DB_PREFIX}{now}_{}",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    // Database privileges are not copied from a template: grant them as the migrator does.
    for sql in [
        format!("create database \"{name}\" template \"{template}\""),
        format!(
            "grant connect, temporary on database \"{name}\" to {}",
            platform::config::APP_ROLE
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .expect("create test database");
    }
    PgPoolOptions::new()
        .max_connections(5)
        .connect_with(admin_opts.database(&name))
        .await
        .expect("connect to the test database")
}

/// Spawns the server with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Spawns the server with extra environment-style settings.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let owner = fresh_database().await;
    let app_options = owner
        .connect_options()
        .as_ref()
        .clone()
        .username(platform::config::APP_ROLE)
        .password("");
    let app_pool = PgPoolOptions::new()
        .max_connections(20)
        .connect_with(app_options.clone())
        .await
        .expect("app role connects");
    let key = base64::engine::general_purpose::STANDARD.encode(rand_bytes());
    let mut env: HashMap<String, String> = [
        ("BIND_ADDR", "127.0.0.1:0"),
        ("OPERATOR_API_KEY", OPERATOR_KEY),
        ("LOGIN_RATE_PER_MINUTE", "100000"),
        ("AUTO_MIGRATE", "false"),
        ("JOB_POLL_MS", "20"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.insert("MASTER_KEY".to_owned(), key);
    // `{base}` in an override (PUBLIC_URL, say) is the server's own URL: pick the port first.
    if overrides.iter().any(|(_, v)| v.contains("{base}")) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        env.insert("BIND_ADDR".to_owned(), format!("127.0.0.1:{port}"));
        for (k, v) in overrides {
            env.insert(
                (*k).to_owned(),
                v.replace("{base}", &format!("http://127.0.0.1:{port}")),
            );
        }
    } else {
        for (k, v) in overrides {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
    }
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).expect("test settings");
    let components = Components {
        worker: false,
        ..Components::ALL
    };
    let app = Application::build_with_db(settings, Db::new(app_pool), components)
        .await
        .expect("server builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        base,
        // Answers as the server gives them: a redirect is asserted, not followed.
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client"),
        owner,
        app_options,
        state,
    }
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    for chunk in b.chunks_mut(16) {
        chunk.copy_from_slice(Uuid::new_v4().as_bytes());
    }
    b
}

/// The current TOTP code of a secret.
pub fn totp_now(secret: &[u8]) -> String {
    let now = chrono::Utc::now().timestamp() as u64;
    platform::auth::totp::code_at_step(secret, now / platform::auth::totp::STEP_SECS)
}

impl TestApp {
    /// Sends a request; `token` goes into `Authorization`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = self.request(method, path, token);
        if let Some(b) = body {
            req = req.json(b);
        }
        send(req).await
    }

    /// Sends raw bytes with a content type.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        send(
            self.request(method, path, token)
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    fn request(&self, method: &str, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.client.request(
            method.parse().expect("method"),
            format!("{}{}", self.base, path),
        );
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// Creates a practice through the operator API; returns (practice id, admin e-mail, setup token).
    pub async fn create_practice(&self, name: &str, country: &str) -> (Uuid, String, String) {
        let email = format!("admin-{}@example.test", Uuid::new_v4().simple());
        let tz = if country == "NL" {
            "Europe/Amsterdam"
        } else {
            "Europe/Brussels"
        };
        let reply = self
            .client
            .post(format!("{}/v1/operator/practices", self.base))
            .bearer_auth(OPERATOR_KEY)
            .json(
                &json!({"name": name, "country": country, "time_zone": tz, "default_language": "nl",
                          "admin": {"email": email, "display_name": "Admin"}}),
            )
            .send()
            .await
            .expect("sent");
        assert_eq!(reply.status(), StatusCode::CREATED);
        let body: Value = reply.json().await.expect("json");
        (
            body["practice_id"].as_str().unwrap().parse().unwrap(),
            email,
            body["setup_token"].as_str().unwrap().to_owned(),
        )
    }

    /// Setup token → password → TOTP enrolment → confirmed: an active session.
    pub async fn activate(&self, practice_id: Uuid, email: &str, setup_token: &str) -> Session {
        let r = self
            .call(
                "POST",
                "/v1/auth/setup",
                None,
                Some(&json!({"practice_id": practice_id, "email": email, "setup_token": setup_token, "new_password": PASSWORD})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["stage"], "enrolment");
        let token = r.body["token"].as_str().unwrap().to_owned();
        let e = self
            .call("POST", "/v1/auth/totp/enrol", Some(&token), None)
            .await;
        assert_eq!(e.status, StatusCode::OK, "{}", e.text);
        let secret =
            platform::auth::totp::decode_base32(e.body["secret"].as_str().unwrap()).unwrap();
        let c = self
            .call(
                "POST",
                "/v1/auth/totp/confirm",
                Some(&token),
                Some(&json!({"code": totp_now(&secret)})),
            )
            .await;
        assert_eq!(c.status, StatusCode::OK, "{}", c.text);
        let me = self
            .call("GET", "/v1/auth/session", Some(&token), None)
            .await;
        Session {
            practice_id,
            staff_id: me.body["staff_id"].as_str().unwrap().parse().unwrap(),
            email: email.to_owned(),
            token,
            totp_secret: secret,
        }
    }

    /// A new practice with an active admin session.
    pub async fn practice_with_admin(&self, name: &str, country: &str) -> Session {
        let (p, email, token) = self.create_practice(name, country).await;
        self.activate(p, &email, &token).await
    }

    /// A colleague with `role`, signed in.
    pub async fn staff(&self, admin: &Session, role: &str) -> Session {
        let email = format!("{role}-{}@example.test", Uuid::new_v4().simple());
        let r = self
            .call(
                "POST",
                "/v1/staff",
                Some(&admin.token),
                Some(&json!({"email": email, "display_name": role, "role": role})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        self.activate(
            admin.practice_id,
            &email,
            r.body["setup_token"].as_str().unwrap(),
        )
        .await
    }

    /// A new patient waiting for any time of `type_id`; returns the waitlist entry id.
    pub async fn waiting_patient(&self, s: &Session, type_id: &str) -> String {
        let waiting = self.patient(s, patient_body("Waiting")).await;
        let entry = self
            .call(
                "POST",
                "/v1/waitlist",
                Some(&s.token),
                Some(&json!({"patient_id": waiting, "appointment_type_id": type_id})),
            )
            .await;
        assert_eq!(entry.status, StatusCode::CREATED, "{}", entry.text);
        entry.body["entry_id"].as_str().unwrap().to_owned()
    }

    /// The offers made to a waitlist entry.
    pub async fn offers(&self, s: &Session, entry: &str) -> Vec<Value> {
        let r = self
            .call(
                "GET",
                &format!("/v1/waitlist/{entry}/offers"),
                Some(&s.token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body.as_array().unwrap().clone()
    }

    /// Creates a patient; returns its id.
    pub async fn patient(&self, s: &Session, body: Value) -> Uuid {
        let r = self
            .call("POST", "/v1/patients", Some(&s.token), Some(&body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["patient_id"].as_str().unwrap().parse().unwrap()
    }

    /// Password login; returns the reply.
    pub async fn login(&self, practice_id: Uuid, email: &str, password: &str) -> Reply {
        self.call(
            "POST",
            "/v1/auth/login",
            None,
            Some(&json!({"practice_id": practice_id, "email": email, "password": password})),
        )
        .await
    }

    /// A row count as the owner.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.owner)
            .await
            .expect("count")
    }

    /// An application-role pool of this database.
    pub async fn app_pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(2)
            .connect_with(self.app_options.clone())
            .await
            .expect("app role")
    }
}

async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// A valid INSZ for the first nine digits given.
pub fn insz(base9: &str) -> String {
    let n: u64 = base9.parse().unwrap();
    format!("{base9}{:02}", 97 - n % 97)
}

/// A minimal valid patient body.
pub fn patient_body(family: &str) -> Value {
    json!({"family_name": family, "given_names": "Test", "birth_date": "1980-05-17", "sex": "female"})
}

impl TestApp {
    /// Runs the real workers until no job of `queues` is left unfinished (due jobs only).
    pub async fn drain(&self, queues: &[&str]) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let workers = tokio::spawn(praxis::workers::run(self.state.clone(), async move {
            let _ = stopped.await;
        }));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left: i64 = sqlx::query_scalar(
                "select count(*) from apalis.jobs where job_type = any($1) and status not in ('Done', 'Killed') and run_at <= now()",
            )
            .bind(queues)
            .fetch_one(&self.owner)
            .await
            .expect("count jobs");
            if left == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{left} jobs of {queues:?} did not finish"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let _ = stop.send(());
        workers.await.expect("workers task").expect("workers ran");
    }
}

/// Everything the server logs in this test process, as JSON lines (the production format),
/// from the first call on.
pub fn captured_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    static CAPTURE: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
        std::sync::OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            platform::telemetry::init_with_writer(
                platform::config::LogFormat::Json,
                Capture(buf.clone()),
            );
            buf
        })
        .clone()
}

#[derive(Clone)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

struct CaptureWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CaptureWriter(self.0.clone())
    }
}
