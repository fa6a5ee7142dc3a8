//! Host bindings of the tool world (`sdk/wit`): the `tool` export every
//! component implements and the imports the capabilities serve
//! (`fathom:tool/http` by `caps::network`, `search-index` by `caps::search`,
//! `summary-model` by `caps::summary`). Shared by the runtime and the
//! capabilities, owned by neither.

wasmtime::component::bindgen!({
    path: "../sdk/wit",
    world: "tool",
    imports: {
        "fathom:tool/http.fetch": async,
        "fathom:tool/search-index.query": async,
        "fathom:tool/search-index.document": async,
        "fathom:tool/summary-model.complete": async,
    },
    exports: { default: async },
});
