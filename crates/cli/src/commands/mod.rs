//! One module per group of subcommands.

pub mod bench;
pub mod demo;
pub mod engine;
pub mod tasks;
