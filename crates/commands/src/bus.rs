//! Running commands with cached state, group commit per aggregate and conflict retries.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore};
use cqrs_es::{Aggregate, AggregateError, DomainEvent, EventEnvelope, EventStore};
use gavel_store::outbox::OutboxBell;
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;
use tokio::sync::{oneshot, Mutex};

use crate::CommandContext;

/// How hard to try when other processes keep winning the race for an aggregate.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: usize,
    /// Delay before the first retry; it doubles each time, with jitter.
    pub first_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 20,
            first_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(200),
        }
    }
}

/// A command the aggregate accepted, and what it became.
#[derive(Debug)]
pub struct Accepted<A: Aggregate> {
    /// The aggregate's version (last event sequence) after the command.
    pub version: usize,
    /// The events the command produced, in order; empty when it changed nothing.
    pub events: Vec<A::Event>,
    /// The aggregate's state after the command.
    pub state: A,
}

/// Why a command did not produce events.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// The aggregate refused it for a business reason.
    #[error(transparent)]
    Rejected(E),
    /// Other writers kept winning for the whole retry budget.
    #[error("the aggregate is too busy: gave up after {attempts} attempts")]
    Contended {
        /// How many attempts were made.
        attempts: usize,
    },
    /// The event store failed.
    #[error("event store: {0}")]
    Store(String),
}

/// What one command comes to.
type Outcome<A> = Result<Accepted<A>, CommandError<<A as Aggregate>::Error>>;

/// The cached state of one aggregate and the sequence it reflects.
struct Cached<A> {
    aggregate: A,
    sequence: usize,
}

/// A command waiting for its aggregate, and where its outcome goes.
struct Waiting<A: Aggregate> {
    command: A::Command,
    metadata: String,
    reply: oneshot::Sender<Outcome<A>>,
}

/// One aggregate's commands waiting to run and its cached state. Whoever holds `state` takes every
/// command waiting at that moment and commits them together.
struct Slot<A: Aggregate> {
    waiting: std::sync::Mutex<Vec<Waiting<A>>>,
    state: Mutex<Option<Cached<A>>>,
}

impl<A: Aggregate> Default for Slot<A> {
    fn default() -> Self {
        Self {
            waiting: Default::default(),
            state: Default::default(),
        }
    }
}

/// Runs commands of aggregate type `A` against the event store.
pub struct CommandBus<A: Aggregate> {
    inner: Arc<Inner<A>>,
}

struct Inner<A: Aggregate> {
    pool: PgPool,
    repo: PostgresEventRepository,
    store: PersistedEventStore<PostgresEventRepository, A>,
    services: A::Services,
    slots: moka::sync::Cache<String, Arc<Slot<A>>>,
    retry: RetryPolicy,
    /// Wakes the relay once events are committed.
    relay: OutboxBell,
}

impl<A> CommandBus<A>
where
    A: Aggregate + Clone + 'static,
    A::Command: Clone + Send + Sync + 'static,
    A::Error: Send + Sync + 'static,
    A::Services: 'static,
{
    /// A bus on `pool` with `services` for the aggregate, caching up to `capacity` aggregates.
    pub fn new(pool: PgPool, services: A::Services, capacity: u64, retry: RetryPolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                repo: PostgresEventRepository::new(pool.clone()),
                store: PersistedEventStore::new_event_store(PostgresEventRepository::new(
                    pool.clone(),
                )),
                relay: OutboxBell::new(pool.clone()),
                pool,
                services,
                slots: moka::sync::Cache::new(capacity),
                retry,
            }),
        }
    }

    /// Runs `command` against aggregate `id`, appending its events with `context` as metadata.
    ///
    /// Commands for one aggregate that arrive while an earlier one is being committed wait, and
    /// are then decided one after another on the aggregate's state and appended in a single
    /// durable commit (group commit): a busy auction pays for one commit per batch, not per bid.
    pub async fn execute(
        &self,
        id: &str,
        command: A::Command,
        context: &CommandContext,
    ) -> Outcome<A> {
        let slot = self.inner.slots.get_with_by_ref(id, Default::default);
        let (reply, outcome) = oneshot::channel();
        let metadata =
            serde_json::to_string(&context.to_metadata()).expect("a string map serializes");
        slot.waiting
            .lock()
            .expect("the waiting list is never left half-changed")
            .push(Waiting {
                command,
                metadata,
                reply,
            });
        // The batch runs on its own task, so a caller that goes away (a closed connection) cannot
        // abandon the other commands of its batch half-way.
        let inner = Arc::clone(&self.inner);
        let id = id.to_string();
        tokio::spawn(async move {
            let mut state = slot.state.lock().await;
            let batch = std::mem::take(
                &mut *slot
                    .waiting
                    .lock()
                    .expect("the waiting list is never left half-changed"),
            );
            if !batch.is_empty() {
                inner.run_batch(&id, &mut state, batch).await;
            }
        });
        outcome.await.unwrap_or_else(|_| {
            Err(CommandError::Store(
                "the command was dropped before it ran".into(),
            ))
        })
    }

    /// The aggregate's current state and version, from its cached state brought up to date: what
    /// a command arriving now would be checked against.
    pub async fn current(&self, id: &str) -> Result<(A, usize), CommandError<A::Error>> {
        let slot = self.inner.slots.get_with_by_ref(id, Default::default);
        let mut cached = slot.state.lock().await;
        let current = self
            .inner
            .catch_up(id, cached.take())
            .await
            .map_err(BatchError::into_command_error)?;
        let answer = (current.aggregate.clone(), current.sequence);
        *cached = Some(current);
        Ok(answer)
    }

    /// The aggregate's current state and version, rebuilt from every stored event (no cache), as
    /// an auditor would.
    pub async fn replay(&self, id: &str) -> Result<(A, usize), CommandError<A::Error>> {
        let events = self
            .inner
            .store
            .load_events(id)
            .await
            .map_err(store_error)?;
        let version = events.last().map_or(0, |e| e.sequence);
        let mut aggregate = A::default();
        for envelope in events {
            aggregate.apply(envelope.payload);
        }
        Ok((aggregate, version))
    }
}

