//! `pipc lsp`: a language server for `.pips` specs, over LSP on stdio.
//!
//! It answers from the front end alone, so an editor sees what `pipc check` and `pipc fmt`
//! see: a document is checked with the other `.pips` files of its folder (open documents as
//! the editor holds them, the others from disk) and every file's diagnostics are published;
//! hovers quote `docs/language.md`; names resolve through the syntax trees' spans.
//!
//! Modules, bottom up: `position` (protocol positions ↔ byte offsets), `lexical` (what the
//! text alone says, for files mid-edit), `docs` (the language reference), `workspace` (open
//! documents, a document's folder), `index` (definitions and uses of names), then one module
//! per answer (`diagnostics`, `hover`, `completion`, `edit`), and `server`, the dispatch.

mod completion;
mod diagnostics;
mod docs;
mod edit;
mod hover;
mod index;
mod lexical;
mod position;
mod server;
mod workspace;

use lsp_server::{Connection, Message};
use lsp_types::{
    CompletionOptions, HoverProviderCapability, InitializeResult, OneOf, ServerCapabilities, ServerInfo, TextDocumentSyncCapability,
    TextDocumentSyncKind,
};

/// Why the server stopped other than by the protocol's `shutdown` and `exit`.
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "language server: {}", self.0)
    }
}

impl std::error::Error for Error {}

impl From<lsp_server::ProtocolError> for Error {
    fn from(e: lsp_server::ProtocolError) -> Self {
        Error(e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error(e.to_string())
    }
}

impl<T> From<crossbeam_channel::SendError<T>> for Error {
    fn from(_: crossbeam_channel::SendError<T>) -> Self {
        Error("the client went away".to_string())
    }
}

/// Serves on stdin/stdout until the client shuts the server down (what `pipc lsp` runs).
pub fn run_stdio() -> Result<(), Error> {
    let (connection, io_threads) = Connection::stdio();
    serve(&connection)?;
    drop(connection);
    io_threads.join()?;
    Ok(())
}

/// What the server can do, as announced to the client.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec!["=".to_string(), " ".to_string()]),
            ..CompletionOptions::default()
        }),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    }
}

/// Serves one client on `connection`: the initialize handshake, then every message until
/// `shutdown` (tests drive it over [`Connection::memory`]).
pub fn serve(connection: &Connection) -> Result<(), Error> {
    let (id, _params) = connection.initialize_start()?;
    let result = InitializeResult {
        capabilities: capabilities(),
        server_info: Some(ServerInfo { name: "pipc".to_string(), version: Some(pip_frontend::VERSION.to_string()) }),
    };
    connection.initialize_finish(id, serde_json::to_value(result)?)?;
    let mut server = server::Server::default();
    for message in &connection.receiver {
        match message {
            Message::Request(r) => {
                if connection.handle_shutdown(&r)? {
                    return Ok(());
                }
                server.request(connection, r)?;
            }
            Message::Notification(n) => server.notify(connection, n)?,
            Message::Response(_) => {}
        }
    }
    Ok(())
}
