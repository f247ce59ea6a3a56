//! Every typed read of JSON in Piket goes through here: the text is parsed into a
//! [`serde_json::Value`] first, then read as the type. What people type or bring (files, pasted
//! alerts, forms) is read with [`serde_path_to_error`] so that a problem names its place
//! (`levels[2].ack_timeout: …`); what Piket wrote itself (stored rows, settings, its tabs'
//! messages) is read straight from the `Value` ([`stored_from_value`]), which is all the first
//! screen's module needs.
//!
//! Why one deserializer: serde generates each type's reading code once per deserializer it is read
//! with. Reading the same records from text, from a `Value`, through path tracking and from
//! IndexedDB's JS objects gave four copies of every record type's code in the wasm bundle; reading
//! them all one way keeps one. A parse to `Value` first costs a little time, which the readers
//! that matter (IndexedDB pages, backups) win back by skipping JS-object conversion field by field.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A read that failed: where (a path such as `stores.people[3].value.name`, empty for the whole
/// document) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    pub path: String,
    pub message: String,
    /// The text was not JSON at all (rather than JSON of the wrong shape).
    pub syntax: bool,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for PathError {}

/// Parses `text` as JSON, without reading it as any type yet.
pub fn parse(text: &str) -> Result<Value, PathError> {
    serde_json::from_str::<Value>(text).map_err(|e| PathError { path: String::new(), message: e.to_string(), syntax: true })
}

/// Reads `text` as a `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, PathError> {
    from_value(parse(text)?)
}

/// Reads `bytes` (UTF-8 JSON) as a `T`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PathError> {
    let value = serde_json::from_slice::<Value>(bytes).map_err(|e| PathError { path: String::new(), message: e.to_string(), syntax: true })?;
    from_value(value)
}

/// Reads a parsed `value` as a `T`.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, PathError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        PathError { path: if path == "." { String::new() } else { path }, message: e.into_inner().to_string(), syntax: false }
    })
}

/// Reads a `value` Piket wrote itself (a stored record, a setting, a message between its own tabs
/// or from its service worker) as a `T`, without tracking the path. Such data is read on every
/// start and fails only when storage was damaged, so the error names the record (the caller adds
/// it) and what is wrong, not the field. Path tracking is kept for what people type and the files
/// they bring ([`from_value`]); the startup path then carries no `serde_path_to_error` code, which
/// is about a quarter of the first screen's serde code in the wasm bundle.
pub fn stored_from_value<T: DeserializeOwned>(value: Value) -> Result<T, PathError> {
    T::deserialize(value).map_err(|e| PathError { path: String::new(), message: e.to_string(), syntax: false })
}

/// Like [`stored_from_value`], from UTF-8 bytes.
pub fn stored_from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PathError> {
    let value = serde_json::from_slice::<Value>(bytes).map_err(|e| PathError { path: String::new(), message: e.to_string(), syntax: true })?;
    stored_from_value(value)
}

/// Like [`stored_from_value`], from text.
pub fn stored_from_str<T: DeserializeOwned>(text: &str) -> Result<T, PathError> {
    stored_from_value(parse(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Level {
        minutes: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Policy {
        levels: Vec<Level>,
    }

    #[test]
    fn stored_reads_agree_with_tracked_ones_and_still_say_what_is_wrong() {
        let good = r#"{"levels": [{"minutes": 5}]}"#;
        assert_eq!(stored_from_str::<Policy>(good).unwrap(), from_str::<Policy>(good).unwrap());
        let err = stored_from_str::<Policy>(r#"{"levels": [{"minutes": "soon"}]}"#).unwrap_err();
        assert!(err.message.contains("invalid type") && err.message.contains("soon"), "{err}");
        assert!(!err.syntax);
        assert!(stored_from_str::<Policy>("{").unwrap_err().syntax);
    }

    #[test]
    fn a_wrong_field_is_named_by_its_path() {
        let err = from_str::<Policy>(r#"{"levels": [{"minutes": 5}, {"minutes": "soon"}]}"#).unwrap_err();
        assert_eq!(err.path, "levels[1].minutes");
        assert!(err.message.contains("invalid type"), "{err}");
        assert!(!err.syntax);
        assert_eq!(err.to_string(), format!("levels[1].minutes: {}", err.message));
    }

    #[test]
    fn text_that_is_not_json_is_a_syntax_error_with_its_line() {
        let err = from_str::<Policy>("{\n  \"levels\": [\n").unwrap_err();
        assert!(err.syntax);
        assert_eq!(err.path, "");
        assert!(err.message.contains("line 3"), "{err}");
    }

    #[test]
    fn a_problem_with_the_whole_document_has_no_path() {
        let err = from_value::<Policy>(serde_json::json!("a policy")).unwrap_err();
        assert_eq!(err.path, "");
        assert_eq!(from_slice::<Policy>(br#"{"levels": [{"minutes": 3}]}"#), Ok(Policy { levels: vec![Level { minutes: 3 }] }));
    }
}
