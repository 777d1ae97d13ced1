//! The store's behaviour, run identically against SQLite and PostgreSQL: every function in
//! `suite` becomes a `sqlite::<name>` and a `postgres::<name>` test.

mod common;

use catwalk_store::{
    DeploymentPageQuery, LogLine, MAX_DEPLOYMENT_PAGE, NewApiToken, NewAuditEvent, NewDeployment,
    Store, StoreError,
};
use common::TestDb;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { crate::suite::$name(&crate::common::sqlite().await).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { crate::suite::$name(&crate::common::postgres().await).await; })*
        }
    };
}

on_both_backends!(
    create_get_list,
    duplicate_name_is_a_conflict,
    status_changes_are_recorded_as_events,
    events_page_by_id,
    logs_append_and_page_in_order,
    logs_tail_and_trim,
    delete_removes_events_and_logs,
    deployment_tokens_are_named_replaced_and_revoked,
    credentials_are_replaced_and_swapped_only_when_unchanged,
    deployments_are_private_until_opened,
    settings_upsert,
    migrations_are_idempotent,
    dollar_placeholders_bind_by_number,
    concurrent_writers_get_distinct_ordered_ids,
    users_are_unique_and_keep_their_deployments,
    deployments_page_by_name_per_owner,
    api_tokens_live_until_revoked_or_expired,
    web_sessions_end_with_a_new_password,
    audit_trails_are_kept_apart_and_trimmed,
);

fn new_deployment(name: &str) -> NewDeployment {
    NewDeployment {
        name: name.to_string(),
        source: "npm:@modelcontextprotocol/server-everything@1.0.0".to_string(),
        spec_json: r#"{"command":"node","args":["dist/index.js"]}"#.to_string(),
        env_ciphertext: "gAAAAAB-ciphertext".to_string(),
        env_keys: vec!["API_KEY".to_string(), "Ünïcode_KEY".to_string()],
        token_hash: format!("hash-of-{name}"),
        status: "pending".to_string(),
        public: false,
        options_json: "{}".to_string(),
        owner_id: None,
    }
}

fn lines(range: std::ops::Range<usize>) -> Vec<LogLine> {
    range
        .map(|i| LogLine {
            at: 1_700_000_000_000 + i as i64,
            stream: if i % 2 == 0 { "stdout" } else { "stderr" }.to_string(),
            line: format!("line {i} — ünïcode ✓ 'quoted' \"double\""),
        })
        .collect()
}

