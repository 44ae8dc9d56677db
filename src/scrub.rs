//! PLACEHOLDER until the scrubber lands: structural JSON redaction only.
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Redactions(pub BTreeMap<String, u64>);
impl Redactions {
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
    pub fn add(&mut self, other: &Redactions) {
        for (k, v) in &other.0 {
            *self.0.entry(k.clone()).or_default() += v;
        }
    }
}
pub struct Scrubbed {
    pub bytes: Vec<u8>,
    pub redactions: Redactions,
}
#[derive(Debug, thiserror::Error)]
pub enum ScrubError {
    #[error("not JSON: {0}")]
    NotJson(String),
}
pub struct Scrubber {
    words: Vec<String>,
    public: Vec<String>,
}
impl Scrubber {
    pub fn new(secret_key_words: &[String], public_keys: &[String]) -> Result<Self, ScrubError> {
        Ok(Scrubber {
            words: secret_key_words.iter().map(|w| w.to_lowercase()).collect(),
            public: public_keys.iter().map(|w| w.to_lowercase()).collect(),
        })
    }
    pub fn scrub_text(&self, input: &[u8]) -> Scrubbed {
        Scrubbed {
            bytes: input.to_vec(),
            redactions: Redactions::default(),
        }
    }
    pub fn scrub_json_document(&self, input: &[u8]) -> Result<Scrubbed, ScrubError> {
        let mut value: serde_json::Value =
            serde_json::from_slice(input).map_err(|e| ScrubError::NotJson(e.to_string()))?;
        let mut r = Redactions::default();
        self.walk(&mut value, &mut r);
        Ok(Scrubbed {
            bytes: serde_json::to_vec(&value).unwrap(),
            redactions: r,
        })
    }
    fn walk(&self, v: &mut serde_json::Value, r: &mut Redactions) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, val) in map.iter_mut() {
                    let lower = k.to_lowercase();
                    if !self.public.contains(&lower)
                        && self.words.iter().any(|w| lower.contains(w.as_str()))
                    {
                        *val = serde_json::Value::String("[REDACTED:secret]".into());
                        *r.0.entry("secret".into()).or_default() += 1;
                    } else {
                        self.walk(val, r);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| self.walk(i, r)),
            _ => {}
        }
    }
}
