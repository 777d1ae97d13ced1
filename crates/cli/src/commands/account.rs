//! Accounts: `login`, `logout`, `whoami`, `passwd`, `user ...` and `api-token ...`.

use std::io::BufRead;

use reqwest::Method;
use serde_json::{Value, json};

use crate::args::{ApiTokenCommand, UserCommand};
use crate::client::ApiClient;
use crate::error::{CliError, ExitStatus};
use crate::output::{cell, json_table, print_json, print_out};

/// A password from the first line of stdin, or typed at a prompt that does not echo it.
pub fn read_password(prompt: &str, from_stdin: bool) -> Result<String, CliError> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Failed(format!("cannot read the password from stdin: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        rpassword::prompt_password(prompt).map_err(|e| {
            CliError::Usage(format!(
                "cannot prompt for the password ({e}); use --password-stdin"
            ))
        })?
    };
    if password.is_empty() {
        return Err(CliError::Usage("the password is empty".to_owned()));
    }
    Ok(password)
}

fn prompt_line(prompt: &str) -> Result<String, CliError> {
    eprint!("{prompt}");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Failed(format!("cannot read from stdin: {e}")))?;
    Ok(line.trim().to_string())
}

/// Exchanges a username and password for an API token named after this machine, and stores it
/// for this server.
pub async fn login(
    client: &ApiClient,
    config_dir: Option<std::path::PathBuf>,
    username: Option<&str>,
    password_stdin: bool,
    json: bool,
) -> Result<ExitStatus, CliError> {
    let config_dir = config_dir.ok_or_else(|| {
        CliError::Usage("no configuration directory (set CATWALK_CONFIG_DIR)".to_owned())
    })?;
    let username = match username {
        Some(name) => name.to_string(),
        None if password_stdin => {
            return Err(CliError::Usage(
                "with --password-stdin, give the username with --username".to_owned(),
            ));
        }
        None => prompt_line("username: ")?,
    };
    let password = read_password("password: ", password_stdin)?;
    let host = hostname();
    let body = json!({
        "username": username,
        "password": password,
        "name": format!("catwalk login on {host}"),
    });
    let created = client
        .request(Method::POST, &["auth", "token"], Some(&body))
        .await?;
    let token = created["token"]
        .as_str()
        .ok_or_else(|| CliError::Failed("the server's answer has no token".to_owned()))?;
    crate::logins::set_token(&config_dir, client.base_url(), Some(token))?;
    if json {
        let mut shown = created.clone();
        shown["token"] = Value::Null;
        print_json(&shown)?;
    } else {
        print_out(&format!(
            "signed in to {} as {username}; the token is stored in {}\n",
            client.base_url(),
            config_dir.join(crate::logins::FILE).display()
        ))?;
    }
    Ok(ExitStatus::Success)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "this machine".to_string())
}

/// Revokes the stored token on the server (when it still works) and forgets it.
pub async fn logout(
    client: &ApiClient,
    config_dir: Option<std::path::PathBuf>,
    json: bool,
) -> Result<ExitStatus, CliError> {
    let Some(config_dir) = config_dir else {
        return Err(CliError::Usage(
            "no configuration directory (set CATWALK_CONFIG_DIR)".to_owned(),
        ));
    };
    if crate::logins::token_for(&config_dir, client.base_url())?.is_none() {
        return Err(CliError::Failed(format!(
            "not signed in to {} with `catwalk login`",
            client.base_url()
        )));
    }
    let me = client.request(Method::GET, &["me"], None).await;
    if let Ok(me) = &me
        && let Some(id) = me["token_id"].as_str()
    {
        client
            .request(Method::DELETE, &["tokens", id], None)
            .await?;
    }
    crate::logins::set_token(&config_dir, client.base_url(), None)?;
    if json {
        print_json(&json!({ "signed_out": true }))?;
    } else {
        print_out(&format!("signed out of {}\n", client.base_url()))?;
    }
    Ok(ExitStatus::Success)
}

pub async fn whoami(client: &ApiClient, json: bool) -> Result<ExitStatus, CliError> {
    let me = client.request(Method::GET, &["me"], None).await?;
    if json {
        print_json(&me)?;
    } else {
        print_out(&format!(
            "{} ({}) on {}\n",
            me["user"]["username"].as_str().unwrap_or("?"),
            me["user"]["role"].as_str().unwrap_or("?"),
            client.base_url()
        ))?;
    }
    Ok(ExitStatus::Success)
}

