//! Measures how fast synthetic modules are generated:
//! `cargo run --release -p coursetasks-sample --example generate_speed -- [MODULES]`.

use std::time::Instant;

use coursetasks_sample::{LearnerGenerator, benchmark_modules, sample_course};

fn main() {
    let target: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);

    let started = Instant::now();
    let course = sample_course();
    let generator = LearnerGenerator::new(&course, u64::MAX / 2, 42).expect("sample course");
    let setup = started.elapsed();

    let started = Instant::now();
    let (mut modules, mut learners, mut bytes) = (0u64, 0u64, 0usize);
    for learner in generator {
        learners += 1;
        for module in learner.modules {
            modules += 1;
            bytes += module.state.len();
        }
        if modules >= target {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "course: {modules} modules for {learners} learners in {elapsed:.2}s ({:.0} modules/s, {:.0} bytes of state per module; setup {:.1} ms)",
        modules as f64 / elapsed,
        bytes as f64 / modules as f64,
        setup.as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let (mut count, mut bytes) = (0u64, 0usize);
    for (_, module) in benchmark_modules(target, 42) {
        count += 1;
        bytes += module.state.len();
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "single problem: {count} modules in {elapsed:.2}s ({:.0} modules/s, {:.0} bytes of state per module)",
        count as f64 / elapsed,
        bytes as f64 / count as f64
    );
}
