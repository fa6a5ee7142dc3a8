//! Host bindings of the tool world (`sdk/wit`): the `tool` export every
//! component implements and the `fathom:tool/http` import the network
//! capability serves. Shared by the runtime and the capabilities, owned by
//! neither.

wasmtime::component::bindgen!({
    path: "../sdk/wit",
    world: "tool",
    imports: { "fathom:tool/http.fetch": async },
    exports: { default: async },
});