/// Why a whole batch of commands failed.
#[derive(Debug, Clone)]
enum BatchError {
    Contended(usize),
    Store(String),
}

impl BatchError {
    fn into_command_error<E: std::error::Error>(self) -> CommandError<E> {
        match self {
            Self::Contended(attempts) => CommandError::Contended { attempts },
            Self::Store(message) => CommandError::Store(message),
        }
    }
}

/// A batch's commands decided one after another on one state, before anything is written.
struct Decided<A: Aggregate> {
    outcomes: Vec<Outcome<A>>,
    state: A,
    sequence: usize,
    rows: EventRows,
}

/// Events ready to append, one array per column.
#[derive(Default)]
struct EventRows {
    sequences: Vec<i64>,
    event_types: Vec<String>,
    event_versions: Vec<String>,
    payloads: Vec<String>,
    metadata: Vec<String>,
}

impl EventRows {
    fn push<E: DomainEvent>(
        &mut self,
        sequence: usize,
        event: &E,
        metadata: &str,
    ) -> Result<(), BatchError> {
        let payload = serde_json::to_string(event)
            .map_err(|e| BatchError::Store(format!("serializing an event: {e}")))?;
        self.sequences.push(sequence as i64);
        self.event_types.push(event.event_type());
        self.event_versions.push(event.event_version());
        self.payloads.push(payload);
        self.metadata.push(metadata.to_string());
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }
}

/// Appends every row in one statement, so one durable commit; the event store's primary key
/// turns a sequence another writer took first into [`Append::Conflict`].
const APPEND_EVENTS: &str = "\
    INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
    SELECT $1, $2, e.sequence, e.event_type, e.event_version, e.payload::json, e.metadata::json \
    FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[]) \
        AS e(sequence, event_type, event_version, payload, metadata)";

/// PostgreSQL's `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";

enum Append {
    Conflict,
    Store(String),
}

