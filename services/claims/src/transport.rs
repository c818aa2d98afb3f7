//! How claim files travel: one seam, [`ClaimTransport`], with the outbox directory as its first
//! implementation. VECOZO (NL) and MyCareNet (BE) need the practice's certificates and stay out
//! of scope behind the same two operations: deliver a generated file, pick up what came back.
//!
//! The sweep (every `CLAIMS_OUTBOX_MINUTES`, per practice) delivers each generated batch's file
//! — streamed chunk by chunk into a temporary file, synced, then renamed, so the receiving side
//! never sees half a file — and marks the batch sent; then it reads each return file waiting,
//! applies it exactly as an upload would, and moves it to `done/` (or `refused/`, with the
//! rules it broke in a `.reason` file — never a value from it).

use std::future::Future;
use std::path::{Path, PathBuf};

use domain::{ClaimBatchId, PracticeId};
use platform::AppState;
use platform::audit::{self, Action, AuditEvent};

use crate::batches::change;
use crate::batches::error::BatchError;
use crate::batches::store;

/// A return file waiting to be read.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Its name where it waits.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Where a return file went once read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Applied to its batch.
    Done,
    /// Refused (broken, or of no batch of this practice).
    Refused,
}

/// One file being delivered, chunk by chunk (constant memory whatever its size).
pub trait Delivery: Send {
    /// The next bytes of the file.
    fn write(&mut self, chunk: &[u8]) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// The file is complete: only now does the receiving side see it.
    fn finish(self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// The seam between claims and the networks that carry claim files.
pub trait ClaimTransport: Send + Sync {
    /// A delivery in progress.
    type Delivery: Delivery;

    /// Starts delivering a generated file named `name`.
    fn deliver(
        &self,
        practice: PracticeId,
        name: &str,
    ) -> impl Future<Output = anyhow::Result<Self::Delivery>> + Send;

    /// The return files waiting for the practice.
    fn incoming(
        &self,
        practice: PracticeId,
    ) -> impl Future<Output = anyhow::Result<Vec<Incoming>>> + Send;

    /// Moves a return file out of the way once read; `reason` says why it was refused.
    fn settle(
        &self,
        practice: PracticeId,
        file: &Incoming,
        outcome: Settled,
        reason: &str,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// A directory per practice: `out/` for delivered files, `in/` for return files.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// The outbox under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Outbox { dir: dir.into() }
    }

    fn practice(&self, p: PracticeId, sub: &str) -> PathBuf {
        self.dir.join(p.to_string()).join(sub)
    }
}

/// A file name of ours: letters, digits, `.`, `_`, `-` (nothing that climbs directories).
fn safe(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A file written under a hidden temporary name, synced, then renamed into place.
pub struct OutboxDelivery {
    file: tokio::fs::File,
    tmp: PathBuf,
    to: PathBuf,
}

impl Delivery for OutboxDelivery {
    async fn write(&mut self, chunk: &[u8]) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        Ok(self.file.write_all(chunk).await?)
    }

    async fn finish(self) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut file = self.file;
        file.flush().await?;
        file.sync_all().await?;
        tokio::fs::rename(&self.tmp, &self.to).await?;
        Ok(())
    }
}

impl ClaimTransport for Outbox {
    type Delivery = OutboxDelivery;

    async fn deliver(&self, practice: PracticeId, name: &str) -> anyhow::Result<OutboxDelivery> {
        anyhow::ensure!(safe(name), "an unsafe file name");
        let out = self.practice(practice, "out");
        tokio::fs::create_dir_all(&out).await?;
        let tmp = out.join(format!(".{name}.part"));
        Ok(OutboxDelivery {
            file: tokio::fs::File::create(&tmp).await?,
            tmp,
            to: out.join(name),
        })
    }

