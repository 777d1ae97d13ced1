//! The OAuth tables' rules, on SQLite and PostgreSQL alike: codes and refresh tokens are single
//! use (a replay revokes the grant), access tokens answer only for their own deployment, and
//! everything goes with the deployment or the user.

mod common;

use catwalk_store::{
    Consumed, NewDeployment, OAUTH_ACCESS, OAUTH_REFRESH, OAuthCode, Store, now_millis,
};
use common::TestDb;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { crate::$name(&crate::common::sqlite().await).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { crate::$name(&crate::common::postgres().await).await; })*
        }
    };
}

on_both_backends!(
    oauth_codes_are_single_use_and_a_replay_revokes_the_grant,
    oauth_expired_codes_are_refused,
    oauth_access_tokens_answer_only_for_their_deployment_and_owner,
    oauth_refresh_tokens_rotate_and_reuse_revokes_the_family,
    oauth_grants_go_with_their_deployment,
    oauth_clients_are_stored,
);

/// A user and a deployment they own.
async fn owned_deployment(store: &Store, user: &str, name: &str) -> (String, String) {
    let user = store.create_user(user, "member", None).await.unwrap();
    let deployment = store
        .create_deployment(&NewDeployment {
            name: name.to_string(),
            source: "npm:@modelcontextprotocol/server-everything@1.0.0".to_string(),
            spec_json: "{}".to_string(),
            env_ciphertext: "gAAAAAB-ciphertext".to_string(),
            env_keys: vec![],
            token_hash: catwalk_vault_like_hash(name),
            status: "running".to_string(),
            public: false,
            options_json: "{}".to_string(),
            owner_id: Some(user.id.clone()),
        })
        .await
        .unwrap();
    (user.id, deployment.id)
}

/// A stand-in token hash, unique per deployment (the store requires it).
fn catwalk_vault_like_hash(seed: &str) -> String {
    format!("hash-of-{seed}")
}

fn code_for(user_id: &str, deployment_id: &str, expires_in: i64) -> OAuthCode {
    OAuthCode {
        client_id: "client-1".into(),
        user_id: user_id.into(),
        deployment_id: deployment_id.into(),
        resource: "http://127.0.0.1:7411/s/a/mcp".into(),
        redirect_uri: "http://127.0.0.1:3000/callback".into(),
        code_challenge: "challenge".into(),
        scope: None,
        expires_at: now_millis() + expires_in,
    }
}

async fn oauth_codes_are_single_use_and_a_replay_revokes_the_grant(db: &TestDb) {
    let store = &db.store;
    let (user, deployment) = owned_deployment(store, "ada", "a").await;
    let code = code_for(&user, &deployment, 60_000);
    store.create_oauth_code("code-hash", &code).await.unwrap();
    let Consumed::Fresh(got) = store.consume_oauth_code("code-hash").await.unwrap() else {
        panic!("the first use of a code gets it");
    };
    assert_eq!(got, code);
    let grant = store.create_oauth_grant("code-hash", &got).await.unwrap();
    let far = now_millis() + 3_600_000;
    store
        .create_oauth_token("access-hash", &grant.id, OAUTH_ACCESS, far)
        .await
        .unwrap();
    assert!(
        store
            .oauth_access_grant("access-hash", "a")
            .await
            .unwrap()
            .is_some()
    );

    assert_eq!(
        store.consume_oauth_code("code-hash").await.unwrap(),
        Consumed::Replayed
    );
    assert!(
        store
            .oauth_access_grant("access-hash", "a")
            .await
            .unwrap()
            .is_none(),
        "a replayed code revokes the tokens it produced"
    );
    assert_eq!(
        store.consume_oauth_code("never-issued").await.unwrap(),
        Consumed::Unknown
    );
}

async fn oauth_expired_codes_are_refused(db: &TestDb) {
    let store = &db.store;
    let (user, deployment) = owned_deployment(store, "ada", "a").await;
    store
        .create_oauth_code("old", &code_for(&user, &deployment, -1))
        .await
        .unwrap();
    assert_eq!(
        store.consume_oauth_code("old").await.unwrap(),
        Consumed::Unknown
    );
}