/// A deployment's token hashes, sorted.
fn hashes_of(deployment: &catwalk_store::Deployment) -> Vec<String> {
    let mut hashes: Vec<String> = deployment
        .token_hashes
        .iter()
        .map(|t| t.hash.clone())
        .collect();
    hashes.sort();
    hashes
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

mod suite {
    use super::*;

    pub async fn create_get_list(db: &TestDb) {
        let store = &db.store;
        let created = store
            .create_deployment(&new_deployment("beta"))
            .await
            .unwrap();
        store
            .create_deployment(&new_deployment("alpha"))
            .await
            .unwrap();
        assert_eq!(created.id.len(), 36);
        assert!(created.created_at > 1_600_000_000_000);
        assert_eq!(created.created_at, created.updated_at);

        let fetched = store.get_deployment("beta").await.unwrap().unwrap();
        assert_eq!(fetched.id, created.id);
        assert_eq!(fetched.source, created.source);
        assert_eq!(fetched.spec_json, created.spec_json);
        assert_eq!(fetched.env_ciphertext, "gAAAAAB-ciphertext");
        assert_eq!(fetched.env_keys, ["API_KEY", "Ünïcode_KEY"]);
        assert_eq!(hashes_of(&fetched), ["hash-of-beta"]);
        assert_eq!(fetched.status, "pending");
        assert_eq!(fetched.status_reason, None);
        assert_eq!(fetched.created_at, created.created_at);

        let names: Vec<String> = store
            .list_deployments()
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(names, ["alpha", "beta"]);
        assert!(store.get_deployment("gamma").await.unwrap().is_none());

        // What an API would return: no ciphertext, no token hash.
        let json = serde_json::to_value(&fetched).unwrap();
        assert!(json.get("env_ciphertext").is_none());
        assert!(json.get("token_hashes").is_none());
        assert_eq!(json["env_keys"][0], "API_KEY");
    }

    pub async fn duplicate_name_is_a_conflict(db: &TestDb) {
        let store = &db.store;
        let first = store
            .create_deployment(&new_deployment("dup"))
            .await
            .unwrap();
        let mut second = new_deployment("dup");
        second.source = "pypi:other".to_string();
        let err = store.create_deployment(&second).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert!(err.to_string().contains("`dup`"), "{err}");
        let kept = store.get_deployment("dup").await.unwrap().unwrap();
        assert_eq!(kept.id, first.id);
        assert_eq!(kept.source, first.source);
        assert_eq!(store.list_deployments().await.unwrap().len(), 1);
    }

    pub async fn status_changes_are_recorded_as_events(db: &TestDb) {
        let store = &db.store;
        let created = store
            .create_deployment(&new_deployment("svc"))
            .await
            .unwrap();
        store.set_status("svc", "installing", None).await.unwrap();
        store
            .set_status("svc", "failed", Some("npm exited with code 1"))
            .await
            .unwrap();
        let failed = store.get_deployment("svc").await.unwrap().unwrap();
        assert_eq!(failed.status, "failed");
        assert_eq!(
            failed.status_reason.as_deref(),
            Some("npm exited with code 1")
        );
        assert!(failed.updated_at >= created.updated_at);

        store.set_status("svc", "running", None).await.unwrap();
        let running = store.get_deployment("svc").await.unwrap().unwrap();
        assert_eq!(
            running.status_reason, None,
            "a new status clears the reason"
        );

        let events = store.events_after("svc", 0, 100).await.unwrap();
        let summary: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.kind.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("status", "installing"),
                ("status", "failed: npm exited with code 1"),
                ("status", "running"),
            ]
        );
        assert!(events.iter().all(|e| e.at >= created.created_at));

        let err = store
            .set_status("ghost", "running", None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound(ref n) if n == "ghost"),
            "{err:?}"
        );
        let err = store.add_event("ghost", "progress", "x").await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
        assert!(
            store
                .events_after("ghost", 0, 100)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn events_page_by_id(db: &TestDb) {
        let store = &db.store;
        store.create_deployment(&new_deployment("a")).await.unwrap();
        store.create_deployment(&new_deployment("b")).await.unwrap();
        for i in 0..5 {
            store
                .add_event("a", "progress", &format!("step {i}"))
                .await
                .unwrap();
            store.add_event("b", "progress", "other").await.unwrap();
        }
        let first_page = store.events_after("a", 0, 2).await.unwrap();
        assert_eq!(first_page.len(), 2);
        assert_eq!(first_page[0].message, "step 0");
        assert_eq!(first_page[1].message, "step 1");
        let rest = store
            .events_after("a", first_page[1].id, 100)
            .await
            .unwrap();
        let messages: Vec<&str> = rest.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["step 2", "step 3", "step 4"]);
        assert!(rest.windows(2).all(|w| w[0].id < w[1].id));
        assert!(
            store
                .events_after("a", rest[2].id, 100)
                .await
                .unwrap()
                .is_empty()
        );
        // Nonsense limits are clamped rather than passed to the database.
        assert!(store.events_after("a", 0, -1).await.unwrap().is_empty());
        assert_eq!(store.events_after("a", 0, i64::MAX).await.unwrap().len(), 5);
    }

    pub async fn logs_append_and_page_in_order(db: &TestDb) {
        let store = &db.store;
        store
            .create_deployment(&new_deployment("svc"))
            .await
            .unwrap();
        // More lines than one INSERT carries, so the chunking is exercised.
        let written = lines(0..450);
        store.append_logs("svc", &written[..300]).await.unwrap();
        store.append_logs("svc", &written[300..]).await.unwrap();
        store.append_logs("svc", &[]).await.unwrap();

        let all = store.logs_after("svc", 0, 1_000).await.unwrap();
        assert_eq!(all.len(), 450);
        for (stored, line) in all.iter().zip(&written) {
            assert_eq!(stored.at, line.at);
            assert_eq!(stored.stream, line.stream);
            assert_eq!(stored.line, line.line);
        }
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));

        let page = store.logs_after("svc", all[99].id, 50).await.unwrap();
        assert_eq!(page.len(), 50);
        assert_eq!(page[0].id, all[100].id);
        assert_eq!(page[49].line, written[149].line);

        assert!(store.logs_after("ghost", 0, 10).await.unwrap().is_empty());
        let err = store.append_logs("ghost", &lines(0..1)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    }

    pub async fn logs_tail_and_trim(db: &TestDb) {
        let store = &db.store;
        store
            .create_deployment(&new_deployment("svc"))
            .await
            .unwrap();
        store
            .create_deployment(&new_deployment("other"))
            .await
            .unwrap();
        store.append_logs("svc", &lines(0..20)).await.unwrap();
        store.append_logs("other", &lines(0..5)).await.unwrap();

        let tail = store.logs_tail("svc", 3).await.unwrap();
        let tail_lines: Vec<&str> = tail.iter().map(|l| l.line.as_str()).collect();
        assert_eq!(tail_lines.len(), 3);
        assert!(tail_lines[0].starts_with("line 17 "));
        assert!(tail_lines[2].starts_with("line 19 "));

        assert_eq!(store.trim_logs("svc", 5).await.unwrap(), 15);
        let kept = store.logs_after("svc", 0, 100).await.unwrap();
        assert_eq!(kept.len(), 5);
        assert!(kept[0].line.starts_with("line 15 "));
        assert_eq!(store.trim_logs("svc", 5).await.unwrap(), 0);
        assert_eq!(store.trim_logs("svc", 0).await.unwrap(), 5);
        assert!(store.logs_tail("svc", 10).await.unwrap().is_empty());
        assert_eq!(store.logs_after("other", 0, 100).await.unwrap().len(), 5);
    }

    pub async fn delete_removes_events_and_logs(db: &TestDb) {
        let store = &db.store;
        let doomed = store
            .create_deployment(&new_deployment("doomed"))
            .await
            .unwrap();
        store
            .create_deployment(&new_deployment("kept"))
            .await
            .unwrap();
        for name in ["doomed", "kept"] {
            store.set_status(name, "running", None).await.unwrap();
            store.add_event(name, "progress", "hello").await.unwrap();
            store.append_logs(name, &lines(0..10)).await.unwrap();
        }

        assert!(store.delete_deployment("doomed").await.unwrap());
        assert!(store.get_deployment("doomed").await.unwrap().is_none());
        assert!(!store.delete_deployment("doomed").await.unwrap());

        // The rows are gone, not merely unreachable by name.
        for table in ["deployment_events", "deployment_logs"] {
            let orphans: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM {table} WHERE deployment_id = $1"
            ))
            .bind(&doomed.id)
            .fetch_one(store.pool())
            .await
            .unwrap();
            assert_eq!(orphans, 0, "{table}");
        }
        assert_eq!(count(store, "deployment_events").await, 2);
        assert_eq!(count(store, "deployment_logs").await, 10);

        // A new deployment with the same name starts with an empty history.
        store
            .create_deployment(&new_deployment("doomed"))
            .await
            .unwrap();
        assert!(
            store
                .events_after("doomed", 0, 100)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.logs_after("doomed", 0, 100).await.unwrap().is_empty());
        assert_eq!(store.events_after("kept", 0, 100).await.unwrap().len(), 2);
    }

    pub async fn deployment_tokens_are_named_replaced_and_revoked(db: &TestDb) {
        let store = &db.store;
        store
            .create_deployment(&new_deployment("svc"))
            .await
            .unwrap();
        store
            .create_deployment(&new_deployment("other"))
            .await
            .unwrap();
        let first = store.list_deployment_tokens("svc").await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].name, "default");

        let laptop = store
            .put_deployment_token("svc", "laptop", "hash-laptop", false)
            .await
            .unwrap();
        let err = store
            .put_deployment_token("svc", "laptop", "hash-laptop-2", false)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        let err = store
            .put_deployment_token("other", "x", "hash-laptop", false)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(_)),
            "hashes are unique: {err:?}"
        );
        let svc = store.get_deployment("svc").await.unwrap().unwrap();
        assert_eq!(hashes_of(&svc), ["hash-laptop", "hash-of-svc"]);
        let laptop_hash = svc.token_hashes.iter().find(|t| t.name == "laptop");
        assert_eq!(laptop_hash.unwrap().hash, "hash-laptop");

        // Replacing keeps the name, changes the secret.
        let rotated = store
            .put_deployment_token("svc", "default", "hash-new", true)
            .await
            .unwrap();
        assert_eq!(rotated.name, "default");
        let listed = store.list_deployments().await.unwrap();
        let svc = listed.iter().find(|d| d.name == "svc").unwrap();
        assert_eq!(hashes_of(svc), ["hash-laptop", "hash-new"]);
        let other = listed.iter().find(|d| d.name == "other").unwrap();
        assert_eq!(hashes_of(other), ["hash-of-other"]);

        assert!(
            !store
                .revoke_deployment_token("other", &laptop.id)
                .await
                .unwrap()
        );
        assert!(
            store
                .revoke_deployment_token("svc", &laptop.id)
                .await
                .unwrap()
        );
        assert!(
            !store
                .revoke_deployment_token("svc", &laptop.id)
                .await
                .unwrap()
        );
        let svc = store.get_deployment("svc").await.unwrap().unwrap();
        assert_eq!(hashes_of(&svc), ["hash-new"]);
        let err = store
            .put_deployment_token("ghost", "x", "y", false)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
        store.delete_deployment("svc").await.unwrap();
        assert_eq!(
            count(store, "deployment_tokens").await,
            1,
            "only other's is left"
        );
    }

    pub async fn credentials_are_replaced_and_swapped_only_when_unchanged(db: &TestDb) {
        let store = &db.store;
        for name in ["b-svc", "a-svc"] {
            store
                .create_deployment(&new_deployment(name))
                .await
                .unwrap();
        }
        store
            .set_credentials("a-svc", "gAAAAAB-edited", &["TOKEN".to_string()])
            .await
            .unwrap();
        let edited = store.get_deployment("a-svc").await.unwrap().unwrap();
        assert_eq!(edited.env_ciphertext, "gAAAAAB-edited");
        assert_eq!(edited.env_keys, ["TOKEN"]);
        let err = store.set_credentials("ghost", "x", &[]).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

        let all = store.list_credentials().await.unwrap();
        assert_eq!(
            all,
            [
                ("a-svc".to_string(), "gAAAAAB-edited".to_string()),
                ("b-svc".to_string(), "gAAAAAB-ciphertext".to_string())
            ]
        );
        // A stale expectation (an edit came in between) changes nothing.
        assert!(
            !store
                .swap_credentials("a-svc", "gAAAAAB-ciphertext", "gAAAAAB-rotated")
                .await
                .unwrap()
        );
        assert!(
            store
                .swap_credentials("b-svc", "gAAAAAB-ciphertext", "gAAAAAB-rotated")
                .await
                .unwrap()
        );
        let all = store.list_credentials().await.unwrap();
        assert_eq!(all[0].1, "gAAAAAB-edited");
        assert_eq!(all[1].1, "gAAAAAB-rotated");
        assert!(!store.swap_credentials("ghost", "x", "y").await.unwrap());
    }

    pub async fn deployments_are_private_until_opened(db: &TestDb) {
        let store = &db.store;
        let created = store
            .create_deployment(&new_deployment("svc"))
            .await
            .unwrap();
        assert!(!created.public);
        store.set_public("svc", true).await.unwrap();
        assert!(store.get_deployment("svc").await.unwrap().unwrap().public);
        store.set_public("svc", false).await.unwrap();
        assert!(!store.list_deployments().await.unwrap()[0].public);
        let opened = store
            .create_deployment(&NewDeployment {
                public: true,
                ..new_deployment("open")
            })
            .await
            .unwrap();
        assert!(opened.public);
        assert!(store.get_deployment("open").await.unwrap().unwrap().public);
        let err = store.set_public("ghost", true).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

        assert_eq!(created.options_json, "{}");
        store
            .set_options("svc", r#"{"call_timeout_secs":30}"#)
            .await
            .unwrap();
        let stored = store.get_deployment("svc").await.unwrap().unwrap();
        assert_eq!(stored.options_json, r#"{"call_timeout_secs":30}"#);
        let err = store.set_options("ghost", "{}").await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

        assert_eq!(created.handshake_json, None);
        store
            .set_handshake("svc", r#"{"result":{}}"#)
            .await
            .unwrap();
        let stored = store.get_deployment("svc").await.unwrap().unwrap();
        assert_eq!(stored.handshake_json.as_deref(), Some(r#"{"result":{}}"#));
        let listed = store.list_deployments().await.unwrap();
        let svc = listed.iter().find(|d| d.name == "svc").unwrap();
        assert_eq!(svc.handshake_json, stored.handshake_json);
        let brief = store.list_deployments_brief().await.unwrap();
        assert_eq!(
            brief.iter().map(|d| &d.name).collect::<Vec<_>>(),
            listed.iter().map(|d| &d.name).collect::<Vec<_>>()
        );
        let svc_brief = brief.iter().find(|d| d.name == "svc").unwrap();
        assert_eq!(svc_brief.status, svc.status);
        assert_eq!(svc_brief.options_json, svc.options_json);
        assert_eq!(svc_brief.env_keys, svc.env_keys);
        assert!(svc_brief.spec_json.is_empty() && svc_brief.env_ciphertext.is_empty());
        assert_eq!(svc_brief.handshake_json, None);
        let err = store.set_handshake("ghost", "{}").await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    }

    pub async fn settings_upsert(db: &TestDb) {
        let store = &db.store;
        assert_eq!(store.get_setting("admin_token_hash").await.unwrap(), None);
        store.put_setting("admin_token_hash", "one").await.unwrap();
        assert_eq!(
            store
                .get_setting("admin_token_hash")
                .await
                .unwrap()
                .as_deref(),
            Some("one")
        );
        store.put_setting("admin_token_hash", "two").await.unwrap();
        store.put_setting("other", "x").await.unwrap();
        assert_eq!(
            store
                .get_setting("admin_token_hash")
                .await
                .unwrap()
                .as_deref(),
            Some("two")
        );
        assert_eq!(count(store, "settings").await, 2);
        assert!(store.delete_setting("other").await.unwrap());
        assert!(!store.delete_setting("other").await.unwrap());
        assert_eq!(store.get_setting("other").await.unwrap(), None);
    }

    pub async fn migrations_are_idempotent(db: &TestDb) {
        db.store
            .create_deployment(&new_deployment("survivor"))
            .await
            .unwrap();
        let again = Store::connect(&db.url).await.unwrap();
        let third = Store::connect(&db.url).await.unwrap();
        assert_eq!(again.backend(), db.store.backend());
        assert!(third.get_deployment("survivor").await.unwrap().is_some());
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(again.pool())
            .await
            .unwrap();
        let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
            .unwrap()
            .count() as i64;
        assert_eq!(applied, shipped, "each migration is applied exactly once");
        again.ping().await.unwrap();
    }

    /// The store writes `$N` placeholders for both backends. PostgreSQL binds them by number;
    /// this checks that SQLite (through SQLx) does too, even out of order and when repeated.
    pub async fn dollar_placeholders_bind_by_number(db: &TestDb) {
        let (b, a, again): (String, String, String) =
            sqlx::query_as("SELECT $2 || '', $1 || '', $1 || ''")
                .bind("first")
                .bind("second")
                .fetch_one(db.store.pool())
                .await
                .unwrap();
        assert_eq!(
            (a.as_str(), b.as_str(), again.as_str()),
            ("first", "second", "first")
        );
    }

    pub async fn concurrent_writers_get_distinct_ordered_ids(db: &TestDb) {
        let store = &db.store;
        store
            .create_deployment(&new_deployment("busy"))
            .await
            .unwrap();
        let writers: Vec<_> = (0..16)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store.add_event("busy", "progress", &format!("{i}")).await?;
                    store.append_logs("busy", &lines(i * 10..i * 10 + 10)).await
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap().unwrap();
        }
        let events = store.events_after("busy", 0, 100).await.unwrap();
        assert_eq!(events.len(), 16);
        let logs = store.logs_after("busy", 0, 1_000).await.unwrap();
        assert_eq!(logs.len(), 160);
        assert!(logs.windows(2).all(|w| w[0].id < w[1].id));
        // Each batch is contiguous: one append's lines are never interleaved with another's.
        for batch in logs.chunks(10) {
            let first: usize = batch[0].line[5..]
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(first % 10, 0, "{batch:?}");
            for (offset, log) in batch.iter().enumerate() {
                assert!(log.line.starts_with(&format!("line {} ", first + offset)));
            }
        }
    }

    pub async fn users_are_unique_and_keep_their_deployments(db: &TestDb) {
        let store = &db.store;
        let ada = store.create_user("ada", "admin", None).await.unwrap();
        let bob = store
            .create_user("bob", "member", Some("$argon2id$v=19$stub"))
            .await
            .unwrap();
        let err = store.create_user("ada", "member", None).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(store.count_users_with_role("admin").await.unwrap(), 1);
        let names: Vec<_> = store
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, ["ada", "bob"]);
        assert_eq!(
            store
                .get_user_by_name("bob")
                .await
                .unwrap()
                .unwrap()
                .password_hash
                .as_deref(),
            Some("$argon2id$v=19$stub")
        );

        store
            .create_deployment(&NewDeployment {
                owner_id: Some(bob.id.clone()),
                ..new_deployment("bobs")
            })
            .await
            .unwrap();
        store
            .create_deployment(&new_deployment("old"))
            .await
            .unwrap();
        assert_eq!(store.adopt_unowned_deployments(&ada.id).await.unwrap(), 1);
        let of = |id: String| async move {
            store
                .deployments_page_of(
                    &id,
                    &DeploymentPageQuery {
                        limit: 10,
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .deployments
                .into_iter()
                .map(|d| d.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(of(ada.id.clone()).await, ["old"]);
        assert_eq!(of(bob.id.clone()).await, ["bobs"]);
        assert_eq!(
            store
                .get_deployment("bobs")
                .await
                .unwrap()
                .unwrap()
                .owner_id,
            Some(bob.id.clone())
        );

        // A user who owns deployments stays until they are removed.
        let err = store.delete_user(&bob.id).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        store.delete_deployment("bobs").await.unwrap();
        assert!(store.delete_user(&bob.id).await.unwrap());
        assert!(store.get_user(&bob.id).await.unwrap().is_none());
        assert!(!store.delete_user(&bob.id).await.unwrap());
        store.set_role(&ada.id, "member").await.unwrap();
        assert_eq!(
            store.get_user(&ada.id).await.unwrap().unwrap().role,
            "member"
        );
        let err = store.set_role("ghost", "member").await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    }

    /// The names on one page of `owner`'s deployments and whether more follow; checks that
    /// every one is the owner's and brief.
    async fn names_page(
        store: &Store,
        owner: &str,
        after: Option<&str>,
        status: Option<&str>,
        limit: i64,
    ) -> (Vec<String>, bool) {
        let page = store
            .deployments_page_of(
                owner,
                &DeploymentPageQuery {
                    after,
                    status,
                    limit,
                },
            )
            .await
            .unwrap();
        for deployment in &page.deployments {
            assert_eq!(deployment.owner_id.as_deref(), Some(owner));
            assert!(deployment.spec_json.is_empty() && deployment.env_ciphertext.is_empty());
        }
        let names = page.deployments.into_iter().map(|d| d.name).collect();
        (names, page.more)
    }

    pub async fn deployments_page_by_name_per_owner(db: &TestDb) {
        let store = &db.store;
        let ada = store.create_user("ada", "member", None).await.unwrap();
        let bob = store.create_user("bob", "member", None).await.unwrap();
        // Created out of name order, and interleaved with another owner's deployments, which
        // must neither appear in Ada's pages nor count in her total. Names of one shape (a
        // letter, a dash, three digits) sort the same under any collation.
        let mut adas = Vec::new();
        for i in (0..25).rev() {
            let name = format!("d-{:03}", i * 2);
            let owner = Some(ada.id.clone());
            let status = if i % 5 == 0 { "running" } else { "sleeping" };
            store
                .create_deployment(&NewDeployment {
                    owner_id: owner,
                    status: status.into(),
                    ..new_deployment(&name)
                })
                .await
                .unwrap();
            adas.push(name);
            store
                .create_deployment(&NewDeployment {
                    owner_id: Some(bob.id.clone()),
                    ..new_deployment(&format!("d-{:03}", i * 2 + 1))
                })
                .await
                .unwrap();
        }
        adas.sort();
        let ada_id = ada.id.as_str();
        // Walking with the last name of each page as the next cursor visits every deployment of
        // Ada's once, in order.
        let mut walked = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let (names, more) = names_page(store, ada_id, after.as_deref(), None, 10).await;
            pages += 1;
            assert!(names.len() == 10 || !more, "a short page said more follow");
            walked.extend(names.iter().cloned());
            if !more {
                break;
            }
            after = names.last().cloned();
        }
        assert_eq!(walked, adas);
        assert_eq!(pages, 3);
        // An exact fit says no more follow.
        assert_eq!(
            names_page(store, ada_id, None, None, 25).await,
            (adas.clone(), false)
        );
        assert!(names_page(store, ada_id, None, None, 24).await.1);
        // A cursor that names no deployment (removed meanwhile, or another owner's) still
        // places the page: everything after it in name order.
        assert_eq!(
            names_page(store, ada_id, Some("d-001"), None, 2).await.0,
            ["d-002", "d-004"]
        );
        assert_eq!(
            names_page(store, ada_id, Some("d-0"), None, 1).await.0,
            ["d-000"]
        );
        assert_eq!(
            names_page(store, ada_id, Some("d-048"), None, 5).await,
            (vec![], false)
        );
        assert_eq!(
            names_page(store, ada_id, Some("zzz"), None, 5).await,
            (vec![], false)
        );
        // The limit is held to 1..=MAX_DEPLOYMENT_PAGE whatever the caller passes.
        assert_eq!(names_page(store, ada_id, None, None, 0).await.0, ["d-000"]);
        assert_eq!(
            names_page(store, ada_id, None, None, MAX_DEPLOYMENT_PAGE + 1)
                .await
                .0
                .len(),
            25
        );

        assert_eq!(store.count_deployments_of(&ada.id, None).await.unwrap(), 25);
        assert_eq!(store.count_deployments_of(&bob.id, None).await.unwrap(), 25);
        assert_eq!(store.count_deployments_of("nobody", None).await.unwrap(), 0);

        // A status narrows both the page and the count.
        let running: Vec<String> = (0..5).map(|i| format!("d-{:03}", i * 10)).collect();
        assert_eq!(
            store
                .count_deployments_of(&ada.id, Some("running"))
                .await
                .unwrap(),
            5
        );
        assert_eq!(
            names_page(store, ada_id, None, Some("running"), 3).await,
            (running[..3].to_vec(), true)
        );
        assert_eq!(
            names_page(store, ada_id, Some("d-020"), Some("running"), 3).await,
            (running[3..].to_vec(), false)
        );
        assert_eq!(
            store
                .count_deployments_of(&bob.id, Some("running"))
                .await
                .unwrap(),
            0
        );
    }

    pub async fn api_tokens_live_until_revoked_or_expired(db: &TestDb) {
        let store = &db.store;
        let ada = store.create_user("ada", "admin", None).await.unwrap();
        let scopes = ["read".to_string()];
        let token = |name: &'static str, hash: &'static str, expires_at: Option<i64>| NewApiToken {
            user_id: &ada.id,
            name,
            token_hash: hash,
            scopes: &scopes,
            expires_at,
        };
        let live = store
            .create_api_token(&token("laptop", "h1", None))
            .await
            .unwrap();
        store
            .create_api_token(&token("old", "h2", Some(catwalk_store::now_millis() - 1)))
            .await
            .unwrap();
        let (found, user) = store.find_api_token("h1").await.unwrap().unwrap();
        assert_eq!(
            (found.id.as_str(), found.name.as_str()),
            (live.id.as_str(), "laptop")
        );
        assert_eq!(found.scopes, ["read"]);
        assert_eq!(user.username, "ada");
        assert!(
            store.find_api_token("h2").await.unwrap().is_none(),
            "expired"
        );
        assert!(store.find_api_token("nope").await.unwrap().is_none());

        store.touch_api_token(&live.id).await.unwrap();
        let listed = store.list_api_tokens(&ada.id).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(
            listed
                .iter()
                .any(|t| t.id == live.id && t.last_used_at.is_some())
        );

        let bob = store.create_user("bob", "member", None).await.unwrap();
        assert!(
            !store.revoke_api_token(&bob.id, &live.id).await.unwrap(),
            "not bob's"
        );
        assert!(store.find_api_token("h1").await.unwrap().is_some());
        assert!(store.revoke_api_token(&ada.id, &live.id).await.unwrap());
        assert!(
            !store.revoke_api_token(&ada.id, &live.id).await.unwrap(),
            "already"
        );
        assert!(
            store.find_api_token("h1").await.unwrap().is_none(),
            "revoked"
        );
    }

    pub async fn web_sessions_end_with_a_new_password(db: &TestDb) {
        let store = &db.store;
        let ada = store.create_user("ada", "admin", None).await.unwrap();
        let later = catwalk_store::now_millis() + 60_000;
        store
            .create_web_session("s1", &ada.id, "csrf1", later)
            .await
            .unwrap();
        store
            .create_web_session("s0", &ada.id, "csrf0", catwalk_store::now_millis() - 1)
            .await
            .unwrap();
        let session = store.find_web_session("s1").await.unwrap().unwrap();
        assert_eq!(
            (session.user.username.as_str(), session.csrf_token.as_str()),
            ("ada", "csrf1")
        );
        assert!(
            store.find_web_session("s0").await.unwrap().is_none(),
            "expired"
        );
        store.set_password_hash(&ada.id, Some("new")).await.unwrap();
        assert!(
            store.find_web_session("s1").await.unwrap().is_none(),
            "signed out"
        );
        store
            .create_web_session("s2", &ada.id, "csrf2", later)
            .await
            .unwrap();
        store.delete_web_session("s2").await.unwrap();
        assert!(store.find_web_session("s2").await.unwrap().is_none());
        assert_eq!(
            count(store, "web_sessions").await,
            0,
            "the expired one went too"
        );
    }

    pub async fn audit_trails_are_kept_apart_and_trimmed(db: &TestDb) {
        let store = &db.store;
        let event =
            |at: i64, owner: Option<&str>, deployment: Option<&str>, action: &str| NewAuditEvent {
                at,
                owner_id: owner.map(str::to_string),
                actor: "token default".into(),
                deployment: deployment.map(str::to_string),
                kind: "tool_call".into(),
                action: action.into(),
                outcome: "ok".into(),
                duration_ms: Some(12),
                arguments: (action == "search").then(|| r#"{"q":"ünï"}"#.to_string()),
            };
        // More rows than one INSERT statement holds.
        let mut events: Vec<NewAuditEvent> = (0..120)
            .map(|i| event(1_000 + i, Some("ada"), Some("svc"), "search"))
            .collect();
        events.push(event(5_000, Some("ada"), Some("other"), "fetch"));
        events.push(event(5_001, Some("bob"), Some("bobs"), "fetch"));
        events.push(event(5_002, None, None, "POST /api/vault/rotate"));
        store.append_audit(&events).await.unwrap();

        let ada = store.audit_after(Some("ada"), None, 0, 1000).await.unwrap();
        assert_eq!(ada.len(), 121);
        assert!(ada.windows(2).all(|w| w[0].id < w[1].id), "ascending ids");
        assert_eq!(ada[0].arguments.as_deref(), Some(r#"{"q":"ünï"}"#));
        assert_eq!(ada[0].duration_ms, Some(12));
        let page = store
            .audit_after(Some("ada"), None, ada[9].id, 5)
            .await
            .unwrap();
        assert_eq!(page[0].id, ada[10].id);
        assert_eq!(page.len(), 5);
        let other = store
            .audit_after(Some("ada"), Some("other"), 0, 10)
            .await
            .unwrap();
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].action, "fetch");
        let bob = store.audit_after(Some("bob"), None, 0, 10).await.unwrap();
        assert_eq!(bob.len(), 1);
        let instance = store.audit_after(None, None, 0, 10).await.unwrap();
        assert_eq!(instance.len(), 1);
        assert_eq!(instance[0].action, "POST /api/vault/rotate");

        assert_eq!(store.trim_audit(1_100).await.unwrap(), 100);
        assert_eq!(count(store, "audit_events").await, 23);
    }
}
