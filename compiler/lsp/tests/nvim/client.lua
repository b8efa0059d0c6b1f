-- A real editor as the client of `pipc lsp`: Neovim's built-in LSP client, headless.
-- Started by compiler/cli/tests/lsp_neovim.rs with
--   nvim --headless --clean -u NONE -i NONE -n -c "luafile client.lua"
-- and the environment: PIP_PIPC (the pipc binary), PIP_SPEC (a spec file to open, with one
-- unresolved `evidence` reference and lines the formatter re-indents), PIP_OUT (where to write
-- what happened, as JSON). Every wait is a generous deadline on an outcome; the Rust test
-- asserts the outcomes, never the times. Works on Neovim 0.7 (Debian's) and later.

local pipc = os.getenv("PIP_PIPC")
local spec = os.getenv("PIP_SPEC")
local out = os.getenv("PIP_OUT")
local DEADLINE_MS = 60000
local results = { steps = {} }

local function write_and_quit()
  local f = io.open(out, "w")
  if f then
    f:write(vim.fn.json_encode(results))
    f:close()
  end
  vim.cmd("qa!")
end

-- Whatever happens, Neovim quits by itself (the Rust test also kills it by pid).
vim.defer_fn(function()
  results.error = "the script's own deadline passed"
  write_and_quit()
end, 5 * DEADLINE_MS)

local function find(buf, needle)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    local col = string.find(line, needle, 1, true)
    if col then
      return i - 1, col - 1
    end
  end
  error("not in the buffer: " .. needle)
end

local function run()
  vim.cmd("edit " .. vim.fn.fnameescape(spec))
  local buf = vim.api.nvim_get_current_buf()
  local initialized = false
  local client_id = vim.lsp.start_client({
    name = "pipc",
    cmd = { pipc, "lsp" },
    root_dir = vim.fn.fnamemodify(spec, ":h"),
    on_init = function()
      initialized = true
    end,
  })
  assert(client_id, "the client did not start")
  vim.lsp.buf_attach_client(buf, client_id)
  assert(vim.wait(DEADLINE_MS, function() return initialized end, 20), "the server did not initialize")
  local client = vim.lsp.get_client_by_id(client_id)
  table.insert(results.steps, "initialized")

  -- Diagnostics, published after didOpen.
  assert(vim.wait(DEADLINE_MS, function() return #vim.diagnostic.get(buf) > 0 end, 20), "no diagnostics")
  results.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    local lsp = (d.user_data and d.user_data.lsp) or {}
    table.insert(results.diagnostics, {
      line = d.lnum, col = d.col, end_col = d.end_col, message = d.message,
      code = d.code or lsp.code, severity = d.severity,
    })
  end
  table.insert(results.steps, "diagnostics")

  local uri = vim.uri_from_bufnr(buf)
  local function hover(needle, skip)
    local line, col = find(buf, needle)
    local r = client.request_sync("textDocument/hover",
      { textDocument = { uri = uri }, position = { line = line, character = col + skip } }, DEADLINE_MS, buf)
    assert(r and not r.err and r.result, "no hover on " .. needle)
    return r.result.contents.value
  end
  results.hover_keyword = hover("rate_limit", 1)
  results.hover_reference = hover("include ledger audit", 16)
  table.insert(results.steps, "hover")

  -- Go to definition through the editor's own handler: the cursor must land on the ledger.
  local line, col = find(buf, "include ledger audit")
  vim.api.nvim_win_set_cursor(0, { line + 1, col + 16 })
  vim.lsp.buf.definition()
  local def_line = find(buf, "ledger audit {")
  vim.wait(DEADLINE_MS, function() return vim.api.nvim_win_get_cursor(0)[1] == def_line + 1 end, 20)
  local cursor = vim.api.nvim_win_get_cursor(0)
  results.definition = { line = cursor[1] - 1, col = cursor[2] }
  table.insert(results.steps, "definition")

  -- Format the whole buffer.
  if vim.lsp.buf.format then
    vim.lsp.buf.format({ bufnr = buf, timeout_ms = DEADLINE_MS })
  else
    vim.lsp.buf.formatting_sync(nil, DEADLINE_MS)
  end
  results.formatted = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") .. "\n"
  table.insert(results.steps, "formatted")
end

local ok, err = pcall(run)
if not ok then
  results.error = tostring(err)
end
write_and_quit()
