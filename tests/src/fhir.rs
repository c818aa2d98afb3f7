//! FHIR R4 validation in tests: `fhir.resources` 5.1.1 (the models generated from FHIR 4.0.1,
//! the last release for R4; later ones are R4B and R5) reads a Bundle and every resource in it,
//! refusing missing required elements, unknown elements and values of the wrong type.

use std::io::Write;
use std::process::{Command, Stdio};

const PACKAGES: [&str; 1] = ["fhir.resources==5.1.1"];

const SCRIPT: &str = r#"
import sys, json
from fhir.resources import __fhir_version__
from fhir.resources.bundle import Bundle
assert __fhir_version__ == "4.0.1", __fhir_version__
b = Bundle(json.loads(sys.stdin.buffer.read()))
kinds = {}
for e in b.entry or []:
    kinds[e.resource.resource_type] = kinds.get(e.resource.resource_type, 0) + 1
print(json.dumps(kinds, sort_keys=True))
"#;

/// Validates a Bundle; answers the count of each resource type, or the validator's errors.
pub fn validate_r4(bundle: &[u8]) -> Result<String, String> {
    let python = crate::python::python_with("fhir-venv", "fhir.resources", &PACKAGES);
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bundle)
        .expect("bundle written");
    let out = child.wait_with_output().expect("validator ends");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
