//! Host bindings for the `wasmon:check` WIT package: the one `bindgen!` of the agent.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "full-check",
    imports: { "wasmon:check/exec": async, "wasmon:check/mysql": async },
    exports: { default: async },
});
