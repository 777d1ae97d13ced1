//! Who a `client_id` is: a client registered here (RFC 7591), or the URL of a Client ID Metadata
//! Document, fetched (with the SSRF guard of `cimd.rs`).

use serde_json::Value;

use crate::setup::App;

/// What the authorization endpoint needs to know of a client.
#[derive(Clone, Debug)]
pub struct Client {
    pub id: String,
    pub name: Option<String>,
    pub uri: Option<String>,
    pub redirect_uris: Vec<String>,
}

impl Client {
    fn from_metadata(id: &str, metadata: &Value) -> Client {
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Client {
            id: id.to_string(),
            name: text("client_name"),
            uri: text("client_uri"),
            redirect_uris: metadata
                .get("redirect_uris")
                .and_then(Value::as_array)
                .map(|uris| {
                    uris.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The registered redirect URI that `requested` matches, if any.
    pub fn redirect_matches(&self, requested: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| super::rules::redirect_uri_matches(registered, requested))
    }
}

/// Finds the client, or says (for an error page) why it cannot be used.
pub async fn find(app: &App, client_id: &str) -> Result<Client, String> {
    if client_id.is_empty() || client_id.len() > 2048 {
        return Err("the request has no valid client_id".into());
    }
    if super::cimd::is_document_url(client_id) {
        let document = app.oauth.documents.fetch(client_id).await?;
        return Ok(Client::from_metadata(client_id, &document));
    }
    match app.store.get_oauth_client(client_id).await {
        Ok(Some(client)) => {
            let metadata: Value = serde_json::from_str(&client.metadata).unwrap_or_default();
            Ok(Client::from_metadata(client_id, &metadata))
        }
        Ok(None) => Err("this client is not registered with Catwalk".into()),
        Err(error) => {
            tracing::error!(%error, "cannot read an OAuth client");
            Err("Catwalk cannot read its clients right now; try again".into())
        }
    }
}
