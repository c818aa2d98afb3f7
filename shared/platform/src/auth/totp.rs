//! TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps). The current and the previous step are
//! accepted, never a future one; single use is enforced in the database by the caller.

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step.
pub const STEP_SECS: u64 = 30;

/// A new random 160-bit secret.
pub fn generate_secret() -> Vec<u8> {
    use rand::RngCore;
    let mut s = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<TOTP> {
    Ok(TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        secret.to_vec(),
        Some(issuer.to_owned()),
        account.to_owned(),
    )?)
}

/// The base32 form people type into an authenticator.
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::Raw(secret.to_vec()).to_encoded().to_string()
}

/// Decodes a base32 secret.
pub fn decode_base32(secret: &str) -> Option<Vec<u8>> {
    Secret::Encoded(secret.trim().to_uppercase())
        .to_bytes()
        .ok()
}

/// The `otpauth://` URI for QR codes.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<String> {
    Ok(totp(secret, issuer, account)?.get_url())
}

/// An SVG QR code of the URI.
pub fn qr_svg(uri: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::new(uri.as_bytes())?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

/// The code for a step.
pub fn code_at_step(secret: &[u8], step: u64) -> String {
    // The issuer and account do not enter the code.
    totp(secret, "x", "x")
        .map(|t| t.generate(step * STEP_SECS))
        .unwrap_or_default()
}

/// The step `code` belongs to, among the current and the previous one.
pub fn matching_step(secret: &[u8], code: &str, unix_now: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = unix_now / STEP_SECS;
    [now, now.saturating_sub(1)]
        .into_iter()
        .find(|&step| bool::from(code_at_step(secret, step).as_bytes().ct_eq(code.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_current_and_previous_step_only() {
        let s = generate_secret();
        let now = 1_800_000_015;
        let step = now / STEP_SECS;
        for (offset, accepted) in [
            (-2i64, false),
            (-1, true),
            (0, true),
            (1, false),
            (2, false),
        ] {
            let code = code_at_step(&s, (step as i64 + offset) as u64);
            let got = matching_step(&s, &code, now);
            // A code of another step can collide by chance (1 in a million); only check the step.
            if accepted {
                assert_eq!(got, Some((step as i64 + offset) as u64), "offset {offset}");
            } else {
                assert_ne!(got, Some((step as i64 + offset) as u64), "offset {offset}");
            }
        }
        assert_eq!(matching_step(&s, "abcdef", now), None);
        assert_eq!(matching_step(&s, "12345", now), None);
    }

    #[test]
    fn uri_and_qr() {
        let s = generate_secret();
        let uri = otpauth_uri(&s, "Praxis", "staff-1").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Praxis:staff-1?secret="),
            "{uri}"
        );
        assert!(qr_svg(&uri).unwrap().starts_with("<?xml"));
    }
}
