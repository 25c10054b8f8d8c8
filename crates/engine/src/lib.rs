//! Runs bulk tasks: claim, stream modules in chunks, apply, commit.
