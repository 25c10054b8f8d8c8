//! Learner data imported from and exported to Open edX files: learner pages, the pre-write
//! checks, and module writes that keep Open edX's row ids.

use super::*;

/// The identity sequence of `learner_modules.id` (PostgreSQL names it after table and column).
/// Named literally so that `nextval` takes a constant, resolved once per statement.
macro_rules! module_id_seq {
    () => {
        "'learner_modules_id_seq'"
    };
}

/// Raises the module id sequence to at least `$1` (never lowers it), so that ids the store
/// assigns later stay above every imported id, as SQLite's AUTOINCREMENT does. `nextval` rather
/// than reading `last_value`: it is atomic with respect to concurrent inserters, and the one id
/// it uses up is a gap, which ids may have.
const RAISE_SEQUENCE_SQL: &str = concat!(
    "SELECT CASE WHEN $1 > nextval(",
    module_id_seq!(),
    ") THEN setval(",
    module_id_seq!(),
    ", $1) END"
);

/// Replaces every field but the id of the stored modules that import rows (`unnest` of the
/// eleven arrays of [`bind_import`]) name by (learner, block, course), unless the row carries
/// an id that belongs to another stored module (that row is rejected, not written).
const IMPORT_UPDATE_SQL: &str = "UPDATE learner_modules m SET module_type = u.module_type, state = u.state, \
         grade = u.grade, max_grade = u.max_grade, done = u.done, created = u.created, \
         modified = u.modified \
     FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], \
                 $7::float8[], $8::float8[], $9::text[], $10::timestamptz[], \
                 $11::timestamptz[]) \
          AS u(id, learner_id, course_key, usage_key, module_type, state, grade, max_grade, \
               done, created, modified) \
     WHERE m.learner_id = u.learner_id AND m.usage_key = u.usage_key \
       AND m.course_key = u.course_key \
       AND (u.id IS NULL OR u.id = m.id \
            OR NOT EXISTS (SELECT 1 FROM learner_modules x WHERE x.id = u.id))";

/// Inserts the import rows of known learners whose (learner, block, course) is not stored,
/// with their own id or, for id 0 (NULL here), the next one. A row whose id is taken conflicts
/// and is skipped (rejected later).
const IMPORT_INSERT_SQL: &str = concat!(
    "INSERT INTO learner_modules (id, learner_id, course_key, usage_key, module_type, state, \
                                  grade, max_grade, done, created, modified) \
     SELECT COALESCE(u.id, nextval(",
    module_id_seq!(),
    ")), u.learner_id, u.course_key, u.usage_key, u.module_type, u.state, u.grade, \
            u.max_grade, u.done, u.created, u.modified \
     FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], \
                 $7::float8[], $8::float8[], $9::text[], $10::timestamptz[], \
                 $11::timestamptz[]) \
          AS u(id, learner_id, course_key, usage_key, module_type, state, grade, max_grade, \
               done, created, modified) \
     WHERE EXISTS (SELECT 1 FROM learners l WHERE l.id = u.learner_id) \
       AND NOT EXISTS (SELECT 1 FROM learner_modules m \
                       WHERE m.learner_id = u.learner_id AND m.usage_key = u.usage_key \
                         AND m.course_key = u.course_key) \
     ON CONFLICT DO NOTHING"
);

