//! argon2id with the OWASP parameters (m = 19 MiB, t = 2, p = 1) and a per-hash random salt,
//! run on the blocking pool behind a semaphore: argon2's memory multiplies with concurrent
//! logins, so the number of hashes in flight is bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    dummy: Arc<String>,
    verifications: Arc<AtomicU64>,
}

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing")
        .to_string()
}

impl PasswordHasher {
    /// At most `concurrency` hashes run at once.
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            // Verified for unknown and locked accounts so that their answers take as long.
            dummy: Arc::new(hash_blocking("praxis-dummy-password-for-timing")),
            verifications: Arc::default(),
        }
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await?;
        Ok(tokio::task::spawn_blocking(move || hash_blocking(&password)).await?)
    }

    /// Verifies a password against a stored PHC string.
    pub async fn verify(&self, phc: String, password: String) -> anyhow::Result<bool> {
        let _permit = self.permits.acquire().await?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("auth_password_verifications_total").increment(1);
        Ok(tokio::task::spawn_blocking(move || verify_blocking(&phc, &password)).await?)
    }

    /// Spends the time of a verification without checking anything real.
    pub async fn dummy_verify(&self, password: String) {
        let phc = self.dummy.as_ref().clone();
        if let Ok(_permit) = self.permits.acquire().await {
            // Counted like a real one: the metric must not tell known accounts from unknown.
            metrics::counter!("auth_password_verifications_total").increment(1);
            let _ = tokio::task::spawn_blocking(move || verify_blocking(&phc, &password)).await;
        }
    }

    /// Real verifications run by this process (dummy ones excluded).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}

fn verify_blocking(phc: &str, password: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_unique_salts() {
        let h = PasswordHasher::new(2);
        let a = h.hash("correct horse battery".into()).await.unwrap();
        let b = h.hash("correct horse battery".into()).await.unwrap();
        assert_ne!(a, b, "salts differ");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(
            h.verify(a.clone(), "correct horse battery".into())
                .await
                .unwrap()
        );
        assert!(!h.verify(a, "wrong".into()).await.unwrap());
        assert!(
            !h.verify("not a phc string".into(), "x".into())
                .await
                .unwrap()
        );
    }
}
