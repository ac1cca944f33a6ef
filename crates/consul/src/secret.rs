//! A string that must never be printed: ACL tokens and bearer tokens.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A secret string (an ACL token `SecretID`, a login bearer token).
///
/// `Debug` and `Display` print `***`, so a secret can sit inside any struct that derives
/// `Debug` and still never reach a log line or an error message. The value is only
/// reachable through [`Secret::expose`], which makes every use greppable.
///
/// It serialises to the plain value because it has to go on the wire (request bodies);
/// never serialise a struct holding a `Secret` for logging.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for putting it on the wire or into a file. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (no token).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Consul sends `null` for absent strings in a few places; treat it as empty.
        Ok(Secret(
            Option::<String>::deserialize(deserializer)?.unwrap_or_default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("8b0e1c8d-2f7d-4b8e-9a3c-7a1c2b9e6d54");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "8b0e1c8d-2f7d-4b8e-9a3c-7a1c2b9e6d54");
    }

    #[test]
    fn serde_round_trips_the_plain_value() {
        let s: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(s.expose(), "abc");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"abc\"");
        let n: Secret = serde_json::from_str("null").unwrap();
        assert!(n.is_empty());
    }
}
