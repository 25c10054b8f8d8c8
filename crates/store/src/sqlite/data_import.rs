//! Learner data imported from and exported to Open edX files: learner pages, the pre-write
//! checks, and module writes that keep Open edX's row ids.

use super::*;

/// SQL that cuts the text at span `$i` of the flat row `value` (offset at `$[$i]`, length at
/// `$[$i + 1]`) out of the text pack bound as `?2`. Flat indexes rather than nested `[off, len]`
/// pairs: an integer index is looked up without parsing a JSON path, which halved the
/// statement's cost per row.
macro_rules! flat_cut {
    ($i:literal, $j:literal) => {
        concat!(
            "CAST(substr(?2, value->>",
            $i,
            ", value->>",
            $j,
            ") AS TEXT)"
        )
    };
}

/// Inserts or replaces modules keeping their ids (see [`Backend::import_modules`]). `?1` holds
/// the rows (`import_param`), `?2` their long text. Rows of unknown learners are filtered out
/// rather than failing the statement on the foreign key; a row whose id holds another
/// (learner, block, course) is skipped by the first upsert clause's `WHERE`. Both are found
/// afterwards by `rejections`.
const IMPORT_MODULES_SQL: &str = concat!(
    "INSERT INTO learner_modules (id, learner_id, course_key, usage_key, module_type, state, \
                                  grade, max_grade, done, created, modified) \
     SELECT value->>0, value->>1, ",
    flat_cut!(2, 3),
    ", ",
    flat_cut!(4, 5),
    ", ",
    flat_cut!(6, 7),
    ", ",
    flat_cut!(8, 9),
    ", value->>10, value->>11, ",
    flat_cut!(12, 13),
    ", ",
    flat_cut!(14, 15),
    ", ",
    flat_cut!(16, 17),
    " FROM jsonb_each(?1) WHERE EXISTS (SELECT 1 FROM learners WHERE id = value->>1) \
     ON CONFLICT (id) DO UPDATE SET \
         module_type = excluded.module_type, state = excluded.state, grade = excluded.grade, \
         max_grade = excluded.max_grade, done = excluded.done, created = excluded.created, \
         modified = excluded.modified \
       WHERE learner_modules.learner_id = excluded.learner_id \
         AND learner_modules.usage_key = excluded.usage_key \
         AND learner_modules.course_key = excluded.course_key \
     ON CONFLICT (learner_id, usage_key, course_key) DO UPDATE SET \
         module_type = excluded.module_type, state = excluded.state, grade = excluded.grade, \
         max_grade = excluded.max_grade, done = excluded.done, created = excluded.created, \
         modified = excluded.modified"
);

/// The rows as one flat JSON array per module, written directly (serde has no 18-tuples, and
/// this is the hot loop of an import): `[id, learner_id, course span, usage span, type span,
/// state span, grade, max_grade, done span, created span, modified span]`, each span two
/// numbers, `null` for an absent value.
fn import_param(modules: &[ModuleRecord]) -> (String, TextPack) {
    use std::fmt::Write;
    let mut pack = TextPack::default();
    let mut json = String::with_capacity(modules.len() * 80 + 2);
    json.push('[');
    let num = |json: &mut String, v: Option<f64>| match v {
        // Display gives the shortest text that reads back as the same f64; never an exponent.
        Some(v) if v.is_finite() => {
            let _ = write!(json, "{v}");
        }
        _ => json.push_str("null"),
    };
    let span = |json: &mut String, s: Span| match s {
        (Some(off), Some(len)) => {
            let _ = write!(json, ",{off},{len}");
        }
        _ => json.push_str(",null,null"),
    };
    for (i, m) in modules.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push('[');
        if m.id != 0 {
            let _ = write!(json, "{}", m.id);
        } else {
            json.push_str("null");
        }
        let _ = write!(json, ",{}", m.learner_id);
        span(&mut json, pack.put(0, &m.course_key));
        span(&mut json, pack.put(1, &m.usage_key));
        span(&mut json, pack.put(2, &m.module_type));
        span(&mut json, pack.put_opt(3, m.state.as_deref()));
        json.push(',');
        num(&mut json, m.grade);
        json.push(',');
        num(&mut json, m.max_grade);
        span(&mut json, pack.put(4, &m.done));
        span(&mut json, pack.put(5, &ts(m.created)));
        span(&mut json, pack.put(6, &ts(m.modified)));
        json.push(']');
    }
    json.push(']');
    (json, pack)
}

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
    // Serialize before taking the write lock: the lock is held only for SQL.
    let params = modules
        .chunks(BATCH_ROWS)
        .map(|batch| {
            let (rows, pack) = import_param(batch);
            (rows, pack.buf)
        })
        .collect::<Vec<_>>();
    let mut tx = backend.write_tx(C).await?;
    for (i, (rows, text)) in params.into_iter().enumerate() {
        let batch = &modules[i * BATCH_ROWS..modules.len().min((i + 1) * BATCH_ROWS)];
        let written = sqlx::query(IMPORT_MODULES_SQL)
            .bind(rows)
            .bind(text)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(C))?
            .rows_affected();
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
