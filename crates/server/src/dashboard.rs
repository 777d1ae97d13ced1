//! The dashboard: one self-contained page that drives the REST API from the browser.

use axum::response::Html;

const PAGE: &str = include_str!("../assets/index.html");

pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}
