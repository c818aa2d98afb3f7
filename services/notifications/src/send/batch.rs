//! Group loading and group commit for the send worker: the messages jobs ask for together are
//! read in one statement per practice, and accepted sends are written in one statement and one
//! commit per group. No notification logic lives here: what to load and write is the caller's.

use domain::{MessageId, PatientId, PracticeId};
use uuid::Uuid;

use super::message::{CATEGORIES, FIELDS, LOAD, Loaded};

type LoadRequest = (
    PracticeId,
    MessageId,
    &'static str,
    tokio::sync::oneshot::Sender<Result<Option<Loaded>, String>>,
);

/// Group loading, the read-side twin of [`Recorder`]: the messages that jobs ask for while a
/// group is being read are read together, one statement per practice.
#[derive(Clone)]
pub(super) struct Loader {
    queue: tokio::sync::mpsc::Sender<LoadRequest>,
}

impl Loader {
    pub(super) fn start(pool: sqlx::PgPool) -> Self {
        let (queue, rx) = tokio::sync::mpsc::channel::<LoadRequest>(1024);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..LANES {
            let (rx, pool) = (rx.clone(), pool.clone());
            tokio::spawn(async move {
                while let Some(waiting) = next_group(&rx, std::time::Duration::ZERO).await {
                    load_group(&pool, waiting).await;
                }
            });
        }
        Self { queue }
    }

    pub(super) async fn load(
        &self,
        practice: PracticeId,
        id: MessageId,
        subprocessor: &'static str,
    ) -> anyhow::Result<Option<Loaded>> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.queue
            .send((practice, id, subprocessor, done))
            .await
            .map_err(|_| anyhow::anyhow!("loader stopped"))?;
        wait.await
            .map_err(|_| anyhow::anyhow!("loader stopped"))?
            .map_err(|e| anyhow::anyhow!("loading the message failed: {e}"))
    }
}

