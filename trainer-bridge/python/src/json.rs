//! JSON text as the Python side receives it: ASCII only, so that every observation lies
//! in the declared `Text` space whatever the logs contain.

use serde::Serialize;

/// Serializes `value` compactly and escapes every character outside printable ASCII.
pub fn ascii_json<T: Serialize + ?Sized>(value: &T) -> String {
    // Serializing the types the gym returns cannot fail: they hold only strings, numbers
    // and maps with string keys. The fallback keeps the bridge total all the same.
    let text = serde_json::to_string(value)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialize: {e}\"}}"));
    escape_non_ascii(text)
}

/// Replaces each character outside printable ASCII with a `\uXXXX` escape. serde_json
/// escapes control characters already, so the others can only sit inside strings,
/// where the escape means the same character.
pub fn escape_non_ascii(text: String) -> String {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut units = [0u16; 2];
    for c in text.chars() {
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_is_escaped_and_round_trips() {
        let value = serde_json::json!({"msg": "naïve — 🦀\u{7f}", "n": 1});
        let text = ascii_json(&value);
        assert!(text.bytes().all(|b| (0x20..0x7f).contains(&b)), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, value);
    }
}
