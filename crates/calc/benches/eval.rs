//! Parse + evaluate typical learner answers, next to a trivial baseline measured in the same run
//! (parsing a float literal with the standard library) so results can be read as ratios.

use std::hint::black_box;

use coursetasks_calc::{CaseSensitivity, Expression, Value, Variables, evaluate};
use criterion::{Criterion, criterion_group, criterion_main};

const ANSWERS: [(&str, &str); 5] = [
    ("literal", "3.14"),
    ("product", "3.14*2"),
    ("constant", "2*pi/3"),
    ("function", "sqrt(2)/2 + sin(pi/6)"),
    ("formula", "x^2 + 3*x*y - 1/(x+y)"),
];

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("calc");
    group.bench_function("baseline_str_parse_f64", |b| {
        b.iter(|| black_box("3.14").parse::<f64>().unwrap())
    });

    let mut vars = Variables::new();
    vars.insert("x", Value::Float(1.5));
    vars.insert("y", Value::Float(-0.25));
    for (name, text) in ANSWERS {
        group.bench_function(format!("evaluate/{name}"), |b| {
            b.iter(|| evaluate(black_box(text), &vars, CaseSensitivity::Insensitive).unwrap())
        });
    }
    let formula = Expression::parse(ANSWERS[4].1, CaseSensitivity::Insensitive).unwrap();
    group.bench_function("eval_parsed/formula", |b| {
        b.iter(|| black_box(&formula).eval(&vars).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = eval;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = benches
}
criterion_main!(eval);
