//! The `cpm` binary: a thin clap front end over `cpm-sip` and `cpm-node`.
//!
//! Owns: command-line parsing, logging setup, exit codes and human-facing output. Protocol
//! work stays in the library crates; `anyhow` is used here only.

mod serve;
mod sip_parse;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// cpm: an OMA CPM messaging network (SIP/IP Core, Conversation Server, SMS and email
/// interworking) in one binary.
#[derive(Debug, Parser)]
#[command(name = "cpm", version, propagate_version = true)]
struct Cli {
    /// Data directory for the store and traces (reserved: not used yet).
    #[arg(long, global = true, value_name = "DIR", default_value = "./cpm-data")]
    data: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the SIP server: answers OPTIONS with 200, anything else with the right SIP error.
    Serve(serve::ServeArgs),
    /// SIP tools.
    #[command(subcommand)]
    Sip(SipCommand),
}

#[derive(Debug, Subcommand)]
enum SipCommand {
    /// Parse one SIP message and print its structure as JSON.
    ///
    /// Exit status: 0 when the message is valid (JSON on stdout), 1 when it is not (the
    /// fault, its byte offset and the response a server would send, on stderr), 2 when the
    /// input cannot be read.
    Parse(sip_parse::ParseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args, &cli.data),
        Command::Sip(SipCommand::Parse(args)) => sip_parse::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
