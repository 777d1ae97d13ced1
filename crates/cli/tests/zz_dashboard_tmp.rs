//! TEMPORARY (browser-test helper): compiles tests/e2e/dashboard.rs alone; deleted after the check.
#![allow(dead_code)]
#[path = "e2e/harness.rs"]
mod harness;
#[path = "e2e/dashboard.rs"]
mod dashboard;
#[test]
fn dashboard_sqlite() {
    dashboard::dashboard_deploys_with_a_real_browser(harness::StoreKind::Sqlite)
}
#[test]
fn dashboard_postgres() {
    dashboard::dashboard_deploys_with_a_real_browser(harness::StoreKind::Postgres)
}
