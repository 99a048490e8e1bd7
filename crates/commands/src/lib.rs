//! Gavel's write side.
//!
//! [`CommandBus`] runs a command against one aggregate and appends the resulting events to the
//! PostgreSQL event store (postgres-es, plain event-store mode), returning the aggregate's new
//! version. Two things make it fit for a busy auction:
//!
//! - **No replay per command.** Each aggregate's state is cached with the sequence it reflects;
//!   a command first reads only the events appended after that sequence (by any process), so its
//!   cost does not grow with the length of the stream. cqrs-es 0.5.0's snapshot modes are not used:
//!   they apply new events twice before saving a snapshot.
//! - **No conflicts surfaced.** Commands on one aggregate queue behind a per-aggregate lock inside
//!   the process, and an optimistic-concurrency conflict with another process is retried with
//!   jittered backoff, up to [`RetryPolicy::max_attempts`]. Only a business rejection, or
//!   exhausting that bound, reaches the caller.

mod bus;
mod context;

pub use bus::{Accepted, CommandBus, CommandError, RetryPolicy};
pub use context::CommandContext;
