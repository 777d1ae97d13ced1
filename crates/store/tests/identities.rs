//! Linked provider accounts and sign-ins in progress, on SQLite and PostgreSQL alike.

mod common;

use catwalk_store::{Linked, ProviderAccount, SignInFlow, StoreError, now_millis};
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
    identities_are_found_by_provider_issuer_and_subject_only,
    sign_in_flows_are_taken_once_and_expire,
);

fn account<'a>(issuer: &'a str, subject: &'a str, login: &'a str) -> ProviderAccount<'a> {
    ProviderAccount {
        provider: "github",
        issuer,
        subject,
        login,
    }
}

async fn identities_are_found_by_provider_issuer_and_subject_only(db: &TestDb) {
    let store = &db.store;
    let octo = account("https://github.com", "583231", "octocat");
    assert!(store.user_of_identity(&octo).await.unwrap().is_none());
    let user = store
        .create_user_with_identity("octocat", "member", &octo)
        .await
        .unwrap();
    assert!(user.password_hash.is_none());
    assert_eq!(
        store.user_of_identity(&octo).await.unwrap().unwrap().id,
        user.id
    );
    // The same number on another GitHub (an Enterprise server) is another person.
    let enterprise = account("https://ghe.example", "583231", "octocat");
    assert!(store.user_of_identity(&enterprise).await.unwrap().is_none());
    // A second first sign-in of the same account (a race) is a conflict, and creates nobody.
    assert!(matches!(
        store
            .create_user_with_identity("octocat-2", "member", &octo)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.get_user_by_name("octocat-2").await.unwrap().is_none());
    // A taken username is a conflict too.
    assert!(matches!(
        store
            .create_user_with_identity("octocat", "member", &enterprise)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.user_of_identity(&enterprise).await.unwrap().is_none());

    // A renamed account keeps its user, with the new login.
    let renamed = account("https://github.com", "583231", "octo-renamed");
    assert_eq!(
        store.user_of_identity(&renamed).await.unwrap().unwrap().id,
        user.id
    );
    let listed = store.list_identities(&user.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].login, "octo-renamed");

    // Linking: to oneself once, never to a second user.
    let ada = store.create_user("ada", "admin", None).await.unwrap();
    assert_eq!(
        store.link_identity(&ada.id, &enterprise).await.unwrap(),
        Linked::New
    );
    assert_eq!(
        store.link_identity(&ada.id, &enterprise).await.unwrap(),
        Linked::Already
    );
    assert_eq!(
        store.link_identity(&user.id, &enterprise).await.unwrap(),
        Linked::OtherUser
    );
    assert_eq!(
        store
            .user_of_identity(&enterprise)
            .await
            .unwrap()
            .unwrap()
            .id,
        ada.id
    );
    // Deleting a user removes their identities.
    store.delete_user(&ada.id).await.unwrap();
    assert!(store.user_of_identity(&enterprise).await.unwrap().is_none());
}

async fn sign_in_flows_are_taken_once_and_expire(db: &TestDb) {
    let store = &db.store;
    let flow = |expires_at| SignInFlow {
        provider: "oidc".into(),
        state: "state-1".into(),
        pkce_verifier: "verifier".into(),
        nonce: "nonce".into(),
        link_user_id: None,
        expires_at,
    };
    store
        .create_sign_in_flow("h1", &flow(now_millis() + 600_000))
        .await
        .unwrap();
    store
        .create_sign_in_flow("h0", &flow(now_millis() - 1))
        .await
        .unwrap();
    let taken = store.take_sign_in_flow("h1").await.unwrap().unwrap();
    assert_eq!(
        (taken.state.as_str(), taken.nonce.as_str()),
        ("state-1", "nonce")
    );
    assert!(
        store.take_sign_in_flow("h1").await.unwrap().is_none(),
        "once"
    );
    assert!(
        store.take_sign_in_flow("h0").await.unwrap().is_none(),
        "expired"
    );
    assert!(store.take_sign_in_flow("unknown").await.unwrap().is_none());
    // A new flow sweeps expired ones away.
    store
        .create_sign_in_flow("h2", &flow(now_millis() - 1))
        .await
        .unwrap();
    store
        .create_sign_in_flow("h3", &flow(now_millis() + 600_000))
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_flows")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(left, 1);
}
