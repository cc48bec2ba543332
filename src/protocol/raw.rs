//! A JSON object whose values stay raw: only the top-level keys are parsed, so a passthrough can
//! rewrite `model` without touching (or re-encoding) long message histories or unknown fields.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// Top-level keys with raw values, in their original order.
#[derive(Debug, Default, Clone)]
pub struct RawObject(pub Vec<(String, Box<RawValue>)>);

impl RawObject {
    /// The raw value of a key.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    /// A key's value parsed as `T`.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self, key: &str) -> Option<T> {
        self.get(key).and_then(|v| serde_json::from_str(v.get()).ok())
    }

    /// Sets a key (replacing it in place, or appending).
    pub fn set(&mut self, key: &str, value: &impl Serialize) {
        let Ok(raw) = serde_json::value::to_raw_value(value) else {
            return;
        };
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = raw,
            None => self.0.push((key.to_string(), raw)),
        }
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    /// Serialises back to JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawObject, A::Error> {
                let mut v: Vec<(String, Box<RawValue>)> = Vec::with_capacity(m.size_hint().unwrap_or(8));
                // A duplicate key would give two views of one body (checked on the first, run by
                // the upstream on the last): refused. Linear scans while small, a set beyond.
                let mut seen: Option<std::collections::HashSet<String>> = None;
                while let Some((k, val)) = m.next_entry::<String, Box<RawValue>>()? {
                    let dup = match &mut seen {
                        Some(set) => !set.insert(k.clone()),
                        None => v.iter().any(|(old, _)| *old == k),
                    };
                    if dup {
                        let shown: String = k.chars().take(64).collect();
                        return Err(serde::de::Error::custom(format_args!("duplicate key `{shown}`")));
                    }
                    v.push((k, val));
                    if seen.is_none() && v.len() >= 32 {
                        seen = Some(v.iter().map(|(k, _)| k.clone()).collect());
                    }
                }
                Ok(RawObject(v))
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for RawObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_model_and_keeps_everything_else() {
        let body = r#"{"model":"mock/mock-model","messages":[{"role":"user","content":"hi"}],"x_unknown":{"a":[1,2]},"stream":true}"#;
        let mut o: RawObject = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(o.parse::<String>("model").as_deref(), Some("mock/mock-model"));
        o.set("model", &"mock-model");
        o.set("stream_options", &serde_json::json!({"include_usage": true}));
        let out: serde_json::Value = serde_json::from_slice(&o.to_vec()).unwrap_or_default();
        assert_eq!(out["model"], "mock-model");
        assert_eq!(out["x_unknown"]["a"][1], 2);
        assert_eq!(out["stream_options"]["include_usage"], true);
        assert!(serde_json::from_str::<RawObject>("[1]").is_err());
    }

    #[test]
    fn duplicate_top_level_keys_are_refused_small_and_large() {
        let e = serde_json::from_str::<RawObject>(r#"{"model":"a","x":1,"model":"b"}"#).err();
        assert!(e.is_some_and(|e| e.to_string().contains("duplicate key `model`")));
        let mut many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        assert!(serde_json::from_str::<RawObject>(&format!("{{{}}}", many.join(","))).is_ok());
        many.push("\"k3\":0".into());
        assert!(serde_json::from_str::<RawObject>(&format!("{{{}}}", many.join(","))).is_err());
        // Nested objects are values: their keys are not top-level keys.
        assert!(serde_json::from_str::<RawObject>(r#"{"a":{"model":1},"model":2}"#).is_ok());
    }
}
