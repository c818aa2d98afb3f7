//! Python test tools from PyPI, pinned, each in a virtual environment under target/ made on
//! first use (CI installs nothing by hand: the first test that needs a tool makes its venv).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python of `target/<venv>` with `packages` installed (checked by importing `module`).
pub fn python_with(venv: &str, module: &str, packages: &[&str]) -> PathBuf {
    let venv = root().join("target").join(venv);
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(made.success(), "python3 -m venv failed");
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "-q"])
            .args(packages)
            .status()
            .expect("pip");
        assert!(pip.success(), "pip install {packages:?} failed");
    }
    python
}
