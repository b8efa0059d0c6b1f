//! `pipc`: parses the command line and hands it to [`pipc::run`].

fn main() -> std::process::ExitCode {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let code = pipc::run(std::env::args_os(), &mut stdout, &mut stderr);
    std::process::ExitCode::from(code)
}
