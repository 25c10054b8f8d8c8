//! The web dashboard in a real browser: headless Chromium, driven over WebDriver (chromedriver)
//! with `fantoccini`, against the `coursetasks serve` binary on a SQLite file seeded by
//! `coursetasks demo`. It signs in with a token from `coursetasks token create` (typing it and
//! pressing Enter), picks the course and a problem, asks for a rescore of all learners, accepts the
//! confirmation that says how many learners it affects, watches the progress bar reach 100% and
//! reads the final status message, which must be the API's Open edX message for the task.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the
//! test prints a skip notice and passes, unless `COURSETASKS_REQUIRE_BROWSER=1` (CI), where a
//! missing browser is a failure.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, coursetasks, create_token, request, serving_addr};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Learners the demo generates: enough that the rescore runs for a visible while in a debug
/// build, few enough for a loaded 2-core machine.
const LEARNERS: &str = "20000";

/// Every wait in the test ends at a deadline this far away, never after a fixed sleep.
const PATIENCE: Duration = Duration::from_secs(120);

/// `name` on `PATH`, if it is there.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// Chromium and chromedriver, or why the test cannot run (a skip notice, or a failure when
/// `COURSETASKS_REQUIRE_BROWSER=1`).
fn browser() -> Option<(PathBuf, PathBuf)> {
    let found = (on_path("chromium"), on_path("chromedriver"));
    if let (Some(chromium), Some(driver)) = found {
        return Some((chromium, driver));
    }
    let missing = "chromium and chromedriver are not both on PATH (Debian: apt-get install chromium chromium-driver)";
    if std::env::var("COURSETASKS_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("COURSETASKS_REQUIRE_BROWSER=1 but {missing}");
    }
    eprintln!("skipping browser test: {missing}");
    None
}

/// A chromedriver process (killed when dropped) and the port it listens on.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts chromedriver on a port the kernel picks (`--port=0`) and reads that port from its
    /// "started successfully on port N." line (printed without a newline, so read byte by byte).
    fn start(path: &PathBuf) -> Driver {
        let mut child = Command::new(path)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let mut stdout = child.stdout.take().expect("piped stdout");
        let marker = "started successfully on port ";
        let mut seen = String::new();
        let mut byte = [0u8; 1];
        let port = loop {
            let read = stdout.read(&mut byte).expect("read chromedriver's output");
            assert!(read > 0, "chromedriver exited before listening: {seen}");
            seen.push(byte[0] as char);
            if let Some(rest) = seen.split(marker).nth(1)
                && rest.ends_with('.')
            {
                break rest
                    .trim_end_matches('.')
                    .parse()
                    .unwrap_or_else(|e| panic!("port in {seen:?}: {e}"));
            }
        };
        // Its later output is not needed; drain it so that chromedriver never blocks on a full
        // pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session. Chromium as root needs `--no-sandbox`; `/dev/shm` is small in
/// containers, hence `--disable-dev-shm-usage`.
async fn open_browser(driver: &Driver, chromium: &PathBuf) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session in headless Chromium")
}

/// Waits until `locator` matches on the current page.
async fn find(browser: &Client, locator: Locator<'_>) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(PATIENCE)
        .for_element(locator)
        .await
        .unwrap_or_else(|e| panic!("no element {locator:?} on the page: {e}"))
}