/// Sets the caller's password, asking for the current one when there is one.
pub async fn passwd(
    client: &ApiClient,
    password_stdin: bool,
    json: bool,
) -> Result<ExitStatus, CliError> {
    let me = client.request(Method::GET, &["me"], None).await?;
    let current = if me["has_password"].as_bool() == Some(true) {
        Some(read_password("current password: ", password_stdin)?)
    } else {
        None
    };
    let new_password = read_password("new password: ", password_stdin)?;
    if !password_stdin && read_password("new password again: ", false)? != new_password {
        return Err(CliError::Usage("the two passwords differ".to_owned()));
    }
    let body = json!({ "current_password": current, "new_password": new_password });
    client
        .request(Method::PUT, &["me", "password"], Some(&body))
        .await?;
    if json {
        print_json(&json!({ "changed": true }))?;
    } else {
        print_out("password changed; browser sessions were signed out\n")?;
    }
    Ok(ExitStatus::Success)
}

pub async fn user(
    client: &ApiClient,
    action: &UserCommand,
    json: bool,
) -> Result<ExitStatus, CliError> {
    let answer = match action {
        UserCommand::Ls => {
            let users = client.request(Method::GET, &["users"], None).await?;
            if !json {
                let shown = json_table(&["USERNAME", "ROLE", "CREATED (ms)"], &users, |u| {
                    vec![
                        cell(&u["username"]),
                        cell(&u["role"]),
                        cell(&u["created_at"]),
                    ]
                });
                print_out(&shown)?;
                return Ok(ExitStatus::Success);
            }
            users
        }
        UserCommand::Add {
            username,
            admin,
            password_stdin,
        } => {
            let password = if *password_stdin {
                Some(read_password("", true)?)
            } else {
                None
            };
            let role = if *admin { "admin" } else { "member" };
            let body = json!({ "username": username, "role": role, "password": password });
            let user = client
                .request(Method::POST, &["users"], Some(&body))
                .await?;
            if !json {
                print_out(&format!("added {username} ({role})\n"))?;
                if password.is_none() {
                    eprintln!(
                        "{username} has no password yet: set one with `catwalk user add \
                         --password-stdin` next time, or PATCH /api/users/{username}"
                    );
                }
                return Ok(ExitStatus::Success);
            }
            user
        }
        UserCommand::Role { username, role } => {
            let body = json!({ "role": role });
            let user = client
                .request(Method::PATCH, &["users", username], Some(&body))
                .await?;
            if !json {
                print_out(&format!("{username} is now {role}\n"))?;
                return Ok(ExitStatus::Success);
            }
            user
        }
        UserCommand::Rm { username } => {
            client
                .request(Method::DELETE, &["users", username], None)
                .await?;
            if !json {
                print_out(&format!("removed {username}\n"))?;
                return Ok(ExitStatus::Success);
            }
            json!({ "removed": username })
        }
    };
    print_json(&answer)?;
    Ok(ExitStatus::Success)
}

pub async fn api_token(
    client: &ApiClient,
    action: &ApiTokenCommand,
    json: bool,
) -> Result<ExitStatus, CliError> {
    match action {
        ApiTokenCommand::Ls => {
            let tokens = client.request(Method::GET, &["tokens"], None).await?;
            if json {
                print_json(&tokens)?;
                return Ok(ExitStatus::Success);
            }
            let shown = json_table(&["ID", "NAME", "SCOPES", "STATE"], &tokens, |t| {
                let state = if t["revoked_at"].is_null() {
                    "live"
                } else {
                    "revoked"
                };
                let scopes = t["scopes"]
                    .as_array()
                    .map(|s| s.iter().map(cell).collect::<Vec<_>>().join(","))
                    .unwrap_or_default();
                vec![cell(&t["id"]), cell(&t["name"]), scopes, state.to_string()]
            });
            print_out(&shown)?;
        }
        ApiTokenCommand::New {
            name,
            read_only,
            expires_in_days,
        } => {
            let scopes = if *read_only {
                json!(["read"])
            } else {
                json!(["read", "write"])
            };
            let body =
                json!({ "name": name, "scopes": scopes, "expires_in_days": expires_in_days });
            let created = client
                .request(Method::POST, &["tokens"], Some(&body))
                .await?;
            if json {
                print_json(&created)?;
            } else {
                // Only the token on stdout, so `TOKEN=$(catwalk api-token new ci)` works.
                print_out(&format!("{}\n", cell(&created["token"])))?;
                eprintln!("new API token {name:?}: it is shown only once");
            }
        }
        ApiTokenCommand::Revoke { id } => {
            client
                .request(Method::DELETE, &["tokens", id], None)
                .await?;
            if json {
                print_json(&json!({ "revoked": id }))?;
            } else {
                print_out(&format!("revoked {id}\n"))?;
            }
        }
    }
    Ok(ExitStatus::Success)
}
