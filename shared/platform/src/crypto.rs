//! Envelope encryption of the most sensitive fields (design §6.3).
//!
//! A master key from configuration wraps two keys per practice: a data key (AES-256-GCM for
//! national numbers, clinical text and TOTP secrets) and an index key (HMAC-SHA256 blind
//! indexes). Every ciphertext carries its key version and a random 96-bit nonce, and is bound
//! through the associated data to practice, table, column and row: a ciphertext copied to
//! another row, column or practice does not decrypt.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use domain::PracticeId;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

/// Format byte of field ciphertexts.
const FIELD_FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;

/// A decryption or unwrap failure. It says nothing about the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The ciphertext is malformed, was moved, or the key is wrong.
    #[error("ciphertext does not decrypt with this key and context")]
    Decrypt,
    /// The practice has no key (never created, or erased).
    #[error("no key for this practice")]
    MissingKey,
}

/// The key-encryption key.
#[derive(Clone)]
pub struct MasterKey(Arc<Zeroizing<[u8; 32]>>);

impl MasterKey {
    /// Wraps raw key bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(Arc::new(Zeroizing::new(bytes)))
    }

    /// A fresh random key (tests, key generation).
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self::new(k)
    }

    /// A keyed hash of a phone number (E.164) for routing replies across practices; the key is
    /// derived from the master key, so the table holding it reveals no number.
    pub fn phone_route(&self, e164: &str) -> Vec<u8> {
        self.keyed_hash(b"praxis/phone-route/v1", &[e164.as_bytes()])
    }

    /// A keyed hash of an inbound message's identity (provider, then its parts), to recognise a
    /// provider's retry. Keyed because the parts may be a phone number and a known text: a
    /// plain SHA-256 of them is reversed by trying every number of a country in seconds.
    pub fn inbound_key(&self, provider: &str, parts: &[&str]) -> Vec<u8> {
        let mut fields: Vec<&[u8]> = vec![provider.as_bytes()];
        fields.extend(parts.iter().map(|p| p.as_bytes()));
        self.keyed_hash(b"praxis/inbound-seen/v1", &fields)
    }

    /// A keyed fingerprint of a request (method, path, body) for `Idempotency-Key` replays:
    /// keyed because a body may hold personal data.
    pub fn request_fingerprint(&self, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
        self.keyed_hash(
            b"praxis/idempotency/v1",
            &[method.as_bytes(), path.as_bytes(), body],
        )
    }

    /// A keyed identity of a bank statement entry (the account and the entry's own fields), to
    /// recognise an entry imported before. Keyed because the fields may hold a payer's words.
    pub fn bank_entry(&self, parts: &[&str]) -> Vec<u8> {
        let fields: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
        self.keyed_hash(b"praxis/bank-entry/v1", &fields)
    }

    /// HMAC-SHA-256 of `fields` (each length-prefixed, so no two lists collide) under a key
    /// derived from the master key for `purpose`.
    fn keyed_hash(&self, purpose: &[u8], fields: &[&[u8]]) -> Vec<u8> {
        let mut derive = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(self.0.as_slice())
            .expect("any key length");
        derive.update(purpose);
        let key = derive.finalize().into_bytes();
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key.as_slice())
            .expect("any key length");
        if let [only] = fields {
            // One field: the bare value (the form `phone_route` has always stored).
            mac.update(only);
        } else {
            for f in fields {
                mac.update(&(f.len() as u64).to_be_bytes());
                mac.update(f);
            }
        }
        mac.finalize().into_bytes().to_vec()
    }

    pub(crate) fn is(&self, other: &[u8; 32]) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_slice().ct_eq(other.as_slice()).into()
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(self.0.as_slice()).expect("32-byte key")
    }

    fn wrap(&self, practice: PracticeId, version: i32, purpose: &str, key: &[u8; 32]) -> Vec<u8> {
        let aad = format!("praxis/kek/v1|{practice}|{version}|{purpose}");
        seal(&self.cipher(), aad.as_bytes(), key)
    }

    fn unwrap(
        &self,
        practice: PracticeId,
        version: i32,
        purpose: &str,
        wrapped: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let aad = format!("praxis/kek/v1|{practice}|{version}|{purpose}");
        let plain = Zeroizing::new(open(&self.cipher(), aad.as_bytes(), wrapped)?);
        let arr: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Decrypt)?;
        Ok(Zeroizing::new(arr))
    }
}