/// Reads a group of requests, one statement per practice (and subprocessor), and answers each.
async fn load_group(pool: &sqlx::PgPool, mut waiting: Vec<LoadRequest>) {
    while let Some((practice, _, subprocessor, _)) = waiting.first() {
        let (practice, subprocessor) = (*practice, *subprocessor);
        let (group, rest): (Vec<_>, Vec<_>) = waiting
            .into_iter()
            .partition(|r| r.0 == practice && r.2 == subprocessor);
        waiting = rest;
        let ids: Vec<MessageId> = group.iter().map(|r| r.1).collect();
        let rows = sqlx::query_as::<_, Loaded>(LOAD)
            .bind(practice.as_uuid())
            .bind(&ids)
            .bind(subprocessor)
            .bind(CATEGORIES.as_slice())
            .fetch_all(pool)
            .await;
        match rows {
            Ok(rows) => {
                let mut rows: std::collections::HashMap<MessageId, Loaded> =
                    rows.into_iter().map(|r| (r.message_id, r)).collect();
                for (_, id, _, done) in group {
                    let _ = done.send(Ok(rows.remove(&id)));
                }
            }
            Err(e) => {
                for (_, _, _, done) in group {
                    let _ = done.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// A send the provider accepted, to record.
pub(super) struct Accepted {
    pub(super) practice: Uuid,
    pub(super) message: MessageId,
    pub(super) patient: PatientId,
    pub(super) provider: &'static str,
    pub(super) encoding: &'static str,
    pub(super) segments: i32,
    pub(super) reference: String,
    pub(super) phone_hmac: Vec<u8>,
    pub(super) provider_id: String,
    pub(super) disclosure_id: Uuid,
    pub(super) subprocessor: String,
    pub(super) purpose: String,
}

type Pending = (Accepted, tokio::sync::oneshot::Sender<Result<i32, String>>);

/// Group commit for accepted sends. A lane takes whatever accepted sends are waiting (after
/// [`LINGER`]) and writes them in one statement (`notifications.sends_accepted`) and one commit,
/// then answers each waiting job, which only then completes: nothing is acknowledged before it
/// is durable. While one lane writes, the other gathers, so a busy worker flushes the WAL once
/// per group instead of once per message. If a group fails, each of its jobs fails and runs again, and
/// the provider's duplicate check (`idx`) keeps the message from going out twice.
#[derive(Clone)]
pub(super) struct Recorder {
    queue: tokio::sync::mpsc::Sender<Pending>,
}

/// Largest group read or written at once.
const GROUP: usize = 128;

/// Groups read or written at the same time: while one waits for its commit (or for a
/// core), the next is already being executed.
const LANES: usize = 2;

/// How long the recorder waits after the first accepted send for others to join its group.
/// Provider answers come back one by one; without the wait a group is a dozen sends, with it
/// several dozen: fewer statements and commits, and the jobs of a group are acknowledged
/// together (one apalis ack statement instead of several). Costs each send up to 1 ms.
const LINGER: std::time::Duration = std::time::Duration::from_millis(1);

/// Waits for the next request, then (after `linger`) takes whatever else is waiting, up to
/// [`GROUP`]; `None` when the sender side is gone. One lane at a time gathers, so groups never
/// overlap.
async fn next_group<T>(
    rx: &tokio::sync::Mutex<tokio::sync::mpsc::Receiver<T>>,
    linger: std::time::Duration,
) -> Option<Vec<T>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    let mut group = vec![first];
    if !linger.is_zero() {
        tokio::time::sleep(linger).await;
    }
    while group.len() < GROUP {
        match rx.try_recv() {
            Ok(r) => group.push(r),
            Err(_) => break,
        }
    }
    Some(group)
}

impl Recorder {
    pub(super) fn start(pool: sqlx::PgPool) -> Self {
        let (queue, rx) = tokio::sync::mpsc::channel::<Pending>(1024);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..LANES {
            let (rx, pool) = (rx.clone(), pool.clone());
            tokio::spawn(async move {
                while let Some(group) = next_group(&rx, LINGER).await {
                    let written = write_group(&pool, &group).await;
                    for ((_, done), result) in group.into_iter().zip(written) {
                        let _ = done.send(result);
                    }
                }
            });
        }
        Self { queue }
    }

    pub(super) async fn record(&self, a: Accepted) -> anyhow::Result<i32> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.queue
            .send((a, done))
            .await
            .map_err(|_| anyhow::anyhow!("recorder stopped"))?;
        wait.await
            .map_err(|_| anyhow::anyhow!("recorder stopped"))?
            .map_err(|e| anyhow::anyhow!("recording the send failed: {e}"))
    }
}

/// Writes a group, one statement (transaction) per practice; for each entry (in order) its
/// attempt number, or the error of its practice's statement.
async fn write_group(pool: &sqlx::PgPool, group: &[Pending]) -> Vec<Result<i32, String>> {
    let mut attempts: std::collections::HashMap<MessageId, i32> = std::collections::HashMap::new();
    let mut failed: std::collections::HashMap<Uuid, String> = std::collections::HashMap::new();
    let mut practices: Vec<Uuid> = group.iter().map(|(a, _)| a.practice).collect();
    practices.sort();
    practices.dedup();
    for practice in practices {
        let of: Vec<&Accepted> = group
            .iter()
            .map(|(a, _)| a)
            .filter(|a| a.practice == practice)
            .collect();
        let uuids = |f: fn(&Accepted) -> Uuid| of.iter().map(|a| f(a)).collect::<Vec<_>>();
        let texts = |f: fn(&Accepted) -> String| of.iter().map(|a| f(a)).collect::<Vec<_>>();
        let rows: Result<Vec<(MessageId, i32)>, sqlx::Error> = sqlx::query_as(
            "select * from notifications.sends_accepted($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(practice)
        .bind(of.iter().map(|a| a.message).collect::<Vec<_>>())
        .bind(of.iter().map(|a| a.patient).collect::<Vec<_>>())
        .bind(texts(|a| a.provider.to_owned()))
        .bind(texts(|a| a.encoding.to_owned()))
        .bind(of.iter().map(|a| a.segments).collect::<Vec<_>>())
        .bind(texts(|a| a.reference.clone()))
        .bind(of.iter().map(|a| a.phone_hmac.clone()).collect::<Vec<_>>())
        .bind(texts(|a| a.provider_id.clone()))
        .bind(uuids(|a| a.disclosure_id))
        .bind(texts(|a| a.subprocessor.clone()))
        .bind(texts(|a| a.purpose.clone()))
        .bind(CATEGORIES.as_slice())
        .bind(FIELDS.as_slice())
        .fetch_all(pool)
        .await;
        match rows {
            Ok(rows) => attempts.extend(rows),
            Err(e) => {
                failed.insert(practice, e.to_string());
            }
        }
    }
    group
        .iter()
        .map(|(a, _)| match failed.get(&a.practice) {
            Some(e) => Err(e.clone()),
            None => Ok(attempts.get(&a.message).copied().unwrap_or_default()),
        })
        .collect()
}
