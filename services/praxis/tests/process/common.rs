//! The real `praxis` binary on its own database, for tests that need a process of their own
//! (its log output, or its process-wide metrics).

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// The server test databases are created on.
pub(crate) fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A running `praxis serve --demo`.
pub(crate) struct Server {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    child: Child,
    stdout: Receiver<String>,
    seen: String,
    database: String,
}

impl Server {
    /// Starts the binary with `env` on a fresh database and waits for its listening line.
    pub(crate) fn start(tag: &str, env: &[(&str, &str)]) -> Server {
        let (prefix, _) = admin_url()
            .rsplit_once('/')
            .map(|(p, d)| (p.to_owned(), d.to_owned()))
            .expect("a database URL");
        let database = format!(
            "praxis_test_{}_{tag}{}",
            chrono::Utc::now().timestamp(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let mut command = Command::new(env!("CARGO_BIN_EXE_praxis"));
        command
            .args(["serve", "--demo"])
            .env("DATABASE_URL", format!("{prefix}/{database}"))
            .env("BIND_ADDR", "127.0.0.1:0")
            .env_remove("APP_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("server starts");
        // Read stdout in a thread (a blocking pipe), handing over all that was read so far.
        let mut out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut all = String::new();
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                all.push_str(&String::from_utf8_lossy(&buf[..n]));
                let _ = tx.send(all.clone());
            }
        });
        let mut seen = String::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let base = loop {
            if let Ok(s) = rx.recv_timeout(Duration::from_millis(200)) {
                seen = s;
            }
            if let Some(line) = seen.lines().find(|l| l.starts_with("praxis listening on ")) {
                break line["praxis listening on ".len()..]
                    .split_whitespace()
                    .next()
                    .expect("an address")
                    .to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "server did not start: {seen}"
            );
        };
        Server {
            base,
            child,
            stdout: rx,
            seen,
            database,
        }
    }

    /// Stops the server, drops its database and returns everything it printed.
    pub(crate) async fn stop(mut self) -> String {
        self.child.kill().expect("kill");
        let _ = self.child.wait();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        std::thread::sleep(Duration::from_millis(200));
        while let Ok(s) = self.stdout.try_recv() {
            self.seen = s;
        }
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url())
            .await
            .expect("connect as admin");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop database \"{}\" with (force)",
            self.database
        )))
        .execute(&mut admin)
        .await
        .expect("drop the test database");
        format!("{}\n{err}", self.seen)
    }
}
