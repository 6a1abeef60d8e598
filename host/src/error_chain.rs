//! Errors in words, with their causes.

/// An error with its causes, `outer: inner: innermost` (a cause its parent already says is
/// not repeated): "error sending request" alone does not tell a refused connection from TLS
/// spoken to a plain port.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}
