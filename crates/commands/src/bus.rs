//! Running commands with cached state, per-aggregate queuing and conflict retries.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventRepository, PersistedEventStore};
use cqrs_es::{Aggregate, AggregateError, EventEnvelope, EventStore};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;
use tokio::sync::Mutex;

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

/// The cached state of one aggregate and the sequence it reflects.
struct Cached<A> {
    aggregate: A,
    sequence: usize,
}

type Slot<A> = Arc<Mutex<Option<Cached<A>>>>;

/// Runs commands of aggregate type `A` against the event store.
pub struct CommandBus<A: Aggregate> {
    repo: PostgresEventRepository,
    store: PersistedEventStore<PostgresEventRepository, A>,
    services: A::Services,
    slots: moka::sync::Cache<String, Slot<A>>,
    retry: RetryPolicy,
}

impl<A> CommandBus<A>
where
    A: Aggregate + Clone + 'static,
    A::Command: Clone,
{
    /// A bus on `pool` with `services` for the aggregate, caching up to `capacity` aggregates.
    pub fn new(pool: PgPool, services: A::Services, capacity: u64, retry: RetryPolicy) -> Self {
        Self {
            repo: PostgresEventRepository::new(pool.clone()),
            store: PersistedEventStore::new_event_store(PostgresEventRepository::new(pool)),
            services,
            slots: moka::sync::Cache::new(capacity),
            retry,
        }
    }

    /// Runs `command` against aggregate `id`, appending its events with `context` as metadata.
    pub async fn execute(
        &self,
        id: &str,
        command: A::Command,
        context: &CommandContext,
    ) -> Result<Accepted<A>, CommandError<A::Error>> {
        let slot = self.slots.get_with_by_ref(id, Default::default);
        let mut cached = slot.lock().await;
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.retry.first_delay)
            .with_max_delay(self.retry.max_delay)
            .with_jitter()
            .without_max_times()
            .build();
        // The cached state is trusted for the first try: if another process appended meanwhile,
        // the commit's sequence collides and the conflict brings the cache up to date. Only an
        // answer that writes nothing (a rejection, a no-op) is first checked against the store,
        // so that no client is refused on stale state.
        let (mut current, mut verified) = match cached.take() {
            Some(current) => (current, false),
            None => (self.catch_up(id, None).await?, true),
        };
        for attempt in 1..=self.retry.max_attempts {
            let mut next = current.aggregate.clone();
            let sink = EventSink::default();
            let handled = next.handle(command.clone(), &self.services, &sink).await;
            let events = sink.collect().await;
            if handled.is_err() || events.is_empty() {
                if !verified {
                    let before = current.sequence;
                    current = self.catch_up(id, Some(current)).await?;
                    verified = true;
                    if current.sequence != before {
                        continue;
                    }
                }
                let version = current.sequence;
                *cached = Some(current);
                return match handled {
                    Err(rejection) => Err(CommandError::Rejected(rejection)),
                    Ok(()) => Ok(Accepted {
                        version,
                        events,
                        state: next,
                    }),
                };
            }
            let context_for_commit = EventStoreAggregateContext {
                aggregate_id: id.to_string(),
                aggregate: next.clone(),
                current_sequence: current.sequence,
                current_snapshot: None,
            };
            match self
                .store
                .commit(events.clone(), context_for_commit, context.to_metadata())
                .await
            {
                Ok(committed) => {
                    let version = current.sequence + committed.len();
                    *cached = Some(Cached {
                        aggregate: next.clone(),
                        sequence: version,
                    });
                    return Ok(Accepted {
                        version,
                        events,
                        state: next,
                    });
                }
                Err(AggregateError::AggregateConflict) => {
                    // Another process appended first: read its events and try again.
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
                Err(e) => return Err(CommandError::Store(e.to_string())),
            }
        }
        Err(CommandError::Contended {
            attempts: self.retry.max_attempts,
        })
    }

    /// The aggregate's current state and version, from its cached state brought up to date: what
    /// a command arriving now would be checked against.
    pub async fn current(&self, id: &str) -> Result<(A, usize), CommandError<A::Error>> {
        let slot = self.slots.get_with_by_ref(id, Default::default);
        let mut cached = slot.lock().await;
        let current = self.catch_up(id, cached.take()).await?;
        let answer = (current.aggregate.clone(), current.sequence);
        *cached = Some(current);
        Ok(answer)
    }

    /// The aggregate's current state and version, rebuilt from every stored event (no cache), as
    /// an auditor would.
    pub async fn replay(&self, id: &str) -> Result<(A, usize), CommandError<A::Error>> {
        let events = self.store.load_events(id).await.map_err(store_error)?;
        let version = events.last().map_or(0, |e| e.sequence);
        let mut aggregate = A::default();
        for envelope in events {
            aggregate.apply(envelope.payload);
        }
        Ok((aggregate, version))
    }

    /// Brings `cached` up to date with whatever was appended after the sequence it reflects.
    async fn catch_up(
        &self,
        id: &str,
        cached: Option<Cached<A>>,
    ) -> Result<Cached<A>, CommandError<A::Error>> {
        let mut current = cached.unwrap_or(Cached {
            aggregate: A::default(),
            sequence: 0,
        });
        let newer = self
            .repo
            .get_last_events::<A>(id, current.sequence)
            .await
            .map_err(|e| CommandError::Store(e.to_string()))?;
        for serialized in newer {
            let envelope = EventEnvelope::<A>::try_from(serialized)
                .map_err(|e| CommandError::Store(e.to_string()))?;
            current.sequence = envelope.sequence;
            current.aggregate.apply(envelope.payload);
        }
        Ok(current)
    }
}

fn store_error<E: std::error::Error>(error: AggregateError<E>) -> CommandError<E> {
    CommandError::Store(error.to_string())
}
