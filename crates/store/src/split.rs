//! The key ranges a task is split into, the same for every driver.

use crate::error::StoreError;

/// The ranges of a split, `(index, after_id, until_id)`: `(0, p0]`, `(p0, p1]`, ...,
/// `(p_last, i64::MAX]`. Points must be positive and strictly increasing; indexes stay within
/// `i32` so that every driver can store them.
pub(crate) fn subtask_ranges(
    context: &'static str,
    points: &[i64],
) -> Result<Vec<(u32, i64, i64)>, StoreError> {
    if points.first().is_some_and(|p| *p <= 0) || points.windows(2).any(|w| w[0] >= w[1]) {
        return Err(StoreError::Invalid {
            context,
            message: "split points must be positive and strictly increasing".into(),
        });
    }
    if points.len() >= i32::MAX as usize {
        return Err(StoreError::Invalid {
            context,
            message: "too many subtasks".into(),
        });
    }
    let mut after = 0;
    Ok(points
        .iter()
        .copied()
        .chain(std::iter::once(i64::MAX))
        .zip(0u32..)
        .map(|(until, index)| {
            let range = (index, after, until);
            after = until;
            range
        })
        .collect())
}
