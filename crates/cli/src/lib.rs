//! catwalk-cli: the `catwalk` command.
//!
//! Layers, outermost first: [`args`] holds the clap structs (their doc comments are the help
//! text), [`settings`] merges flags, environment variables and defaults into resolved settings,
//! and each module under [`commands`] takes resolved settings and returns an [`ExitStatus`].
//! Every HTTP call goes through [`client`], the one place that maps HTTP failures to errors.
//!
//! Output rule: stdout carries only data a script may pipe (tables, tokens, JSON); progress,
//! errors and hints go to stderr. No colour is used anywhere, so `NO_COLOR` holds trivially.

pub mod args;
pub mod client;
pub mod commands;
pub mod env_input;
pub mod error;
pub mod logins;
pub mod output;
pub mod settings;
pub mod spec_view;

use std::ffi::OsString;

use clap::Parser;

pub use error::{CliError, ExitStatus};

use args::{Cli, Command, VaultCommand};

use settings::Environment;

/// Parses `args` (program name first), runs the command and returns how the process should exit.
pub fn main<I, T>(args: I) -> ExitStatus
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(clap_error) => {
            // clap prints help and version to stdout and usage errors to stderr; its own exit
            // code is 0 for help/version and 2 for usage errors, which is our convention too.
            let _ = clap_error.print();
            return if clap_error.use_stderr() {
                ExitStatus::Usage
            } else {
                ExitStatus::Success
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(io_error) => {
            eprintln!("error: cannot start the async runtime: {io_error}");
            return ExitStatus::Failure;
        }
    };
    let environment = Environment::from_process();
    match runtime.block_on(run(cli, &environment)) {
        Ok(status) => status,
        Err(error) => error.report(),
    }
}

async fn run(cli: Cli, environment: &Environment) -> Result<ExitStatus, CliError> {
    let global = &cli.global;
    match &cli.command {
        Command::Serve(serve_args) => {
            let serve_settings = settings::ServeSettings::resolve(global, serve_args, environment)?;
            commands::serve::run(serve_settings).await
        }
        Command::Analyze(analyze_args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            let source = settings::local_source(&analyze_args.source);
            let introspect = !analyze_args.no_introspect;
            commands::analyze::run(&client, &source, introspect, global.json).await
        }
        Command::Deploy(deploy_args) => {
            let client_settings = settings::ClientSettings::resolve(global, environment)?;
            let deploy_settings = settings::DeploySettings::resolve(deploy_args, environment)?;
            commands::deploy::run(&client_settings.client()?, &deploy_settings, global.json).await
        }
        Command::Ls(ls_args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::ls::run(&client, ls_args, global.json).await
        }
        Command::Logs(logs_args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::logs::run(&client, &logs_args.name, logs_args.follow, global.json).await
        }
        Command::Rm(rm_args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::rm::run(&client, &rm_args.name, global.json).await
        }
        Command::Stop(args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::rm::stop(&client, &args.name, global.json).await
        }
        Command::Start(args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::rm::start(&client, &args.name, global.json).await
        }
        Command::Access(access_args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::access::run(&client, &access_args.name, access_args.mode, global.json).await
        }
        Command::Env(env_args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            let env_settings = settings::EnvSettings::resolve(env_args, environment)?;
            commands::env::run(&client, &env_settings, global.json).await
        }
        Command::Vault(vault_args) => match &vault_args.action {
            VaultCommand::Rotate => {
                let client = settings::ClientSettings::resolve(global, environment)?.client()?;
                commands::vault::rotate(&client, global.json).await
            }
        },
        Command::Audit(audit_args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::audit::run(&client, audit_args, global.json).await
        }
        Command::Login(login_args) => {
            let client = settings::ClientSettings::anonymous(global, environment)?;
            let username = login_args.username.as_deref();
            let stdin = login_args.password.password_stdin;
            let config = environment.config_dir();
            commands::account::login(&client, config, username, stdin, global.json).await
        }
        Command::Logout => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::account::logout(&client, environment.config_dir(), global.json).await
        }
        Command::Whoami => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::account::whoami(&client, global.json).await
        }
        Command::Passwd(args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::account::passwd(&client, args.password_stdin, global.json).await
        }
        Command::User(args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::account::user(&client, &args.action, global.json).await
        }
        Command::ApiToken(args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::account::api_token(&client, &args.action, global.json).await
        }
        Command::Token(token_args) => {
            let client = settings::ClientSettings::resolve(global, environment)?.client()?;
            commands::token::run(&client, &token_args.action, global.json).await
        }
    }
}
