//! What a deployment's server is given that may be secret: its environment variables and its
//! command-line argument values. Both are stored together, encrypted by the vault.

use std::collections::BTreeMap;

use catwalk_analyze::ServerSpec;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Credentials {
    pub env: BTreeMap<String, String>,
    /// Values of the spec's argument fields, by field name.
    #[serde(default)]
    pub args: BTreeMap<String, Vec<String>>,
}

impl Credentials {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("credentials serialize")
    }

    /// Reads what [`Credentials::to_json`] wrote, or the earlier format (the environment map
    /// alone), so deployments stored before argument fields existed keep working.
    pub fn from_json(plain: &[u8]) -> Option<Credentials> {
        if let Ok(env) = serde_json::from_slice::<BTreeMap<String, String>>(plain) {
            return Some(Credentials {
                env,
                args: BTreeMap::new(),
            });
        }
        serde_json::from_slice(plain).ok()
    }

    /// Whether these values can start the server the spec describes: every required variable
    /// and argument has a value, and every name is one a process environment accepts. The
    /// message names what is wrong, never a value.
    pub fn check(&self, spec: &ServerSpec) -> Result<(), String> {
        let missing: Vec<&str> = spec
            .env
            .iter()
            .filter(|var| var.required && self.env.get(&var.name).is_none_or(|v| v.is_empty()))
            .map(|var| var.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "missing required environment variables: {}; give each a value",
                missing.join(", ")
            ));
        }
        if let Some(bad) = self.env.keys().find(|k| !valid_env_name(k)) {
            return Err(format!("{bad:?} is not a valid environment variable name"));
        }
        spec.command_args(&self.args)
            .map(drop)
            .map_err(|missing| missing.to_string())
    }

    /// Every value, for redacting logs: argument values may be as secret as variables.
    pub fn values(&self) -> impl Iterator<Item = String> + '_ {
        self.env
            .values()
            .chain(self.args.values().flatten())
            .filter(|value| !value.is_empty())
            .cloned()
    }
}

/// An edit of a deployment's values: each name given a value is set, each given `null` is
/// removed, the rest stay, unless `replace` starts from nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialChange {
    #[serde(default)]
    pub env: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub args: BTreeMap<String, Option<Vec<String>>>,
    #[serde(default)]
    pub replace: bool,
}

impl CredentialChange {
    pub fn apply(self, mut credentials: Credentials) -> Credentials {
        for (name, value) in self.env {
            match value {
                Some(value) => credentials.env.insert(name, value),
                None => credentials.env.remove(&name),
            };
        }
        for (name, values) in self.args {
            match values {
                Some(values) => credentials.args.insert(name, values),
                None => credentials.args.remove(&name),
            };
        }
        credentials
    }
}

fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_read_back() {
        let old = br#"{"API_KEY":"k"}"#;
        let read = Credentials::from_json(old).unwrap();
        assert_eq!(read.env["API_KEY"], "k");
        assert!(read.args.is_empty());

        let new = Credentials {
            env: BTreeMap::from([("A".into(), "1".into())]),
            args: BTreeMap::from([("root".into(), vec!["/srv".into(), "/tmp".into()])]),
        };
        let read = Credentials::from_json(&new.to_json()).unwrap();
        assert_eq!(read.env, new.env);
        assert_eq!(read.args, new.args);
        assert_eq!(read.values().collect::<Vec<_>>(), ["1", "/srv", "/tmp"]);
        assert!(Credentials::from_json(b"not json").is_none());
    }

    #[test]
    fn a_change_sets_removes_and_keeps() {
        let stored = Credentials {
            env: BTreeMap::from([
                ("KEEP".into(), "k".into()),
                ("DROP".into(), "d".into()),
                ("EDIT".into(), "old".into()),
            ]),
            args: BTreeMap::from([("root".into(), vec!["/a".into()])]),
        };
        let change: CredentialChange = serde_json::from_str(
            r#"{"env": {"DROP": null, "EDIT": "new", "ADD": "a"}, "args": {"root": null}}"#,
        )
        .unwrap();
        let edited = change.apply(stored.clone());
        assert_eq!(
            edited.env,
            BTreeMap::from([
                ("ADD".into(), "a".into()),
                ("EDIT".into(), "new".into()),
                ("KEEP".into(), "k".into()),
            ])
        );
        assert!(edited.args.is_empty());

        let replacing: CredentialChange =
            serde_json::from_str(r#"{"env": {"ONLY": "o"}, "replace": true}"#).unwrap();
        assert!(replacing.replace);
        let replaced = replacing.apply(Credentials::default());
        assert_eq!(replaced.env, BTreeMap::from([("ONLY".into(), "o".into())]));
        assert!(serde_json::from_str::<CredentialChange>(r#"{"envs": {}}"#).is_err());
    }
}
