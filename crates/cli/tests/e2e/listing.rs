//! The deployment list in pages, end to end: `GET /api/deployments` with `limit`, `after`,
//! `Link` and `X-Total-Count` on the real binary, `catwalk ls` walking every page, and the
//! dashboard's "Show more" and refresh in chromium (`tests/browser/paging.mjs`). Five
//! deployments of the dependency-free fixture server, in pages of two, make three pages.

use std::process::Command;

use serde_json::Value;

use crate::harness::{self, Catwalk, StoreKind};
use crate::supervision::misbehaving_server;

const NAMES: [&str; 5] = ["list-1", "list-2", "list-3", "list-4", "list-5"];

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

pub fn the_list_comes_in_pages_to_the_api_the_cli_and_the_dashboard(kind: StoreKind) {
    let catwalk = Catwalk::start(kind);
    // Deployed out of name order.
    for name in NAMES.iter().rev() {
        catwalk.deploy(&misbehaving_server(), name, &[]);
    }
    let admin = catwalk.admin_token();
    let http = reqwest::blocking::Client::new();
    let get = |url: &str| {
        let response = http.get(url).bearer_auth(&admin).send().unwrap();
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let (total, link) = (header("x-total-count"), header("link"));
        (status, total, link, response.json::<Value>().unwrap())
    };

    // The API: a page, the total, and a link to the next page under the public URL, which is
    // where following the links ends up with every deployment once.
    let (status, total, link, page) = get(&format!("{}/api/deployments?limit=2", catwalk.url));
    assert_eq!(status, 200, "{page}");
    assert_eq!(names(&page), NAMES[..2]);
    assert_eq!(total.as_deref(), Some("5"));
    assert_eq!(
        link.as_deref(),
        Some(
            format!(
                "<{}/api/deployments?after=list-2&limit=2>; rel=\"next\"",
                catwalk.url
            )
            .as_str()
        )
    );
    let mut walked = Vec::new();
    let mut next = Some(format!("{}/api/deployments?limit=2", catwalk.url));
    let mut pages = 0;
    while let Some(url) = next {
        let (status, _, link, page) = get(&url);
        assert_eq!(status, 200, "{url}: {page}");
        walked.extend(names(&page));
        pages += 1;
        next = link.map(|link| {
            link.strip_prefix('<')
                .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                .unwrap_or_else(|| panic!("{link}"))
                .to_string()
        });
    }
    assert_eq!((walked, pages), (NAMES.map(String::from).to_vec(), 3));
    let (status, _, _, error) = get(&format!("{}/api/deployments?limit=0", catwalk.url));
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "bad_request", "{error}");

    // The CLI lists everything whatever the page size, as one JSON array or one table.
    for page_size in ["1", "2", "1000"] {
        let listed = catwalk.cli_json(&["ls", "--page-size", page_size]);
        assert_eq!(names(&listed), NAMES, "--page-size {page_size}");
    }
    let table = catwalk.cli(&["ls", "--page-size", "2"]);
    assert!(table.status.success(), "{table:?}");
    let table = String::from_utf8(table.stdout).unwrap();
    let rows: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(rows, NAMES, "{table}");
    let running = catwalk.cli_json(&["ls", "--status", "running", "--page-size", "2"]);
    assert_eq!(names(&running), NAMES);
    let stopped = catwalk.cli_json(&["ls", "--status", "stopped"]);
    assert_eq!(names(&stopped), Vec::<String>::new());
    let refused = catwalk.cli(&["ls", "--page-size", "0"]);
    assert!(!refused.status.success(), "--page-size 0 was accepted");

    // The dashboard, in pages of two.
    let answer = run_paging_script(&catwalk, &admin, kind);
    let shown = &answer["shown"];
    assert_eq!(answer["all"], serde_json::json!(NAMES), "{answer}");
    assert_eq!(shown["first"]["count"], "2 of 5", "{shown}");
    // "Show more" asks for the next page only (beside it, the 5 s refresh may have come by,
    // asking for the pages shown).
    let requests: Vec<&str> = shown["moreRequests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let (more, refreshes): (Vec<&str>, Vec<&str>) =
        requests.into_iter().partition(|r| r.contains("after="));
    assert_eq!(more, ["limit=2&after=list-2"], "{shown}");
    assert!(
        refreshes.iter().all(|r| ["limit=2", "limit=4"].contains(r)),
        "{shown}"
    );
    assert_eq!(shown["second"]["count"], "4 of 5", "{shown}");
    // The refresh loads the two pages shown, in one request, and not the third.
    assert_eq!(
        shown["refreshRequests"],
        serde_json::json!(["limit=4"]),
        "{shown}"
    );
    assert_eq!(
        shown["afterRefresh"]["names"],
        serde_json::json!(NAMES[..4]),
        "{shown}"
    );
    assert_eq!(shown["afterRefresh"]["more"], true, "{shown}");
    assert_eq!(shown["third"]["count"], "5 deployments", "{shown}");
    assert_eq!(shown["third"]["more"], false, "{shown}");
    assert_eq!(shown["afterRemoval"]["count"], "4 deployments", "{shown}");
    let (_, total, link, _) = get(&format!("{}/api/deployments", catwalk.url));
    assert_eq!((total.as_deref(), link), (Some("4"), None));
}

/// Runs `tests/browser/paging.mjs` and returns its JSON line, which must say `ok`.
fn run_paging_script(catwalk: &Catwalk, admin: &str, kind: StoreKind) -> Value {
    let folder = harness::repo().join("tests/browser");
    assert!(
        folder.join("node_modules/playwright-core").is_dir(),
        "tests/browser has no node_modules: run `npm ci` in tests/browser \
         (and `apt-get install -y chromium`)"
    );
    let screenshots = harness::repo().join("target/e2e-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let screenshot = screenshots.join(format!("paging-{kind:?}.png").to_lowercase());
    let output = Command::new("node")
        .current_dir(&folder)
        .arg(folder.join("paging.mjs"))
        .args(["--url", &catwalk.url, "--token", admin, "--page-size", "2"])
        .args(["--remove", "list-1", "--screenshot"])
        .arg(&screenshot)
        .output()
        .expect("node runs (Node.js is needed for the browser test)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let answer = crate::harness::verdict_of("paging.mjs", &output);
    assert_eq!(
        answer["ok"],
        true,
        "the paging test failed: {answer}\n--- paging.mjs stderr ---\n{stderr}\n--- server log ---\n{}",
        catwalk.server_log()
    );
    assert!(output.status.success(), "{answer}");
    answer
}
