//! The instructor bulk-task engine: operations, runner, progress and status messages.
