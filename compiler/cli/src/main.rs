//! `pipc`: parses the command line and hands it to [`pipc::run`].

fn main() -> std::process::ExitCode {
    // Not locked for the whole run: `pipc lsp` writes stdout from its own writer thread.
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr().lock();
    let code = pipc::run(std::env::args_os(), &mut stdout, &mut stderr);
    std::process::ExitCode::from(code)
}
