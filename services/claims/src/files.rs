//! Claim files at rest: personal data, so only chunks of 64 KiB each sealed with the practice
//! key (AES-GCM; the file id and the chunk's position in the associated data, so chunks cannot
//! be swapped, reordered or moved to another file) and what describes them (size, SHA-256 of
//! the plain file, chunk count). Written while the file is made and read back while it is
//! sent: a file of any size passes with the memory of one chunk.

use std::io::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use domain::PracticeId;
use platform::AppState;
use platform::crypto::{FieldRef, PracticeKeys};
use platform::db::TenantTx;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Plain bytes per chunk.
pub const CHUNK: usize = 64 * 1024;

/// The associated data of one chunk: its file and position.
fn chunk_ref(practice: PracticeId, file: Uuid, seq: i32) -> FieldRef {
    FieldRef {
        practice,
        table: "claims.file_chunk",
        column: "data",
        // The file's id with the position folded into its low bits: one id per chunk.
        row: Uuid::from_u128(file.as_u128() ^ u128::from(seq.unsigned_abs())),
    }
}

/// A file being stored: an `io::Write` that buffers one chunk; [`ChunkWriter::store_full`]
/// seals and inserts the full chunks, [`ChunkWriter::finish`] the rest.
pub struct ChunkWriter {
    practice: PracticeId,
    file: Uuid,
    keys: Arc<PracticeKeys>,
    buf: Vec<u8>,
    seq: i32,
    size: u64,
    sha: Sha256,
}

/// What a stored file is.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The file.
    pub file_id: Uuid,
    /// Plain size.
    pub size: u64,
    /// SHA-256 of the plain bytes.
    pub sha256: Vec<u8>,
    /// Chunks.
    pub chunks: i32,
}

impl ChunkWriter {
    /// A new file of the practice.
    pub fn new(practice: PracticeId, keys: Arc<PracticeKeys>) -> Self {
        ChunkWriter {
            practice,
            file: Uuid::now_v7(),
            keys,
            buf: Vec::with_capacity(CHUNK),
            seq: 0,
            size: 0,
            sha: Sha256::new(),
        }
    }

    /// The file's id.
    pub fn file_id(&self) -> Uuid {
        self.file
    }

    async fn store(&mut self, tx: &mut TenantTx, plain: &[u8]) -> Result<(), sqlx::Error> {
        let sealed = self
            .keys
            .encrypt(chunk_ref(self.practice, self.file, self.seq), plain);
        sqlx::query(
            "insert into claims.file_chunk (practice_id, file_id, seq, data) values ($1, $2, $3, $4)",
        )
        .bind(self.practice)
        .bind(self.file)
        .bind(self.seq)
        .bind(sealed)
        .execute(&mut **tx)
        .await?;
        self.seq += 1;
        Ok(())
    }

    /// Seals and stores every full chunk buffered so far.
    pub async fn store_full(&mut self, tx: &mut TenantTx) -> Result<(), sqlx::Error> {
        while self.buf.len() >= CHUNK {
            let rest = self.buf.split_off(CHUNK);
            let full = std::mem::replace(&mut self.buf, rest);
            self.store(tx, &full).await?;
        }
        Ok(())
    }

    /// Stores what is left. The caller writes the `claims.claim_file` row (same transaction).
    pub async fn finish(mut self, tx: &mut TenantTx) -> Result<Stored, sqlx::Error> {
        self.store_full(tx).await?;
        if !self.buf.is_empty() || self.seq == 0 {
            let last = std::mem::take(&mut self.buf);
            self.store(tx, &last).await?;
        }
        Ok(Stored {
            file_id: self.file,
            size: self.size,
            sha256: self.sha.finalize().to_vec(),
            chunks: self.seq,
        })
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        self.sha.update(bytes);
        self.size += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes to two writers at once: the file and its validator.
pub struct Tee<A, B>(pub A, pub B);

impl<A: Write, B: Write> Write for Tee<A, B> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(bytes)?;
        self.1.write_all(bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.1.flush()
    }
}

/// One chunk, opened.
pub(crate) async fn read_chunk(
    tx: &mut TenantTx,
    keys: &PracticeKeys,
    practice: PracticeId,
    file: Uuid,
    seq: i32,
) -> anyhow::Result<Vec<u8>> {
    let sealed: Vec<u8> =
        sqlx::query_scalar("select data from claims.file_chunk where file_id = $1 and seq = $2")
            .bind(file)
            .bind(seq)
            .fetch_one(&mut **tx)
            .await?;
    Ok(keys.decrypt(chunk_ref(practice, file, seq), &sealed)?)
}

/// A stored file as a response body, read chunk by chunk in its own transaction (the caller
/// has committed its audit row first).
pub fn body(state: AppState, practice: PracticeId, file: Uuid, chunks: i32) -> Body {
    let stream = futures::stream::unfold(
        (state, None::<(TenantTx, Arc<PracticeKeys>)>, 0),
        move |(state, open, seq)| async move {
            if seq >= chunks {
                if let Some((tx, _)) = open {
                    let _ = tx.commit().await;
                }
                return None;
            }
            let opened = match open {
                Some(o) => Ok(o),
                None => open_for(&state, practice).await,
            };
            let (mut tx, keys) = match opened {
                Ok(o) => o,
                Err(e) => return Some((Err(e), (state, None, chunks))),
            };
            match read_chunk(&mut tx, &keys, practice, file, seq).await {
                Ok(plain) => Some((Ok(Bytes::from(plain)), (state, Some((tx, keys)), seq + 1))),
                Err(e) => {
                    tracing::error!(error = %e, %file, seq, "claim file chunk unreadable");
                    Some((Err(e), (state, None, chunks)))
                }
            }
        },
    );
    Body::from_stream(futures::StreamExt::map(stream, |r| {
        r.map_err(|e| std::io::Error::other(e.to_string()))
    }))
}

async fn open_for(
    state: &AppState,
    practice: PracticeId,
) -> anyhow::Result<(TenantTx, Arc<PracticeKeys>)> {
    let mut tx = state.db().tenant(practice).await?;
    let keys = state
        .practice_keys(&mut tx, practice)
        .await
        .map_err(|e| anyhow::anyhow!("practice keys: {}", e.status()))?;
    Ok((tx, keys))
}

/// A whole stored file (tests, small files, the outbox).
pub async fn read_all(
    tx: &mut TenantTx,
    keys: &PracticeKeys,
    practice: PracticeId,
    file: Uuid,
    chunks: i32,
) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for seq in 0..chunks {
        out.extend(read_chunk(tx, keys, practice, file, seq).await?);
    }
    Ok(out)
}
