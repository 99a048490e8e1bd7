//! Gavel end to end, against the real local stack.
//!
//! One test binary holds every end-to-end test, one module per subject: each binary would link
//! the whole of Gavel again, so one keeps the build small and its linking short.

mod api;
mod auctions;
mod bench_smoke;
mod cli;
mod command_bus;
mod crash_recovery;
mod event_store;
mod hot_auction;
mod kafka;
mod projector;
mod purchases;
mod read_store;
mod readiness;
mod rebuild;
mod relay;
mod scheduler;
mod search;
