//! What one request may ask for; anything beyond answers 4xx before it reaches the model.

use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted (bytes).
    pub max_body_bytes: usize,
    /// Most texts in one request.
    pub max_texts: usize,
    /// Longest text accepted (characters); longer inputs would be truncated to the model's token limit anyway.
    pub max_text_chars: usize,
    /// How long a request may wait for its answer (queue included) before it is answered 504.
    pub request_timeout: std::time::Duration,
    /// How long a client may take to send a request's head, and then its body; idle keep-alive connections are
    /// closed after it too. Bounds what slow or silent clients hold.
    pub read_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_texts: 64,
            max_text_chars: 10_000,
            request_timeout: std::time::Duration::from_secs(30),
            read_timeout: std::time::Duration::from_secs(10),
        }
    }
}

impl Limits {
    pub fn check(&self, texts: &[String]) -> Result<(), ApiError> {
        if texts.is_empty() {
            return Err(ApiError::bad_request(
                "\"texts\" is empty: send at least one text",
            ));
        }
        if texts.len() > self.max_texts {
            return Err(ApiError::too_large(format!(
                "{} texts in one request; the limit is {}: split the request",
                texts.len(),
                self.max_texts
            )));
        }
        if let Some((i, text)) = texts
            .iter()
            .enumerate()
            .find(|(_, t)| t.chars().count() > self.max_text_chars)
        {
            return Err(ApiError::too_large(format!(
                "text {i} has {} characters; the limit is {}",
                text.chars().count(),
                self.max_text_chars
            )));
        }
        if let Some(i) = texts.iter().position(|t| t.trim().is_empty()) {
            return Err(ApiError::bad_request(format!("text {i} is empty")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_too_many_and_too_long() {
        let limits = Limits {
            max_body_bytes: 100,
            max_texts: 2,
            max_text_chars: 5,
            ..Limits::default()
        };
        let texts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(limits.check(&texts(&["ok", "fine"])).is_ok());
        assert_eq!(limits.check(&[]).unwrap_err().status, 400);
        assert_eq!(
            limits.check(&texts(&["a", "b", "c"])).unwrap_err().status,
            413
        );
        assert_eq!(limits.check(&texts(&["toolong"])).unwrap_err().status, 413);
        assert_eq!(limits.check(&texts(&["  "])).unwrap_err().status, 400);
    }
}
