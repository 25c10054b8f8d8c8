//! Grading throughput on the shared benchmark problem (`bench_support`): two dropdowns, a
//! numerical response answered with expressions, and a case-insensitive string response.
//!
//! Baselines in the same run: parsing the same answers from JSON with serde_json, and plain string
//! equality over the four answers. Criterion reports time per problem grade; with `Throughput`
//! set to the input count it also reports input gradings per second.

use coursetasks_capa::Problem;
use coursetasks_capa::bench_support::{
    BENCH_INPUTS, BENCH_PROBLEM_ID, bench_answers, bench_problem_xml,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn grading(c: &mut Criterion) {
    let problem =
        Problem::compile(bench_problem_xml(), BENCH_PROBLEM_ID).expect("bench problem compiles");
    let answers = bench_answers(64);
    let json: Vec<String> = answers
        .iter()
        .map(|a| serde_json::to_string(a).unwrap())
        .collect();
    let expected = ["Mercury", "Argon", "2*pi/3", "Paris"];

    let mut g = c.benchmark_group("capa");
    g.throughput(Throughput::Elements(BENCH_INPUTS as u64));
    let mut i = 0;
    g.bench_function("grade_problem", |b| {
        b.iter(|| {
            i = (i + 1) % answers.len();
            black_box(problem.grade(black_box(&answers[i]), 1).unwrap())
        })
    });
    g.bench_function("baseline_serde_json_parse_answers", |b| {
        b.iter(|| {
            i = (i + 1) % json.len();
            black_box(
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(black_box(
                    &json[i],
                ))
                .unwrap(),
            )
        })
    });
    g.bench_function("baseline_string_equality", |b| {
        b.iter(|| {
            i = (i + 1) % answers.len();
            let a = black_box(&answers[i]);
            black_box(
                a.values()
                    .zip(expected)
                    .filter(|(v, e)| v.as_str() == Some(*e))
                    .count(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, grading);
criterion_main!(benches);