/// Waits until the browser's path is `path` (after a form post and its redirect).
async fn wait_for_path(browser: &Client, path: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let url = browser.current_url().await.expect("current URL");
        if path(url.path()) {
            return url.path().to_owned();
        }
        assert!(Instant::now() < deadline, "still at {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An XPath string literal for `text` (the keys here never contain both quote kinds).
fn xpath_literal(text: &str) -> String {
    assert!(!text.contains('"'), "{text}");
    format!("\"{text}\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_rescore_all_learners_and_watch_it_finish() {
    let Some((chromium, chromedriver)) = browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("browser.db");
    let db = db.to_str().unwrap();
    let (code, out) = coursetasks(db, &["demo", "--learners", LEARNERS]);
    assert_eq!(code, 0, "demo: {out}");
    // The problem whose answer key the demo fixed: the one an instructor would rescore.
    let (problem, _) = coursetasks_sample::answer_key_fix();
    let admin = create_token(db, "dana", "admin", None);
    let admin = admin["token"].as_str().unwrap().to_owned();
    let (server, mut stderr) = Server::spawn(db, &[]);
    let addr = serving_addr(&mut stderr);
    // Serve's later log lines are not read; drain them so that it never blocks on the pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let (status, courses) = request(&addr, "GET", "/api/v1/courses", Some(&admin), None);
    assert_eq!(status, 200, "{courses}");
    let course = courses[0]["key"].as_str().unwrap().to_owned();
    let course_name = courses[0]["display_name"].as_str().unwrap().to_owned();
    // An instructor of that course: may rescore all learners.
    let token = create_token(db, "ines", "instructor", Some(&course));
    let token = token["token"].as_str().unwrap().to_owned();

    let driver = Driver::start(&chromedriver);
    let browser = open_browser(&driver, &chromium).await;
    let base = format!("http://{addr}");

    // Sign in with the keyboard: clicking the label focuses the token field (they are tied),
    // typing the token and pressing Enter submits the form.
    browser.goto(&format!("{base}/")).await.unwrap();
    let label = find(&browser, Locator::Css("label[for=token]")).await;
    assert_eq!(label.text().await.unwrap(), "API token");
    label.click().await.unwrap();
    let active = browser.active_element().await.unwrap();
    assert_eq!(
        active.attr("id").await.unwrap().as_deref(),
        Some("token"),
        "the label focuses the token field"
    );
    active
        .send_keys(&format!(
            "{token}{}",
            char::from(fantoccini::key::Key::Enter)
        ))
        .await
        .unwrap();
    wait_for_path(&browser, |p| p == "/courses").await;

    // The course, then the problem's row: a rescore of all learners.
    let course_link = format!("//li[code={}]/a", xpath_literal(&course));
    let link = find(&browser, Locator::XPath(&course_link)).await;
    assert_eq!(link.text().await.unwrap(), course_name);
    link.click().await.unwrap();
    let row_form = format!(
        "//form[input[@name=\"problem\" and @value={}]]",
        xpath_literal(&problem)
    );
    let form = find(&browser, Locator::XPath(&row_form)).await;
    form.find(Locator::Css("select[name=kind]"))
        .await
        .unwrap()
        .select_by_value("rescore")
        .await
        .unwrap();
    // Choosing "All learners" through its label checks that the label is tied to its radio.
    form.find(Locator::XPath(".//label[text()=\"All learners\"]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let all = form
        .find(Locator::Css("input[type=radio][value=all]"))
        .await
        .unwrap();
    assert!(
        all.is_selected().await.unwrap(),
        "the label selects its radio"
    );
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The confirmation says how many learners the task affects; accept it.
    let affected = find(&browser, Locator::Id("affected")).await;
    let affected = affected.text().await.unwrap();
    let count: u64 = affected
        .strip_prefix("This task will affect ")
        .and_then(|rest| rest.strip_suffix(" learners."))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected confirmation text {affected:?}"));
    assert!(count > 0, "{affected}");
    find(
        &browser,
        Locator::XPath("//button[text()=\"Create the task\"]"),
    )
    .await
    .click()
    .await
    .unwrap();
    let path = wait_for_path(&browser, |p| p.starts_with("/tasks/")).await;
    let id = path.trim_start_matches("/tasks/").to_owned();

    // The task page's bar follows the server-sent events to 100%; then the page reloads itself
    // to show what was made while the task ran: no cancel button any more, and the outcomes.
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    let shown = loop {
        // Fails while the page reloads: then it is read again.
        let shown = browser
            .execute(
                "var row = document.querySelector('[data-task]');\
                 function field(name) { return row.querySelector('[data-field=' + name + ']').textContent; }\
                 var tables = document.querySelectorAll('main > table'), learners = tables[tables.length - 1];\
                 var cancel = Array.from(document.querySelectorAll('button')).some(function (b) { return b.textContent === 'Cancel this task'; });\
                 return {value: row.querySelector('progress').value, percent: field('percent'),\
                         state: field('state'), counts: field('counts'), message: field('message'),\
                         cancel: cancel, reloads: row.hasAttribute('data-reload-when-done'),\
                         outcomes: learners.tBodies[0].rows.length};",
                vec![],
            )
            .await
            .unwrap_or(Value::Null);
        if let Some(value) = shown["value"].as_f64()
            && seen.last() != Some(&value)
        {
            seen.push(value);
        }
        if shown["value"].as_f64() == Some(100.0)
            && shown["state"] == "SUCCESS"
            && shown["reloads"] == false
        {
            break shown;
        }
        assert!(
            Instant::now() < deadline,
            "the task page did not reach 100% and reload (values seen: {seen:?}; now: {shown})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("progress bar values seen: {seen:?}");
    assert_eq!(shown["percent"], "100.0%", "{shown}");
    assert_eq!(
        shown["cancel"], false,
        "a finished task has no cancel button: {shown}"
    );
    assert!(
        shown["outcomes"].as_u64().unwrap() > 0,
        "the finished task's page lists its learners' outcomes: {shown}"
    );

    // The page's final message is the API's Open edX message for this task, whose total is the
    // count the confirmation stated.
    let (status, view) = request(
        &addr,
        "GET",
        &format!("/api/v1/tasks/{id}"),
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["state"], "SUCCESS", "{view}");
    assert_eq!(view["total"], count, "{view}");
    assert_eq!(view["attempted"], count, "{view}");
    let message = view["message"].as_str().unwrap();
    assert_eq!(shown["message"], message, "page {shown}, API {view}");
    assert_rescore_message(message, &view);
    assert!(
        shown["counts"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{count} / {count} (")),
        "{shown}"
    );

    browser.close().await.unwrap();
    drop(driver);
    drop(server);
}

/// Open edX's message for a finished rescore of all learners, from the task's counts: every
/// learner rescored, or some of them (the others failed, or were skipped: they never answered).
fn assert_rescore_message(message: &str, view: &Value) {
    let n = |k: &str| view[k].as_u64().unwrap();
    let mut expected = if n("succeeded") == n("attempted") {
        format!(
            "Problem successfully rescored for {} students",
            n("attempted")
        )
    } else {
        format!(
            "Problem rescored for {} of {} students",
            n("succeeded"),
            n("attempted")
        )
    };
    if n("skipped") > 0 {
        expected.push_str(&format!(" (skipping {})", n("skipped")));
    }
    assert_eq!(message, expected, "{view}");
}