fn seal(cipher: &Aes256Gcm, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encryption does not fail for in-memory buffers");
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

fn open(cipher: &Aes256Gcm, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(CryptoError::Decrypt);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| CryptoError::Decrypt)
}

/// Where a field lives: the associated data of its ciphertext.
#[derive(Debug, Clone, Copy)]
pub struct FieldRef {
    /// The practice.
    pub practice: PracticeId,
    /// The table, e.g. `core.patient`.
    pub table: &'static str,
    /// The column, e.g. `national_number_enc`.
    pub column: &'static str,
    /// The row's id.
    pub row: Uuid,
}

/// Newly generated keys of a practice, wrapped for storage.
pub struct WrappedKeys {
    /// Key version (1 for a new practice).
    pub version: i32,
    /// The wrapped data key.
    pub data_key: Vec<u8>,
    /// The wrapped index key.
    pub index_key: Vec<u8>,
}

/// The unwrapped keys of one practice.
pub struct PracticeKeys {
    practice: PracticeId,
    version: i32,
    data: Aes256Gcm,
    index: Zeroizing<[u8; 32]>,
}

impl PracticeKeys {
    fn aad(&self, field: &FieldRef, version: i32) -> String {
        format!(
            "praxis/field/v1|{}|{}|{}|{}|{}",
            field.practice, field.table, field.column, field.row, version
        )
    }

    /// Encrypts a field value.
    pub fn encrypt(&self, field: FieldRef, plaintext: &[u8]) -> Vec<u8> {
        debug_assert_eq!(field.practice, self.practice);
        let aad = self.aad(&field, self.version);
        let sealed = seal(&self.data, aad.as_bytes(), plaintext);
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.push(FIELD_FORMAT_V1);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts a field value written by [`PracticeKeys::encrypt`] for the same field.
    pub fn decrypt(&self, field: FieldRef, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if ciphertext.len() < HEADER_LEN || ciphertext[0] != FIELD_FORMAT_V1 {
            return Err(CryptoError::Decrypt);
        }
        let version = i32::from_be_bytes(
            ciphertext[1..5]
                .try_into()
                .map_err(|_| CryptoError::Decrypt)?,
        );
        if version != self.version || field.practice != self.practice {
            return Err(CryptoError::Decrypt);
        }
        let aad = self.aad(&field, version);
        open(&self.data, aad.as_bytes(), &ciphertext[5..])
    }

    /// Decrypts a UTF-8 field.
    pub fn decrypt_string(
        &self,
        field: FieldRef,
        ciphertext: &[u8],
    ) -> Result<String, CryptoError> {
        String::from_utf8(self.decrypt(field, ciphertext)?).map_err(|_| CryptoError::Decrypt)
    }

    /// HMAC-SHA256 blind index of a normalised value, truncated to 16 bytes. `kind` separates
    /// indexes of different fields, so equal values in two fields do not correlate.
    pub fn blind_index(&self, kind: &str, normalised: &str) -> Vec<u8> {
        let mut mac =
            <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(self.index.as_slice())
                .expect("any key length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(normalised.as_bytes());
        mac.finalize().into_bytes()[..16].to_vec()
    }
}

/// Unwraps and caches practice keys.
#[derive(Clone)]
pub struct Keyring {
    master: MasterKey,
    cache: Arc<RwLock<HashMap<PracticeId, Arc<PracticeKeys>>>>,
}

impl Keyring {
    /// A keyring over the master key.
    pub fn new(master: MasterKey) -> Self {
        Self {
            master,
            cache: Arc::default(),
        }
    }

    /// Generates and wraps fresh keys for a new practice.
    pub fn generate(&self, practice: PracticeId) -> WrappedKeys {
        let mut data = Zeroizing::new([0u8; 32]);
        let mut index = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(data.as_mut_slice());
        rand::rngs::OsRng.fill_bytes(index.as_mut_slice());
        WrappedKeys {
            version: 1,
            data_key: self.master.wrap(practice, 1, "data", &data),
            index_key: self.master.wrap(practice, 1, "index", &index),
        }
    }

    /// The cached keys of a practice, if loaded.
    pub fn cached(&self, practice: PracticeId) -> Option<Arc<PracticeKeys>> {
        self.cache
            .read()
            .expect("keyring lock")
            .get(&practice)
            .cloned()
    }

    /// Unwraps stored keys and caches them.
    pub fn load(
        &self,
        practice: PracticeId,
        version: i32,
        wrapped_data: &[u8],
        wrapped_index: &[u8],
    ) -> Result<Arc<PracticeKeys>, CryptoError> {
        let data = self
            .master
            .unwrap(practice, version, "data", wrapped_data)?;
        let index = self
            .master
            .unwrap(practice, version, "index", wrapped_index)?;
        let keys = Arc::new(PracticeKeys {
            practice,
            version,
            data: Aes256Gcm::new_from_slice(data.as_slice()).expect("32-byte key"),
            index,
        });
        self.cache
            .write()
            .expect("keyring lock")
            .insert(practice, keys.clone());
        Ok(keys)
    }

    /// Forgets a practice's keys (after erasure).
    pub fn forget(&self, practice: PracticeId) {
        self.cache.write().expect("keyring lock").remove(&practice);
    }
}

/// SHA-256 of a secret token, as stored.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A random URL-safe token of 128 bits (22 characters) for links sent by SMS, where every
/// character counts; it is a bearer secret, stored only as [`token_hash`].
pub fn short_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A random URL-safe token with 256 bits of entropy and a readable prefix.
pub fn random_token(prefix: &str) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ring: &Keyring, practice: PracticeId) -> Arc<PracticeKeys> {
        let w = ring.generate(practice);
        ring.load(practice, w.version, &w.data_key, &w.index_key)
            .unwrap()
    }

