// Tokenizes every bundled spec with the real TextMate engine VS Code uses (vscode-textmate
// with the Oniguruma regex engine) and checks the grammar against an independent reading of
// the same lines: every construct keyword at the start of a line has the keyword scope,
// every character of a string, PromQL backtick expression and comment has its scope (and no
// other character does), and no line leaves the grammar inside a rule it should have closed.
//
// Usage: node tests/grammar.test.js [repo root]. The construct keywords come from the
// environment (PIPS_KEYWORDS, comma-separated), which compiler/lsp/tests/editor_grammar.rs
// fills from the compiler's registry; without it, from the grammar itself.
"use strict";

const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const here = __dirname;
const root = path.resolve(process.argv[2] || path.join(here, "..", "..", ".."));
const grammarPath = path.join(here, "..", "syntaxes", "pips.tmLanguage.json");
const KEYWORD = "keyword.declaration.construct.pips";
const SCOPES = { string: "string.quoted.double.pips", promql: "string.interpolated.promql.pips", comment: "comment." };

function specFiles() {
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith(".pips")) out.push(p);
    }
  };
  walk(path.join(root, "specs"));
  const valid = path.join(root, "tests", "fixtures", "valid");
  for (const n of fs.readdirSync(valid).sort()) if (n.endsWith(".pips")) out.push(path.join(valid, n));
  return out.sort();
}

// The class of every character of every line ("code", "string", "promql", "comment"),
// following the compiler's grammar (compiler/frontend/src/grammar.pest): strings end at the
// line's end, PromQL and block comments may span lines.
function classify(lines) {
  let state = "code";
  return lines.map((line) => {
    const classes = [];
    const startState = state;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (state === "comment-block") {
        classes.push("comment");
        if (c === "*" && line[i + 1] === "/") { classes.push("comment"); i++; state = "code"; }
        continue;
      }
      if (state === "promql") {
        classes.push("promql");
        if (c === "`") state = "code";
        continue;
      }
      if (state === "string") {
        classes.push("string");
        if (c === "\\" && i + 1 < line.length) { classes.push("string"); i++; continue; }
        if (c === "\"") state = "code";
        continue;
      }
      if (c === "/" && line[i + 1] === "/") { while (classes.length < line.length) classes.push("comment"); break; }
      if (c === "/" && line[i + 1] === "*") { classes.push("comment", "comment"); i++; state = "comment-block"; continue; }
      if (c === "`") { classes.push("promql"); state = "promql"; continue; }
      if (c === "\"") { classes.push("string"); state = "string"; continue; }
      classes.push("code");
    }
    if (state === "string") state = "code"; // an unclosed string ends with its line
    return { classes, startState, endState: state };
  });
}

async function main() {
  const wasm = fs.readFileSync(path.join(path.dirname(require.resolve("vscode-oniguruma")), "onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) =>
      scope === "source.pips" ? vsctm.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath) : null,
  });
  const grammar = await registry.loadGrammar("source.pips");
  const raw = JSON.parse(fs.readFileSync(grammarPath, "utf8"));
  const fromGrammar = /\(([^()]*)\)/.exec(raw.repository.construct.match)[1].split("|");
  const keywords = process.env.PIPS_KEYWORDS ? process.env.PIPS_KEYWORDS.split(",") : fromGrammar;

  const failures = [];
  let lineCount = 0;
  let keywordCount = 0;
  const files = specFiles();
  for (const file of files) {
    const rel = path.relative(root, file);
    const lines = fs.readFileSync(file, "utf8").replace(/\r/g, "").split("\n");
    const expected = classify(lines);
    let stack = vsctm.INITIAL;
    lines.forEach((line, n) => {
      lineCount++;
      const where = `${rel}:${n + 1}`;
      const r = grammar.tokenizeLine(line, stack);
      stack = r.ruleStack;
      const scopesAt = (i) => (r.tokens.find((t) => t.startIndex <= i && i < t.endIndex) || { scopes: [] }).scopes;
      const first = /^\s*([A-Za-z_][A-Za-z0-9_-]*)/.exec(line);
      if (first && expected[n].startState === "code" && keywords.includes(first[1])) {
        keywordCount++;
        const at = line.indexOf(first[1]);
        if (!scopesAt(at).includes(KEYWORD)) failures.push(`${where}: \`${first[1]}\` lacks ${KEYWORD}: ${scopesAt(at).join(" ")}`);
      }
      expected[n].classes.forEach((cls, i) => {
        const scopes = scopesAt(i).join(" ");
        for (const [name, scope] of Object.entries(SCOPES)) {
          const has = scopes.includes(scope);
          if (cls === name && !has) failures.push(`${where}:${i + 1}: a ${name} character lacks ${scope}: ${scopes}`);
          if (cls !== name && has) failures.push(`${where}:${i + 1}: a ${cls} character has ${scope}: ${scopes}`);
        }
      });
      // Outside a multi-line PromQL expression or block comment the grammar is back at its root.
      if (expected[n].endState === "code" && stack.depth !== 1) {
        failures.push(`${where}: the line leaves the grammar inside a rule (depth ${stack.depth})`);
      }
    });
    if (stack.depth !== 1) failures.push(`${rel}: the file ends inside a rule`);
  }
  if (keywordCount === 0) failures.push("no construct keyword found at a line start: the inputs are wrong");
  const summary = `${files.length} files, ${lineCount} lines, ${keywordCount} construct keywords`;
  if (failures.length) {
    console.error(`grammar check failed (${summary}):\n` + failures.slice(0, 50).join("\n"));
    process.exit(1);
  }
  console.log(`grammar ok: ${summary}`);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