async fn oauth_access_tokens_answer_only_for_their_deployment_and_owner(db: &TestDb) {
    let store = &db.store;
    let (user, a) = owned_deployment(store, "ada", "a").await;
    let (_, _b) = owned_deployment(store, "bob", "b").await;
    store
        .create_oauth_code("c", &code_for(&user, &a, 60_000))
        .await
        .unwrap();
    let Consumed::Fresh(code) = store.consume_oauth_code("c").await.unwrap() else {
        panic!("fresh code");
    };
    let grant = store.create_oauth_grant("c", &code).await.unwrap();
    let far = now_millis() + 3_600_000;
    store
        .create_oauth_token("live", &grant.id, OAUTH_ACCESS, far)
        .await
        .unwrap();
    store
        .create_oauth_token("expired", &grant.id, OAUTH_ACCESS, now_millis() - 1)
        .await
        .unwrap();
    store
        .create_oauth_token("refresh", &grant.id, OAUTH_REFRESH, far)
        .await
        .unwrap();

    let found = store
        .oauth_access_grant("live", "a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, grant.id);
    assert!(
        store
            .oauth_access_grant("live", "b")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .oauth_access_grant("expired", "a")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .oauth_access_grant("refresh", "a")
            .await
            .unwrap()
            .is_none(),
        "a refresh token is no access token"
    );

    // The deployment changes hands: what the former owner granted stops working.
    let other = store.get_user_by_name("bob").await.unwrap().unwrap();
    sqlx::query("UPDATE deployments SET owner_id = $1 WHERE id = $2")
        .bind(&other.id)
        .bind(&a)
        .execute(store.pool())
        .await
        .unwrap();
    assert!(
        store
            .oauth_access_grant("live", "a")
            .await
            .unwrap()
            .is_none()
    );
}

async fn oauth_refresh_tokens_rotate_and_reuse_revokes_the_family(db: &TestDb) {
    let store = &db.store;
    let (user, a) = owned_deployment(store, "ada", "a").await;
    store
        .create_oauth_code("c", &code_for(&user, &a, 60_000))
        .await
        .unwrap();
    let Consumed::Fresh(code) = store.consume_oauth_code("c").await.unwrap() else {
        panic!("fresh code");
    };
    let grant = store.create_oauth_grant("c", &code).await.unwrap();
    let far = now_millis() + 3_600_000;
    store
        .create_oauth_token("r1", &grant.id, OAUTH_REFRESH, far)
        .await
        .unwrap();
    let Consumed::Fresh(same) = store.consume_oauth_refresh_token("r1").await.unwrap() else {
        panic!("a fresh refresh token is accepted once");
    };
    assert_eq!(same.id, grant.id);
    store
        .create_oauth_token("r2", &grant.id, OAUTH_REFRESH, far)
        .await
        .unwrap();
    store
        .create_oauth_token("a2", &grant.id, OAUTH_ACCESS, far)
        .await
        .unwrap();

    assert_eq!(
        store.consume_oauth_refresh_token("r1").await.unwrap(),
        Consumed::Replayed
    );
    assert!(
        store.oauth_access_grant("a2", "a").await.unwrap().is_none(),
        "reuse of a rotated refresh token revokes every token of the grant"
    );
    assert_eq!(
        store.consume_oauth_refresh_token("r2").await.unwrap(),
        Consumed::Unknown,
        "the newest refresh token of a revoked grant is refused too"
    );
    assert_eq!(
        store.consume_oauth_refresh_token("a2").await.unwrap(),
        Consumed::Unknown,
        "an access token is no refresh token"
    );
}

async fn oauth_grants_go_with_their_deployment(db: &TestDb) {
    let store = &db.store;
    let (user, a) = owned_deployment(store, "ada", "a").await;
    store
        .create_oauth_code("c", &code_for(&user, &a, 60_000))
        .await
        .unwrap();
    let Consumed::Fresh(code) = store.consume_oauth_code("c").await.unwrap() else {
        panic!("fresh code");
    };
    let grant = store.create_oauth_grant("c", &code).await.unwrap();
    store
        .create_oauth_token("t", &grant.id, OAUTH_ACCESS, now_millis() + 60_000)
        .await
        .unwrap();
    assert!(store.delete_deployment("a").await.unwrap());
    for table in ["oauth_tokens", "oauth_grants", "oauth_codes"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} keeps rows of a removed deployment");
    }
    // A new deployment with the old name does not inherit anything.
    let _ = owned_deployment(store, "eve", "a").await;
    assert!(store.oauth_access_grant("t", "a").await.unwrap().is_none());
}

async fn oauth_clients_are_stored(db: &TestDb) {
    let store = &db.store;
    assert!(store.get_oauth_client("x").await.unwrap().is_none());
    store
        .create_oauth_client("x", r#"{"client_name":"X"}"#)
        .await
        .unwrap();
    let client = store.get_oauth_client("x").await.unwrap().unwrap();
    assert_eq!(client.metadata, r#"{"client_name":"X"}"#);
    assert_eq!(store.count_oauth_clients().await.unwrap(), 1);
    assert_eq!(store.purge_expired_oauth().await.unwrap(), 0);
}
