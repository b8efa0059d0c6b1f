//! The server's state and its dispatch: each notification updates the documents and
//! republishes diagnostics, each request is answered from a fresh look at the document's
//! folder (specs are small; checking one takes milliseconds, so nothing is cached).

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _, PublishDiagnostics, ShowMessage,
};
use lsp_types::request::{Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, References, Request as _};
use lsp_types::{
    CompletionParams, CompletionResponse, DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    DocumentFormattingParams, DocumentSymbolParams, DocumentSymbolResponse, GotoDefinitionParams, GotoDefinitionResponse, HoverParams,
    Location, MessageType, PublishDiagnosticsParams, ReferenceParams, ShowMessageParams, TextDocumentPositionParams, Url,
};
use serde::de::DeserializeOwned;

use crate::index::Index;
use crate::workspace::{Documents, Folder};
use crate::{Error, completion, diagnostics, edit, hover, position};

/// What the server holds between messages.
#[derive(Default)]
pub struct Server {
    documents: Documents,
}

impl Server {
    /// Handles one notification from the client.
    pub fn notify(&mut self, connection: &Connection, n: Notification) -> Result<(), Error> {
        let uri = match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Some(p) = params::<DidOpenTextDocumentParams>(n.params) else { return Ok(()) };
                self.documents.set(p.text_document.uri.clone(), p.text_document.text);
                p.text_document.uri
            }
            DidChangeTextDocument::METHOD => {
                let Some(p) = params::<DidChangeTextDocumentParams>(n.params) else { return Ok(()) };
                // Full sync: the last change holds the whole text.
                let Some(change) = p.content_changes.into_iter().next_back() else { return Ok(()) };
                self.documents.set(p.text_document.uri.clone(), change.text);
                p.text_document.uri
            }
            DidCloseTextDocument::METHOD => {
                let Some(p) = params::<DidCloseTextDocumentParams>(n.params) else { return Ok(()) };
                self.documents.close(&p.text_document.uri);
                p.text_document.uri
            }
            _ => return Ok(()),
        };
        self.publish(connection, &uri)
    }

    /// Checks the folder of `uri` and publishes every file's diagnostics.
    fn publish(&self, connection: &Connection, uri: &Url) -> Result<(), Error> {
        let folder = self.documents.folder_of(uri);
        for (uri, diagnostics) in diagnostics::check(&folder) {
            let params = PublishDiagnosticsParams { uri, diagnostics, version: None };
            connection.sender.send(Message::Notification(Notification::new(PublishDiagnostics::METHOD.to_string(), params)))?;
        }
        Ok(())
    }

    /// Answers one request from the client.
    pub fn request(&mut self, connection: &Connection, r: Request) -> Result<(), Error> {
        let id = r.id.clone();
        let response = match r.method.as_str() {
            HoverRequest::METHOD => {
                self.at::<HoverParams, _>(r, |p| p.text_document_position_params, |f, i, file, at| ok(hover::hover(f, i, file, at)))
            }
            GotoDefinition::METHOD => self.at::<GotoDefinitionParams, _>(
                r,
                |p| p.text_document_position_params,
                |f, i, file, at| {
                    let target = i.at(file, at).and_then(|t| {
                        let (name, spec) = t.name();
                        i.definition(name, spec)
                    });
                    ok(target.and_then(|d| location(f, d.name_span)).map(GotoDefinitionResponse::Scalar))
                },
            ),
            References::METHOD => {
                let declaration = params::<ReferenceParams>(r.params.clone()).is_some_and(|p| p.context.include_declaration);
                self.at::<ReferenceParams, _>(
                    r,
                    |p| p.text_document_position,
                    |f, i, file, at| {
                        let Some(t) = i.at(file, at) else { return ok(None::<Vec<Location>>) };
                        let (name, spec) = t.name();
                        let definition = i.definition(name, spec).filter(|_| declaration).map(|d| d.name_span);
                        let spans = definition.into_iter().chain(i.references_to(name, spec).map(|r| r.span));
                        ok(Some(spans.filter_map(|s| location(f, s)).collect::<Vec<_>>()))
                    },
                )
            }
            Completion::METHOD => self.at::<CompletionParams, _>(
                r,
                |p| p.text_document_position,
                |f, i, file, at| ok(Some(CompletionResponse::Array(completion::complete(f, i, file, at)))),
            ),
            DocumentSymbolRequest::METHOD => match params::<DocumentSymbolParams>(r.params) {
                Some(p) => {
                    let folder = self.documents.folder_of(&p.text_document.uri);
                    let index = Index::build(&folder);
                    let symbols = folder.id(&p.text_document.uri).map(|file| edit::symbols(&folder, &index, file)).unwrap_or_default();
                    ok(Some(DocumentSymbolResponse::Nested(symbols)))
                }
                None => invalid(),
            },
            Formatting::METHOD => match params::<DocumentFormattingParams>(r.params) {
                Some(p) => match self.documents.text(&p.text_document.uri).map(|t| edit::format(&t)) {
                    Some(Ok(edits)) => ok(Some(edits)),
                    Some(Err(why)) => {
                        let show = ShowMessageParams { typ: MessageType::ERROR, message: why.clone() };
                        connection.sender.send(Message::Notification(Notification::new(ShowMessage::METHOD.to_string(), show)))?;
                        Err((ErrorCode::RequestFailed, why))
                    }
                    None => Err((ErrorCode::RequestFailed, "the document is neither open nor readable".to_string())),
                },
                None => invalid(),
            },
            other => Err((ErrorCode::MethodNotFound, format!("pipc lsp does not answer `{other}`"))),
        };
        connection.sender.send(Message::Response(respond(id, response)))?;
        Ok(())
    }

    /// Answers a request about a position in a document: the document's folder, its index,
    /// the file and the byte offset.
    fn at<P: DeserializeOwned, F>(&self, r: Request, pos: fn(P) -> TextDocumentPositionParams, answer: F) -> Answer
    where
        F: FnOnce(&Folder, &Index, pip_frontend::span::FileId, usize) -> Answer,
    {
        let Some(p) = params::<P>(r.params).map(pos) else { return invalid() };
        let folder = self.documents.folder_of(&p.text_document.uri);
        let Some(file) = folder.id(&p.text_document.uri) else { return ok(None::<()>) };
        let index = Index::build(&folder);
        let at = position::offset(folder.text(file), p.position);
        answer(&folder, &index, file, at)
    }
}

/// A request's result, or the error code and message to answer with.
type Answer = Result<serde_json::Value, (ErrorCode, String)>;

fn ok<T: serde::Serialize>(value: T) -> Answer {
    serde_json::to_value(value).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

fn invalid() -> Answer {
    Err((ErrorCode::InvalidParams, "the request's parameters do not have the protocol's shape".to_string()))
}

fn respond(id: RequestId, answer: Answer) -> Response {
    match answer {
        Ok(v) => Response { id, result: Some(v), error: None },
        Err((code, message)) => Response::new_err(id, code as i32, message),
    }
}

fn params<P: DeserializeOwned>(value: serde_json::Value) -> Option<P> {
    serde_json::from_value(value).ok()
}

fn location(folder: &Folder, span: pip_frontend::span::Span) -> Option<Location> {
    let uri = folder.uri(span.file)?.clone();
    Some(Location { uri, range: position::range(folder.text(span.file), span.start, span.end) })
}