    async fn incoming(&self, practice: PracticeId) -> anyhow::Result<Vec<Incoming>> {
        let dir = self.practice(practice, "in");
        let mut found = Vec::new();
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(e.into()),
        };
        while let Some(e) = entries.next_entry().await? {
            let name = e.file_name().to_string_lossy().into_owned();
            if !e.file_type().await?.is_file() || !safe(&name) {
                continue;
            }
            found.push(Incoming {
                bytes: tokio::fs::read(e.path()).await?,
                name,
            });
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    async fn settle(
        &self,
        practice: PracticeId,
        file: &Incoming,
        outcome: Settled,
        reason: &str,
    ) -> anyhow::Result<()> {
        let sub = match outcome {
            Settled::Done => "in/done",
            Settled::Refused => "in/refused",
        };
        let to = self.practice(practice, sub);
        tokio::fs::create_dir_all(&to).await?;
        let from = self.practice(practice, "in").join(&file.name);
        tokio::fs::rename(&from, to.join(&file.name)).await?;
        if outcome == Settled::Refused {
            tokio::fs::write(to.join(format!("{}.reason", file.name)), reason).await?;
        }
        Ok(())
    }
}

fn sweep_event<'a>(event: &'a str, route: &'a str) -> AuditEvent<'a> {
    AuditEvent {
        event,
        action: Action::Read,
        actor: None,
        support_grant: None,
        patient: None,
        purpose: "claims",
        route,
        outcome: "success",
        reason: None,
    }
}

const ROUTE: &str = "job:claims.outbox";

/// Delivers the practice's generated files and reads its return files; how many files moved.
pub async fn sweep_practice<T: ClaimTransport>(
    state: &AppState,
    transport: &T,
    practice: PracticeId,
) -> anyhow::Result<usize> {
    let mut moved = 0;
    // Generated batches whose file is not delivered yet.
    let mut tx = state.db().tenant(practice).await?;
    let waiting: Vec<(ClaimBatchId, uuid::Uuid, String, i32)> = sqlx::query_as(
        "select b.batch_id, f.file_id, f.name, f.chunk_count
           from claims.batch b join claims.claim_file f on f.batch_id = b.batch_id
          where b.state = 'generated' and f.direction = 'out' and f.format = b.format
            and f.delivered_at is null
          order by b.generated_at",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    for (batch, file, name, chunks) in waiting {
        let mut tx = state.db().tenant(practice).await?;
        let Some(row) = store::load(&mut tx, batch, true).await? else {
            continue;
        };
        let keys = state
            .practice_keys(&mut tx, practice)
            .await
            .map_err(|e| anyhow::anyhow!("practice keys: {}", e.status()))?;
        let mut delivery = transport.deliver(practice, &name).await?;
        for seq in 0..chunks {
            let plain = crate::files::read_chunk(&mut tx, &keys, practice, file, seq).await?;
            delivery.write(&plain).await?;
        }
        delivery.finish().await?;
        change::mark_sent(&mut tx, &row)
            .await
            .map_err(|e| anyhow::anyhow!("batch {batch}: {e}"))?;
        sqlx::query("update claims.claim_file set delivered_at = now() where file_id = $1")
            .bind(file)
            .execute(&mut *tx)
            .await?;
        let patients = store::patients(&mut tx, batch).await?;
        audit::record_for_patients(
            &mut tx,
            practice,
            &sweep_event("claim_file_delivered", ROUTE),
            &patients,
        )
        .await?;
        tx.commit().await?;
        moved += 1;
    }
    // Return files.
    for file in transport.incoming(practice).await? {
        let mut tx = state.db().tenant(practice).await?;
        match change::apply_return(state, &mut tx, practice, &file.bytes, None).await {
            Ok((row, _)) => {
                let ev = sweep_event("claim_return_file_read", ROUTE);
                audit::record(&mut tx, practice, &ev).await?;
                tx.commit().await?;
                transport.settle(practice, &file, Settled::Done, "").await?;
                tracing::info!(practice.id = %practice, batch.id = %row.batch_id, "return file applied");
            }
            Err(e) => {
                drop(tx);
                let reason = refusal(&e);
                tracing::warn!(practice.id = %practice, reason = %reason, "return file refused");
                transport
                    .settle(practice, &file, Settled::Refused, &reason)
                    .await?;
            }
        }
        moved += 1;
    }
    Ok(moved)
}

/// Why a return file was refused, in rule names and record numbers only.
fn refusal(e: &BatchError) -> String {
    match e {
        BatchError::ReturnInvalid(findings) => findings
            .iter()
            .map(|f| format!("record {}: {}\n", f.record, f.rule))
            .collect(),
        other => format!("{other}\n"),
    }
}

/// Sweeps every practice every `interval` while the outbox is configured.
pub async fn run(state: AppState) {
    let settings = state.settings().claims.clone();
    let Some(dir) = settings.outbox_dir else {
        return;
    };
    let outbox = std::sync::Arc::new(Outbox::new(dir));
    platform::jobs::every_practice(
        state,
        settings.outbox_interval,
        false,
        "claims_outbox",
        move |state, p| {
            let outbox = outbox.clone();
            async move { sweep_practice(&state, outbox.as_ref(), p).await }
        },
    )
    .await
}

/// The outbox of a practice, for tests and operators.
pub fn practice_dir(root: &Path, practice: PracticeId) -> PathBuf {
    root.join(practice.to_string())
}
