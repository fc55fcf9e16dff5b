fn main() -> std::process::ExitCode {
    wacme::cli::main()
}
