//! Identifiers: one type per kind of thing, so an incident id can never be passed where a person
//! id is wanted.
//!
//! Each id is a string underneath and is written as that bare string (`"alice"`, not
//! `{"0": "alice"}`), so files, backups and stored records read the same as before. It reads as a
//! `&str` (`Deref`, `Borrow`), so maps keyed by an id are looked up with a plain `&str` too.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> $name {
                $name(id.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        /// Written like the string itself, so messages read as they did when ids were strings.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self.0.as_str(), f)
            }
        }

        /// Quoted, like a string's.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.0.as_str(), f)
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(id.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    )+};
}

ids! {
    /// An incident. The runtime makes it (a UUID) and passes it in, so the engine stays
    /// deterministic.
    IncidentId;
    /// A person (a UUID string), kept across edits, exports and imports.
    PersonId;
    /// An escalation policy.
    PolicyId;
    /// An on-call schedule.
    ScheduleId;
    /// A team.
    TeamId;
    /// A channel to post to.
    ChannelId;
    /// A rule.
    RuleId;
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    #[test]
    fn an_id_is_written_as_its_bare_string() {
        let id = IncidentId::new("inc-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""inc-1""#);
        assert_eq!(serde_json::from_str::<IncidentId>(r#""inc-1""#).unwrap(), id);
        assert_eq!(serde_json::to_string(&Some(PersonId::from("alice"))).unwrap(), r#""alice""#);
    }

    #[test]
    fn an_id_prints_and_compares_like_its_string() {
        let id = PersonId::from("alice");
        assert_eq!(id.to_string(), "alice");
        assert_eq!(format!("{id:?}"), r#""alice""#);
        assert_eq!(format!("[{id:>7}]"), "[  alice]");
        let owned = String::from("alice");
        assert!(id == "alice" && id == *"alice" && id == owned);
        assert!("alice" == id && *"alice" == id && owned == id);
        assert_eq!(id.as_str(), "alice");
        assert_eq!(String::from(id), "alice");
    }

    #[test]
    fn maps_keyed_by_an_id_are_looked_up_with_a_str() {
        let hash: HashMap<TeamId, u32> = [(TeamId::new("db"), 1)].into();
        let tree: BTreeMap<RuleId, u32> = [(RuleId::new("r1"), 2)].into();
        assert_eq!(hash.get("db"), Some(&1));
        assert_eq!(tree.get("r1"), Some(&2));
    }
}
