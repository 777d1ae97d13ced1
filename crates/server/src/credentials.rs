//! What a deployment's server is given that may be secret: its environment variables and its
//! command-line argument values. Both are stored together, encrypted by the vault.

use std::collections::BTreeMap;

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

    /// Every value, for redacting logs: argument values may be as secret as variables.
    pub fn values(&self) -> impl Iterator<Item = String> + '_ {
        self.env
            .values()
            .chain(self.args.values().flatten())
            .filter(|value| !value.is_empty())
            .cloned()
    }
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
}
