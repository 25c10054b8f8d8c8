//! The behaviour suite on temporary SQLite files, plus what only the SQLite driver has: file
//! locations and several processes (stores) on one file.

mod suite;

use coursetasks_store::*;
use std::time::Duration;

async fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(store.backend_name(), "sqlite");
    (dir, store)
}

macro_rules! sqlite_suite {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_dir, store) = fresh().await;
                suite::$name(&store).await;
            }
        )*
    };
}

for_each_suite_test!(sqlite_suite);

#[tokio::test]
async fn reopen_keeps_data_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reopen.db");
    let location = path.to_str().unwrap().to_string();
    let id = {
        let store = Store::open(&location).await.unwrap();
        store.submit_task(&suite::new_task("k")).await.unwrap().id
    };
    // Re-open by URL; migrations are already applied and must be a no-op.
    for loc in [
        format!("sqlite://{location}"),
        format!("sqlite:{location}"),
        location.clone(),
    ] {
        let store = Store::open(&loc).await.unwrap();
        assert_eq!(store.get_task(id).await.unwrap().unwrap().task_key, "k");
    }
}

#[tokio::test]
async fn in_memory_store_works() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    suite::dedup_refuses_identical_active_task(&store).await;
}

#[tokio::test]
async fn bad_locations_say_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/x.db");
    let err = Store::open(missing.to_str().unwrap()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::BadLocation { .. }), "{text}");
    assert!(
        text.contains("does not exist") && text.contains("no/such/dir"),
        "{text}"
    );

    let err = Store::open(dir.path().to_str().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a directory"), "{err}");

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 8192]).unwrap();
    let err = Store::open(junk.to_str().unwrap()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::BadLocation { .. }), "{text}");
    assert!(
        text.contains("not a SQLite database") && text.contains("junk.db"),
        "{text}"
    );

    let file = dir.path().join("plain");
    std::fs::write(&file, b"").unwrap();
    let under_file = file.join("x.db");
    let err = Store::open(under_file.to_str().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a directory"), "{err}");

    assert!(
        Store::open("")
            .await
            .unwrap_err()
            .to_string()
            .contains("no location")
    );
    let err = Store::open("postgres://localhost/test")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("PostgreSQL"), "{err}");
}

/// Two stores on one file behave like two processes (each has its own connection pool).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let location = path.to_str().unwrap().to_string();
    let (a, b) = tokio::join!(Store::open(&location), Store::open(&location));
    let (a, b) = (a.unwrap(), b.unwrap());

    // Concurrent identical submissions from both: exactly one wins.
    let mut handles = Vec::new();
    for i in 0..10 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        handles.push(tokio::spawn(async move {
            store.submit_task(&suite::new_task("same")).await
        }));
    }
    let mut wins = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => wins += 1,
            Err(SubmitError::AlreadyRunning { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(wins, 1);

    // Claims from both never overlap.
    for i in 0..20 {
        a.submit_task(&suite::new_task(&format!("t{i}")))
            .await
            .unwrap();
    }
    let claimers: Vec<_> = [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, store)| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(t) = store
                    .claim_task(&format!("p{n}"), Duration::from_secs(60))
                    .await
                    .unwrap()
                {
                    got.push(t.id);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for c in claimers {
        all.extend(c.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (21, 21));
}