impl<A> Inner<A>
where
    A: Aggregate + Clone + 'static,
    A::Command: Clone + Send + Sync + 'static,
    A::Error: Send + Sync + 'static,
    A::Services: 'static,
{
    /// Decides and commits `batch`, then sends each command its outcome.
    async fn run_batch(&self, id: &str, cached: &mut Option<Cached<A>>, batch: Vec<Waiting<A>>) {
        match self.decide_and_commit(id, cached, &batch).await {
            Ok(outcomes) => {
                for (waiting, outcome) in batch.into_iter().zip(outcomes) {
                    // A caller that went away no longer wants its outcome.
                    let _ = waiting.reply.send(outcome);
                }
            }
            Err(error) => {
                for waiting in batch {
                    let _ = waiting.reply.send(Err(error.clone().into_command_error()));
                }
            }
        }
    }

    async fn decide_and_commit(
        &self,
        id: &str,
        cached: &mut Option<Cached<A>>,
        batch: &[Waiting<A>],
    ) -> Result<Vec<Outcome<A>>, BatchError> {
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.retry.first_delay)
            .with_max_delay(self.retry.max_delay)
            .with_jitter()
            .without_max_times()
            .build();
        // The cached state is trusted for the first try: if another process appended meanwhile,
        // the commit's sequence collides and the conflict brings the cache up to date. A commit
        // that lands therefore also vouches for the rejections and no-ops decided in its batch,
        // on a prefix of the state it wrote. Only a batch that writes nothing is first checked
        // against the store, so that no client is refused on stale state.
        let (mut current, mut verified) = match cached.take() {
            Some(current) => (current, false),
            None => (self.catch_up(id, None).await?, true),
        };
        for attempt in 1..=self.retry.max_attempts {
            let decided = self.decide(&current, batch).await?;
            if decided.rows.is_empty() {
                if !verified {
                    let before = current.sequence;
                    current = self.catch_up(id, Some(current)).await?;
                    verified = true;
                    if current.sequence != before {
                        continue;
                    }
                }
                *cached = Some(current);
                return Ok(decided.outcomes);
            }
            match append(&self.pool, A::TYPE, id, &decided.rows).await {
                Ok(()) => {
                    self.relay.ring();
                    *cached = Some(Cached {
                        aggregate: decided.state,
                        sequence: decided.sequence,
                    });
                    return Ok(decided.outcomes);
                }
                Err(Append::Conflict) => {
                    // Another process appended first: read its events and decide again.
                    current = self.catch_up(id, Some(current)).await?;
                    verified = true;
                    let delay = delays.next().unwrap_or(self.retry.max_delay);
                    tracing::debug!(
                        aggregate = A::TYPE,
                        id,
                        attempt,
                        ?delay,
                        "conflict, retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(Append::Store(message)) => return Err(BatchError::Store(message)),
            }
        }
        Err(BatchError::Contended(self.retry.max_attempts))
    }

    /// Runs each command of `batch` in turn on `current`, each on the state the ones before it
    /// left, numbering their events from `current`'s sequence.
    async fn decide(
        &self,
        current: &Cached<A>,
        batch: &[Waiting<A>],
    ) -> Result<Decided<A>, BatchError> {
        let mut state = current.aggregate.clone();
        let mut sequence = current.sequence;
        let mut rows = EventRows::default();
        let mut outcomes = Vec::with_capacity(batch.len());
        for waiting in batch {
            let mut next = state.clone();
            let sink = EventSink::default();
            let handled = next
                .handle(waiting.command.clone(), &self.services, &sink)
                .await;
            let events = sink.collect().await;
            match handled {
                Err(rejection) => {
                    outcomes.push(Err(CommandError::Rejected(rejection)));
                }
                Ok(()) => {
                    for event in &events {
                        sequence += 1;
                        rows.push(sequence, event, &waiting.metadata)?;
                    }
                    outcomes.push(Ok(Accepted {
                        version: sequence,
                        events,
                        state: next.clone(),
                    }));
                    state = next;
                }
            }
        }
        Ok(Decided {
            outcomes,
            state,
            sequence,
            rows,
        })
    }

    /// Brings `cached` up to date with whatever was appended after the sequence it reflects.
    async fn catch_up(&self, id: &str, cached: Option<Cached<A>>) -> Result<Cached<A>, BatchError> {
        let mut current = cached.unwrap_or(Cached {
            aggregate: A::default(),
            sequence: 0,
        });
        let newer = self
            .repo
            .get_last_events::<A>(id, current.sequence)
            .await
            .map_err(|e| BatchError::Store(e.to_string()))?;
        for serialized in newer {
            let envelope = EventEnvelope::<A>::try_from(serialized)
                .map_err(|e| BatchError::Store(e.to_string()))?;
            current.sequence = envelope.sequence;
            current.aggregate.apply(envelope.payload);
        }
        Ok(current)
    }
}

async fn append(
    pool: &PgPool,
    aggregate_type: &str,
    id: &str,
    rows: &EventRows,
) -> Result<(), Append> {
    let result = sqlx::query(APPEND_EVENTS)
        .bind(aggregate_type)
        .bind(id)
        .bind(&rows.sequences)
        .bind(&rows.event_types)
        .bind(&rows.event_versions)
        .bind(&rows.payloads)
        .bind(&rows.metadata)
        .execute(pool)
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNIQUE_VIOLATION) => {
            Err(Append::Conflict)
        }
        Err(e) => Err(Append::Store(e.to_string())),
    }
}

fn store_error<E: std::error::Error>(error: AggregateError<E>) -> CommandError<E> {
    CommandError::Store(error.to_string())
}
