//! Learner data imported from and exported to Open edX files: learner pages, the pre-write
//! checks, and module writes that keep Open edX's row ids.

use super::*;

/// The rows of `modules` that `import_modules` does not (or did not) write, with the reason.
async fn rejections(
    conn: &mut SqliteConnection,
    modules: &[ModuleRecord],
    offset: usize,
) -> Result<Vec<(usize, ModuleRejection)>, StoreError> {
    const C: &str = "check_modules";
    let rows: Vec<_> = modules
        .iter()
        .map(|m| {
            (
                (m.id != 0).then_some(m.id),
                m.learner_id,
                &m.usage_key,
                &m.course_key,
            )
        })
        .collect();
    let found = sqlx::query(
        "SELECT key, \
                NOT EXISTS (SELECT 1 FROM learners WHERE id = value->>1) AS unknown_learner, \
                m.learner_id AS taken_learner, m.usage_key AS taken_usage, \
                m.course_key AS taken_course \
         FROM jsonb_each(?1) \
         LEFT JOIN learner_modules m ON m.id = value->>0 \
              AND NOT (m.learner_id = value->>1 AND m.usage_key = value->>2 \
                       AND m.course_key = value->>3) \
         WHERE unknown_learner OR m.id IS NOT NULL \
         ORDER BY key",
    )
    .bind(json_param(C, &rows)?)
    .fetch_all(&mut *conn)
    .await
    .map_err(StoreError::db(C))?;
    found
        .iter()
        .map(|row| {
            let index: i64 = get(row, "key", C)?;
            let unknown: bool = get(row, "unknown_learner", C)?;
            let rejection = if unknown {
                ModuleRejection::UnknownLearner
            } else {
                ModuleRejection::IdTaken {
                    learner_id: get(row, "taken_learner", C)?,
                    usage_key: get(row, "taken_usage", C)?,
                    course_key: get(row, "taken_course", C)?,
                }
            };
            Ok((offset + usize::try_from(index).unwrap_or(0), rejection))
        })
        .collect()
}

pub(super) async fn check_modules(
    pool: &SqlitePool,
    modules: &[ModuleRecord],
) -> Result<Vec<(usize, ModuleRejection)>, StoreError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(StoreError::db("check_modules"))?;
    let mut out = Vec::new();
    for (i, batch) in modules.chunks(BATCH_ROWS).enumerate() {
        out.extend(rejections(&mut conn, batch, i * BATCH_ROWS).await?);
    }
    Ok(out)
}

pub(super) async fn import_modules(
    backend: &SqliteBackend,
    modules: &[ModuleRecord],
) -> Result<ModuleImport, StoreError> {
    const C: &str = "import_modules";
    let mut report = ModuleImport::default();
    if modules.is_empty() {
        return Ok(report);
    }
    let (_turn, mut tx) = backend.write_tx(C).await?;
    for (i, batch) in modules.chunks(BATCH_ROWS).enumerate() {
        let written = direct::run(&mut tx, C, |conn| direct::import_modules(conn, batch)).await?;
        report.written += written;
        // Every row either writes one row or is skipped, so a short count means rejections.
        if written < batch.len() as u64 {
            report
                .rejected
                .extend(rejections(&mut tx, batch, i * BATCH_ROWS).await?);
        }
    }
    tx.commit().await.map_err(StoreError::db(C))?;
    Ok(report)
}

pub(super) async fn list_learners(
    backend: &SqliteBackend,
    after_id: i64,
    limit: u32,
) -> Result<Vec<LearnerRecord>, StoreError> {
    let rows =
        sqlx::query("SELECT id, username, email FROM learners WHERE id > ?1 ORDER BY id LIMIT ?2")
            .bind(after_id)
            .bind(page_limit(limit))
            .fetch_all(&backend.pool)
            .await
            .map_err(StoreError::db("list_learners"))?;
    rows.iter().map(learner_from_row).collect()
}

pub(super) async fn check_learners(
    backend: &SqliteBackend,
    learners: &[LearnerRecord],
) -> Result<Vec<LearnerConflict>, StoreError> {
    const C: &str = "check_learners";
    let mut out = Vec::new();
    for (i, batch) in learners.chunks(BATCH_ROWS).enumerate() {
        let rows: Vec<_> = batch
            .iter()
            .map(|l| (l.id, &l.username, &l.email))
            .collect();
        // Two joins rather than one with OR, so that each uses its unique index.
        let found = sqlx::query(
            "SELECT j.key AS idx, 'username' AS col, l.id AS other FROM jsonb_each(?1) j \
               JOIN learners l ON l.username = j.value->>1 WHERE l.id != j.value->>0 \
             UNION ALL \
             SELECT j.key, 'email', l.id FROM jsonb_each(?1) j \
               JOIN learners l ON l.email = j.value->>2 WHERE l.id != j.value->>0 \
             ORDER BY 1, 2 DESC",
        )
        .bind(json_param(C, &rows)?)
        .fetch_all(&backend.pool)
        .await
        .map_err(StoreError::db(C))?;
        for row in &found {
            let index: i64 = get(row, "idx", C)?;
            out.push(LearnerConflict {
                index: i * BATCH_ROWS + usize::try_from(index).unwrap_or(0),
                column: get(row, "col", C)?,
                other_id: get(row, "other", C)?,
            });
        }
    }
    Ok(out)
}
