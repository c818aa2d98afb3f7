//! The official Peppol validator (tests/peppol) run over UBL files: Saxon-HE from PyPI, in a
//! virtual environment under target/ made on first use.

use std::path::PathBuf;

use crate::python::root;
use std::process::Command;

/// Saxon-HE for Python, pinned.
const SAXONCHE: &str = "saxonche==12.9.0";

fn python() -> PathBuf {
    crate::python::python_with("peppol-venv", "saxonche", &[SAXONCHE])
}

/// Validates `files`; answers (file, fatal findings, the validator's report).
pub fn validate(files: &[PathBuf]) -> Vec<(PathBuf, usize, String)> {
    let out = Command::new(python())
        .arg(root().join("tests/peppol/validate.py"))
        .args(files)
        .output()
        .expect("validate.py runs");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    files
        .iter()
        .map(|f| {
            let name = f.display().to_string();
            let section: String = report
                .split('\n')
                .skip_while(|l| !l.starts_with(&name))
                .take_while({
                    let mut first = true;
                    move |l| std::mem::take(&mut first) || l.starts_with("  ")
                })
                .collect::<Vec<_>>()
                .join("\n");
            let fatal = section
                .split(": ")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| {
                    panic!(
                        "no verdict for {name} in:\n{report}\n{}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                });
            (f.clone(), fatal, section)
        })
        .collect()
}
