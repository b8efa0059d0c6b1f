// The VS Code side of `pipc lsp`: starts the server for `.pips` documents and hands it to
// VS Code's language client. Everything the editor shows comes from the server.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("pips").get("server.path") || "pipc";
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "pips",
    "pip specs",
    { run: server, debug: server },
    {
      documentSelector: [{ scheme: "file", language: "pips" }, { scheme: "untitled", language: "pips" }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.pips") },
    },
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
