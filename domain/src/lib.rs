//! Gavel's marketplace rules, free of I/O.
//!
//! Aggregates, commands, events and money live here, so that every rule can be found by its name
//! and tested without a database, a broker or an async runtime. Nothing in this crate depends on
//! another Gavel crate.