fn bind_import<'q>(query: PgQuery<'q>, modules: &[&'q ModuleRecord]) -> PgQuery<'q> {
    query
        .bind(
            modules
                .iter()
                .map(|m| (m.id != 0).then_some(m.id))
                .collect::<Vec<_>>(),
        )
        .bind(modules.iter().map(|m| m.learner_id).collect::<Vec<_>>())
        .bind(
            modules
                .iter()
                .map(|m| m.course_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            modules
                .iter()
                .map(|m| m.usage_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            modules
                .iter()
                .map(|m| m.module_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            modules
                .iter()
                .map(|m| m.state.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(modules.iter().map(|m| m.grade).collect::<Vec<_>>())
        .bind(modules.iter().map(|m| m.max_grade).collect::<Vec<_>>())
        .bind(modules.iter().map(|m| m.done.as_str()).collect::<Vec<_>>())
        .bind(modules.iter().map(|m| m.created).collect::<Vec<_>>())
        .bind(modules.iter().map(|m| m.modified).collect::<Vec<_>>())
}

/// Splits a batch into rounds in which no (learner, block, course) and no given id occurs
/// twice, keeping the order of the rows within and across rounds. The SQLite driver writes the
/// rows of an import one after the other, so a later duplicate sees (and overwrites) what an
/// earlier one wrote; one set-based statement cannot, but running the rounds in order can.
/// Exports have no duplicates, so there is almost always one round.
fn rounds(modules: &[ModuleRecord]) -> Vec<Vec<&ModuleRecord>> {
    let mut out: Vec<Vec<&ModuleRecord>> = Vec::new();
    // Last round that holds each key and each given id.
    let mut key_round: HashMap<(i64, &str, &str), usize> = HashMap::new();
    let mut id_round: HashMap<i64, usize> = HashMap::new();
    for m in modules {
        let key = (m.learner_id, m.usage_key.as_str(), m.course_key.as_str());
        let after_key = key_round.get(&key).map_or(0, |r| r + 1);
        let after_id = match m.id {
            0 => 0,
            id => id_round.get(&id).map_or(0, |r| r + 1),
        };
        // The first round after every one holding this key or id, so that duplicates keep
        // their order.
        let round = after_key.max(after_id);
        if out.len() <= round {
            out.resize_with(round + 1, Vec::new);
        }
        out[round].push(m);
        key_round.insert(key, round);
        if m.id != 0 {
            id_round.insert(m.id, round);
        }
    }
    out
}

/// The rows of `modules` that `import_modules` does not (or did not) write, with the reason.
async fn rejections(
    conn: &mut PgConnection,
    modules: &[ModuleRecord],
    offset: usize,
) -> Result<Vec<(usize, ModuleRejection)>, StoreError> {
    const C: &str = "check_modules";
    let found = sqlx::query(
        "SELECT u.ord - 1 AS idx, \
                NOT EXISTS (SELECT 1 FROM learners l WHERE l.id = u.learner_id) \
                    AS unknown_learner, \
                m.learner_id AS taken_learner, m.usage_key AS taken_usage, \
                m.course_key AS taken_course \
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) WITH ORDINALITY \
              AS u(id, learner_id, usage_key, course_key, ord) \
         LEFT JOIN learner_modules m ON m.id = u.id \
              AND NOT (m.learner_id = u.learner_id AND m.usage_key = u.usage_key \
                       AND m.course_key = u.course_key) \
         WHERE NOT EXISTS (SELECT 1 FROM learners l WHERE l.id = u.learner_id) \
            OR m.id IS NOT NULL \
         ORDER BY u.ord",
    )
    .bind(
        modules
            .iter()
            .map(|m| (m.id != 0).then_some(m.id))
            .collect::<Vec<_>>(),
    )
    .bind(modules.iter().map(|m| m.learner_id).collect::<Vec<_>>())
    .bind(
        modules
            .iter()
            .map(|m| m.usage_key.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        modules
            .iter()
            .map(|m| m.course_key.as_str())
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(StoreError::db(C))?;
    found
        .iter()
        .map(|row| {
            let index: i64 = get(row, "idx", C)?;
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
    backend: &PostgresBackend,
    modules: &[ModuleRecord],
) -> Result<Vec<(usize, ModuleRejection)>, StoreError> {
    let mut conn = backend
        .pool
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
    backend: &PostgresBackend,
    modules: &[ModuleRecord],
) -> Result<ModuleImport, StoreError> {
    const C: &str = "import_modules";
    let mut report = ModuleImport::default();
    if modules.is_empty() {
        return Ok(report);
    }
    let mut tx = backend.write_tx(C).await?;
    for (i, batch) in modules.chunks(BATCH_ROWS).enumerate() {
        if let Some(max_id) = batch.iter().map(|m| m.id).filter(|id| *id > 0).max() {
            sqlx::query(RAISE_SEQUENCE_SQL)
                .bind(max_id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(C))?;
        }
        let mut written = 0;
        for round in rounds(batch) {
            written += bind_import(sqlx::query(IMPORT_UPDATE_SQL), &round)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(C))?
                .rows_affected();
            written += bind_import(sqlx::query(IMPORT_INSERT_SQL), &round)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(C))?
                .rows_affected();
        }
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
    backend: &PostgresBackend,
    after_id: i64,
    limit: u32,
) -> Result<Vec<LearnerRecord>, StoreError> {
    let rows =
        sqlx::query("SELECT id, username, email FROM learners WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after_id)
            .bind(page_limit(limit))
            .fetch_all(&backend.pool)
            .await
            .map_err(StoreError::db("list_learners"))?;
    rows.iter().map(learner_from_row).collect()
}

pub(super) async fn check_learners(
    backend: &PostgresBackend,
    learners: &[LearnerRecord],
) -> Result<Vec<LearnerConflict>, StoreError> {
    const C: &str = "check_learners";
    let mut out = Vec::new();
    for (i, batch) in learners.chunks(BATCH_ROWS).enumerate() {
        // Two joins rather than one with OR, so that each uses its unique index.
        let found = sqlx::query(
            "WITH j AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) \
                        WITH ORDINALITY AS j(id, username, email, ord)) \
             SELECT j.ord - 1 AS idx, 'username' AS col, l.id AS other \
               FROM j JOIN learners l ON l.username = j.username WHERE l.id <> j.id \
             UNION ALL \
             SELECT j.ord - 1, 'email', l.id \
               FROM j JOIN learners l ON l.email = j.email WHERE l.id <> j.id \
             ORDER BY 1, 2 DESC",
        )
        .bind(batch.iter().map(|l| l.id).collect::<Vec<_>>())
        .bind(
            batch
                .iter()
                .map(|l| l.username.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(batch.iter().map(|l| l.email.as_str()).collect::<Vec<_>>())
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn module(id: i64, learner_id: i64, block: &str) -> ModuleRecord {
        ModuleRecord {
            id,
            learner_id,
            username: String::new(),
            course_key: "c".into(),
            usage_key: block.into(),
            module_type: "problem".into(),
            state: None,
            grade: None,
            max_grade: None,
            done: "na".into(),
            created: Utc::now(),
            modified: Utc::now(),
        }
    }

    #[test]
    fn rounds_separate_duplicates_in_order() {
        let rows = vec![
            module(1, 7, "a"),
            module(0, 7, "b"),
            module(2, 7, "a"), // same key as row 0
            module(1, 8, "c"), // same id as row 0
            module(0, 7, "a"), // same key as rows 0 and 2
            module(0, 9, "z"),
        ];
        let ids = |round: &Vec<&ModuleRecord>| -> Vec<(i64, i64, String)> {
            round
                .iter()
                .map(|m| (m.id, m.learner_id, m.usage_key.clone()))
                .collect()
        };
        let got: Vec<_> = rounds(&rows).iter().map(ids).collect();
        assert_eq!(
            got,
            vec![
                vec![(1, 7, "a".into()), (0, 7, "b".into()), (0, 9, "z".into())],
                vec![(2, 7, "a".into()), (1, 8, "c".into())],
                vec![(0, 7, "a".into())],
            ]
        );
    }
}