    fn field(practice: PracticeId, row: Uuid) -> FieldRef {
        FieldRef {
            practice,
            table: "core.patient",
            column: "national_number_enc",
            row,
        }
    }

    #[test]
    fn round_trip_and_binding() {
        let ring = Keyring::new(MasterKey::generate());
        let (a, b) = (PracticeId::new(), PracticeId::new());
        let (ka, kb) = (keys(&ring, a), keys(&ring, b));
        let (row1, row2) = (Uuid::now_v7(), Uuid::now_v7());
        let ct = ka.encrypt(field(a, row1), b"85073003328");
        assert_eq!(ka.decrypt(field(a, row1), &ct).unwrap(), b"85073003328");
        // Moved to another row, column or practice: no plaintext.
        assert_eq!(ka.decrypt(field(a, row2), &ct), Err(CryptoError::Decrypt));
        let other_column = FieldRef {
            column: "clinical_summary_enc",
            ..field(a, row1)
        };
        assert_eq!(ka.decrypt(other_column, &ct), Err(CryptoError::Decrypt));
        assert_eq!(kb.decrypt(field(b, row1), &ct), Err(CryptoError::Decrypt));
        // Tampered bytes.
        let mut bad = ct.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(ka.decrypt(field(a, row1), &bad), Err(CryptoError::Decrypt));
    }

    #[test]
    fn nonces_differ_and_wrong_master_key_fails() {
        let ring = Keyring::new(MasterKey::generate());
        let p = PracticeId::new();
        let k = keys(&ring, p);
        let row = Uuid::now_v7();
        assert_ne!(
            k.encrypt(field(p, row), b"x"),
            k.encrypt(field(p, row), b"x")
        );
        let w = ring.generate(p);
        let other = Keyring::new(MasterKey::generate());
        assert!(other.load(p, w.version, &w.data_key, &w.index_key).is_err());
        // Wrapped keys are bound to their practice too.
        assert!(
            ring.load(PracticeId::new(), w.version, &w.data_key, &w.index_key)
                .is_err()
        );
    }

    #[test]
    fn blind_indexes_are_per_practice_and_kind() {
        let ring = Keyring::new(MasterKey::generate());
        let (a, b) = (PracticeId::new(), PracticeId::new());
        let (ka, kb) = (keys(&ring, a), keys(&ring, b));
        assert_eq!(
            ka.blind_index("nn", "111222333"),
            ka.blind_index("nn", "111222333")
        );
        assert_ne!(
            ka.blind_index("nn", "111222333"),
            kb.blind_index("nn", "111222333")
        );
        assert_ne!(
            ka.blind_index("nn", "111222333"),
            ka.blind_index("phone", "111222333")
        );
    }
}
