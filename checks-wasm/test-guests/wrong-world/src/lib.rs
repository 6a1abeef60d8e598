//! A component that exports something other than `wasmon:check/check`.

wit_bindgen::generate!({
    inline: "package other:thing;\nworld greeter { export hello: func() -> string; }",
});

/// The exported implementation.
pub struct Greeter;

impl Guest for Greeter {
    fn hello() -> String {
        "hello".into()
    }
}

#[cfg(target_family = "wasm")]
export!(Greeter);
