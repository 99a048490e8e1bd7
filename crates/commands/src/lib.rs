//! Gavel's write side.
//!
//! [`CommandBus`] runs a command against one aggregate and appends the resulting events to the
//! PostgreSQL event store (the table postgres-es reads, in its plain event-store mode), returning
//! the aggregate's new version. Three things make it fit for a busy auction:
//!
//! - **No replay per command.** Each aggregate's state is cached with the sequence it reflects
//!   and trusted for the next command; only when the commit collides with another process's
//!   events, or before a rejection is answered that no commit of its batch vouches for, are the
//!   events after that sequence read, so a command's cost does not grow with the length of the
//!   stream. cqrs-es 0.5.0's snapshot modes are not used: they apply new events twice before
//!   saving a snapshot.
//! - **Group commit per aggregate.** Commands for one aggregate that arrive while an earlier one
//!   is being committed wait; the next commit decides all of them in turn on the cached state and
//!   appends their events in one statement, so a hot auction pays one durable commit per batch of
//!   bids rather than per bid.
//! - **No conflicts surfaced.** An optimistic-concurrency conflict with another process (the
//!   event store's primary key) is retried with jittered backoff, up to
//!   [`RetryPolicy::max_attempts`]. Only a business rejection, or exhausting that bound, reaches
//!   the caller.

mod bus;
mod context;

pub use bus::{Accepted, CommandBus, CommandError, RetryPolicy};
pub use context::CommandContext;
