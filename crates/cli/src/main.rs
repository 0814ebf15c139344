//! The `cpm` binary: a thin clap front end over `cpm-sip`, `cpm-store` and `cpm-node`.
//!
//! Owns: command-line parsing, logging setup, exit codes and human-facing output. Protocol
//! work stays in the library crates; `anyhow` is used here only.

mod config;
mod serve;
mod sip_parse;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// cpm: an OMA CPM messaging network (SIP/IP Core, Conversation Server, SMS and email
/// interworking) in one binary.
#[derive(Debug, Parser)]
#[command(name = "cpm", version, propagate_version = true)]
struct Cli {
    /// Data directory: the user store (cpm.sqlite) and the generated secret.
    #[arg(long, global = true, value_name = "DIR", default_value = "./cpm-data")]
    data: PathBuf,

    /// TOML configuration file (see docs/configuration.md and `cpm config sample`); without
    /// it, embedded defaults apply.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

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
    /// Manage users (stored in the data directory): add, list, remove, passwd.
    ///
    /// Exit status: 0 on success, 1 when refused (duplicate user or alias, no such user),
    /// 2 on a usage error or when the store or configuration cannot be read.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file and print the effective configuration (defaults
    /// filled in) as TOML.
    ///
    /// Exit status: 0 when valid, 1 when not (file, line and the fault on stderr), 2 when
    /// the file cannot be read.
    Check {
        /// The file (default: the global --config; without either, the embedded defaults).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Print a commented sample configuration file.
    Sample,
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
        Command::Serve(args) => serve::run(args, &cli.data, cli.config.as_deref()),
        Command::Sip(SipCommand::Parse(args)) => sip_parse::run(args),
        Command::User(cmd) => user::run(cmd, &cli.data, cli.config.as_deref()),
        Command::Config(ConfigCommand::Check { file }) => {
            config_check(file.as_deref().or(cli.config.as_deref()))
        }
        Command::Config(ConfigCommand::Sample) => {
            print!("{}", config::SAMPLE);
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `cpm config check`: 0 valid (effective config on stdout), 1 invalid, 2 unreadable.
fn config_check(file: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    match config::load(file, &config::Overrides::default()) {
        Ok(c) => {
            print!("{}", c.to_toml()?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.downcast_ref::<config::ConfigError>().is_some() => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e),
    }
}
