//! Prints a summary of an OLX export: `cargo run -p coursetasks-olx --example olx_dump -- PATH`.

use coursetasks_olx::{CourseSource, read_course};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: olx_dump PATH (folder or .tar.gz)");
        std::process::exit(2);
    };
    match read_course(&CourseSource::path(path)) {
        Ok(course) => {
            println!("{} {:?}", course.key, course.display_name);
            for (ty, n) in course.block_counts() {
                println!("  {ty}: {n}");
            }
            for problem in course.problems() {
                println!(
                    "  {} parent={} weight={:?} max_attempts={:?} graded={:?} format={:?} showanswer={:?}",
                    problem.usage_key,
                    problem.parent.as_deref().unwrap_or("-"),
                    problem.settings.weight,
                    problem.settings.max_attempts,
                    problem.settings.graded,
                    problem.settings.format,
                    problem.settings.showanswer,
                );
            }
            for warning in &course.warnings {
                println!("warning: {warning}");
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
