//! What learners typed into each sample problem, with how often.
//!
//! The answers mix right answers in several spellings (expressions such as
//! `9.81*2`, different letter case, additional answers), typical mistakes,
//! and a few answers capa cannot interpret at all (`19,62`, `mv^2/2`), which
//! is what makes some rescores fail with a student-input reason.

/// One answer for one input.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer {
    /// Text, dropdown and radio inputs store a string.
    Text(&'static str),
    /// Checkbox inputs store a list of choice names.
    Choices(&'static [&'static str]),
}

/// The answers seen for one input, with relative frequencies.
#[derive(Debug)]
pub(crate) struct InputAnswers {
    /// The input id without the problem's html id, e.g. `_2_1`.
    pub suffix: &'static str,
    /// `(answer, weight)`.
    pub answers: &'static [(Answer, u32)],
}

/// A verdict written by hand, for a problem this engine cannot grade (it
/// needs Python): `(answer, weight, correct, feedback message)`.
pub(crate) type HandGraded = (&'static str, u32, bool, &'static str);

/// How learners answered one sample problem.
#[derive(Debug)]
pub(crate) struct ProblemAnswers {
    /// The problem's url_name in the sample course.
    pub url_name: &'static str,
    /// Per input; learners pick each input's answer independently.
    pub inputs: &'static [InputAnswers],
    /// For the Python-graded problem: answers with the verdicts its script
    /// gives (single input `_2_1`).
    pub hand_graded: &'static [HandGraded],
    /// Share of learners who submit the problem (per thousand).
    pub submit_per_mille: u32,
}

use Answer::{Choices, Text};

/// Every sample-course problem, in course order.
pub(crate) const SAMPLE_ANSWERS: &[ProblemAnswers] = &[
    ProblemAnswers {
        url_name: "units_mc",
        inputs: &[InputAnswers {
            suffix: "_2_1",
            answers: &[
                (Text("choice_1"), 62),
                (Text("choice_0"), 18),
                (Text("choice_2"), 8),
                (Text("choice_3"), 12),
            ],
        }],
        hand_graded: &[],
        submit_per_mille: 850,
    },
    ProblemAnswers {
        url_name: "si_prefix_checkbox",
        inputs: &[InputAnswers {
            suffix: "_2_1",
            answers: &[
                (Choices(&["choice_0", "choice_2", "choice_4"]), 45),
                (Choices(&["choice_0", "choice_2"]), 15),
                (Choices(&["choice_0", "choice_4"]), 8),
                (Choices(&["choice_2", "choice_4"]), 6),
                (
                    Choices(&["choice_0", "choice_1", "choice_2", "choice_4"]),
                    8,
                ),
                (
                    Choices(&["choice_0", "choice_2", "choice_3", "choice_4"]),
                    5,
                ),
                (Choices(&["choice_0"]), 6),
                (Choices(&["choice_1", "choice_3"]), 3),
                (
                    Choices(&["choice_0", "choice_1", "choice_2", "choice_3", "choice_4"]),
                    4,
                ),
            ],
        }],
        hand_graded: &[],
        submit_per_mille: 820,
    },
    ProblemAnswers {
        url_name: "instrument_dropdown",
        inputs: &[
            InputAnswers {
                suffix: "_2_1",
                answers: &[
                    (Text("kitchen scale"), 75),
                    (Text("ruler"), 8),
                    (Text("thermometer"), 5),
                    (Text("stopwatch"), 12),
                ],
            },
            InputAnswers {
                suffix: "_3_1",
                answers: &[
                    (Text("stopwatch"), 80),
                    (Text("ruler"), 10),
                    (Text("kitchen scale"), 5),
                    (Text("thermometer"), 5),
                ],
            },
        ],
        hand_graded: &[],
        submit_per_mille: 800,
    },
    ProblemAnswers {
        url_name: "free_fall_numerical",
        inputs: &[InputAnswers {
            suffix: "_2_1",
            answers: &[
                (Text("19.62"), 40),
                (Text("9.81*2"), 14),
                (Text("2*9.81"), 5),
                (Text("19.6"), 10),
                (Text("19.5"), 6),
                (Text("sqrt(2*9.81*19.62)"), 2),
                (Text("20"), 5),
                (Text("9.81"), 8),
                (Text("39.24"), 5),
                (Text("4.9"), 3),
                (Text("19,62"), 2),
            ],
        }],
        hand_graded: &[],
        submit_per_mille: 780,
    },
    ProblemAnswers {
        url_name: "circle_area",
        inputs: &[InputAnswers {
            suffix: "_2_1",
            answers: &[
                (Text("3.14"), 38),
                (Text("pi"), 12),
                (Text("3.1416"), 10),
                (Text("3.14159"), 6),
                (Text("pi*1^2"), 5),
                (Text("3.41"), 6),
                (Text("6.28"), 8),
                (Text("3.1"), 6),
                (Text("3"), 5),
                (Text("3,14"), 3),
            ],
        }],
        hand_graded: &[],
        submit_per_mille: 760,
    },
    ProblemAnswers {
        url_name: "force_unit_string",
        inputs: &[InputAnswers {
            suffix: "_2_1",
            answers: &[
                (Text("newton"), 35),
                (Text("Newton"), 20),
                (Text("NEWTON"), 4),
                (Text("newtons"), 8),
                (Text("N"), 10),
                (Text("n"), 2),
                (Text(" newton "), 2),
                (Text("joule"), 8),
                (Text("kg*m/s^2"), 5),
                (Text("Newtown"), 3),
                (Text("pascal"), 3),
            ],
        }],
        hand_graded: &[],
        submit_per_mille: 740,
    },
    ProblemAnswers {
        url_name: "kinetic_energy_formula",
        inputs: &[InputAnswers {
            suffix: "_2_1",
            answers: &[
                (Text("m*v^2/2"), 30),
                (Text("0.5*m*v^2"), 18),
                (Text("1/2*m*v^2"), 12),
                (Text("(m*v^2)/2"), 5),
                (Text("M*V^2/2"), 4),
                (Text("m*v^2"), 12),
                (Text("m*v"), 6),
                (Text("1/2*m*v"), 4),
                (Text("mv^2/2"), 3),
                (Text("m*v^2/2+"), 2),
            ],
        }],
        hand_graded: &[],
        submit_per_mille: 720,
    },
    ProblemAnswers {
        url_name: "pendulum_custom",
        inputs: &[],
        // The script accepts answers within 0.05 s of 2π·√(1/9.81) ≈ 2.006 s.
        hand_graded: &[
            ("2.0", 30, true, ""),
            ("2.01", 20, true, ""),
            ("2", 15, true, ""),
            ("2.1", 10, false, ""),
            ("6.28", 8, false, ""),
            ("1", 7, false, ""),
            ("0.32", 5, false, ""),
            ("two", 5, false, "Please enter a number of seconds."),
        ],
        submit_per_mille: 700,
    },
];

/// The answers for a sample problem, by url_name.
pub(crate) fn for_problem(url_name: &str) -> Option<&'static ProblemAnswers> {
    SAMPLE_ANSWERS.iter().find(|p| p.url_name == url_name)
}
