//! Open edX capa problem parsing and grading.
