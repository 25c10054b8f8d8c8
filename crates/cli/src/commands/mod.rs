//! One module per group of subcommands.

pub mod bench;
pub mod bench_import;
pub mod bench_postgres;
pub mod bench_serve;
pub mod data;
pub mod demo;
pub mod engine;
pub mod serve;
pub mod tasks;
pub mod token;
