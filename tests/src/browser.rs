//! Pages as a person sees them: Debian's headless `chromium` loads a page of the test server,
//! runs its scripts under the page's real Content-Security-Policy, and gives back the rendered
//! DOM, the console and, when asked, a screenshot.
//!
//! `.ci/run` installs `chromium`; on a developer machine without it the browser tests say so and
//! pass (under `CI=true` a missing browser fails them).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// What the browser made of a page.
pub struct Rendered {
    /// The DOM after the page's scripts ran.
    pub dom: String,
    /// Chromium's log: console messages and Content-Security-Policy refusals.
    pub console: String,
}

impl Rendered {
    /// The page's text, without tags.
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(self.dom.len() / 2);
        let mut in_tag = false;
        for c in self.dom.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    out.push(' ');
                }
                _ if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    }

    /// The refusals the page's policy caused (an empty list when the policy allows what the
    /// page needs).
    pub fn policy_refusals(&self) -> Vec<&str> {
        self.console
            .lines()
            .filter(|l| l.contains("Content Security Policy") || l.contains("Refused to"))
            .collect()
    }
}

/// The headless browser, or `None` (outside CI) when it is not installed.
pub fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .filter_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        })
        .next();
    if found.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "CI needs the headless browser: apt-get install chromium"
        );
        eprintln!("chromium is not installed: the browser check is skipped");
    }
    found
}

fn command(browser: &Path, budget_ms: u32) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
        &format!("--virtual-time-budget={budget_ms}"),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    cmd
}

/// Loads `url`, lets its scripts run for `budget_ms` of virtual time, and returns the DOM.
pub async fn render(browser: &Path, url: &str, budget_ms: u32) -> Rendered {
    let profile = tempdir();
    let mut cmd = command(browser, budget_ms);
    cmd.arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url);
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("chromium answers within 90 s")
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    Rendered {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes a PNG of `url` at the given window size to `file` (a test artefact).
pub async fn screenshot(browser: &Path, url: &str, file: &Path, size: (u32, u32)) {
    let profile = tempdir();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).expect("artefact folder");
    }
    let mut cmd = command(browser, 5_000);
    cmd.arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg(format!("--screenshot={}", file.display()))
        .arg(url);
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("chromium answers within 90 s")
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        file.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where tests leave what a person would look at (screenshots): `target/artefacts`.
pub fn artefacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artefacts")
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("praxis-chromium-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("browser profile folder");
    dir
}
