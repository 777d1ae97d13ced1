//! The deployment manager: create, launch, supervise and remove deployments.
//!
//! A deployment's life: the API stores it (`installing`), a launch task installs its package into
//! the cache, starts the process (`starting`), performs the MCP handshake and lists the tools
//! (`running`), then watches the process: after a crash it is `restarting` (with the exit status
//! and the last stderr lines), started again with exponential backoff and re-attached to the same
//! bridge upstream, so client sessions survive; more than five crashes within a minute end in
//! `failed`. A server that leaves a health-check ping unanswered is stopped and restarted the same
//! way. A deployment with `sleep_after_secs` that has been idle that long is stopped (`sleeping`)
//! and woken by the next request that needs it. Its owner may stop it (`stopped`, kept across
//! restarts of Catwalk) and start it again. Every transition is written to the store as an event.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use crate::audit::{Audit, SessionCalls};
use catwalk_analyze::assist::AssistConfig;
use catwalk_analyze::{Analyzer, Introspection, ServerSpec, ToolInfo};
use catwalk_bridge::Upstream;
use catwalk_gateway::Gateway;
use catwalk_runtime::{ExitInfo, Installer, Instance, LogSink};
use catwalk_store::{Deployment, DeploymentToken, NewDeployment, Store, StoreError, TokenHash};
use catwalk_vault::{Redactor, Vault};

use crate::keys::{Keys, RotateError, Rotation};
use tokio::sync::{mpsc, oneshot, watch};

use crate::credentials::{CredentialChange, Credentials};
use crate::introspect;
use crate::isolation::Isolation;
use crate::logs::{LogFeed, StoreLogs};
use crate::metrics::Metrics;
use crate::options::{DeploymentOptions, ProcessModel};
use crate::per_session::{Dedicated, Template};
use crate::process::{
    self, Attached, CrashLoop, Handshake, Launch, Restarted, describe_exit, health_check, spawn,
};

/// How long a request waits for a deployment that is starting (or waking from deep sleep)
/// before it is told to come back later.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// How long a server may take to answer `initialize` after it starts.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `stop` waits after closing stdin, then after SIGTERM.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(3);

pub struct Deployments {
    store: Store,
    keys: Keys,
    analyzer: Analyzer,
    /// The optional LLM that helps analyses (set once at startup).
    assist: OnceLock<AssistConfig>,
    installer: Installer,
    homes: PathBuf,
    /// Throwaway folders of servers started only to list what they offer (`introspect.rs`).
    scratch: PathBuf,
    public_url: String,
    live: Mutex<HashMap<String, Live>>,
    /// Itself, for the launches that a request starts (waking a deployment from deep sleep).
    me: Weak<Deployments>,
    gateway: OnceLock<Weak<Gateway>>,
    next_epoch: std::sync::atomic::AtomicU64,
    dedicated: Dedicated,
    /// How often a running server is pinged (and checked for idleness).
    health_interval: Duration,
    isolation: Arc<Isolation>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) log_feed: LogFeed,
    pub(crate) audit: Arc<Audit>,
}

/// What the supervisor of one deployment works with.
struct Supervised<'a> {
    name: &'a str,
    epoch: u64,
    upstream: Upstream,
    launch: Launch,
    logs: Arc<StoreLogs>,
    sleep_after: Option<Duration>,
}

/// A deployment Catwalk is launching or running.
struct Live {
    /// Tells a launch apart from a later launch of a deployment with the same name.
    epoch: u64,
    /// Its access tokens' names and hashes, checked on every request without the store.
    token_hashes: Vec<TokenHash>,
    public: bool,
    owner_id: Option<String>,
    /// The deployment's "record tool call arguments" switch, read by its sessions' observers.
    audit_arguments: Arc<AtomicBool>,
    state: LiveState,
}

enum LiveState {
    Launching {
        task: tokio::task::JoinHandle<()>,
        /// Turns true once the launch has its upstream (the state is then `Running`), for the
        /// requests that wait for it; closed without turning true when the launch fails. (A
        /// flag, not the upstream: a handle held here would keep it from deep sleep.)
        ready: watch::Receiver<bool>,
    },
    /// Asleep with nothing in memory but this entry: no supervisor, no upstream, no process.
    /// A deployment gets here when it has slept with no client session left (or was asleep
    /// when Catwalk started); the next request launches it from the store, remembered
    /// handshake and all.
    Asleep,
    Running {
        upstream: Upstream,
        stop: oneshot::Sender<oneshot::Sender<()>>,
        /// For a deployment with a process per session: how to start one.
        per_session: Option<Arc<Template>>,
        /// Its secret values, kept out of what is recorded about it.
        redactor: Redactor,
    },
}

/// Why a deployment could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Analysis(String),
    #[error("a deployment named {0:?} already exists")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Created {
    pub deployment: Deployment,
    pub token: String,
}

impl Deployments {
    pub fn new(
        store: Store,
        vault: Vault,
        data_dir: &Path,
        cache_dir: &Path,
        public_url: String,
        health_interval: Duration,
        isolation: Arc<Isolation>,
    ) -> Arc<Deployments> {
        let mut installer = Installer::new(cache_dir.join("packages"));
        // Install scripts are untrusted code too.
        installer.sandbox = isolation.sandbox().cloned();
        Arc::new_cyclic(|me| Deployments {
            store: store.clone(),
            keys: Keys::new(vault),
            analyzer: Analyzer::new(cache_dir.join("sources")),
            assist: OnceLock::new(),
            installer,
            homes: data_dir.join("deployments"),
            scratch: data_dir.join("introspect"),
            public_url,
            live: Mutex::new(HashMap::new()),
            me: me.clone(),
            gateway: OnceLock::new(),
            next_epoch: Default::default(),
            dedicated: Dedicated::default(),
            health_interval,
            isolation,
            metrics: Arc::new(Metrics::default()),
            log_feed: LogFeed::default(),
            audit: Audit::start(store.clone()),
        })
    }

    /// The deployment's writable data folder: inside the sandbox, the one place besides its home
    /// that a server may write, and the place for files given to it in arguments.
    pub fn data_folder(&self, id: &str) -> PathBuf {
        self.homes.join(id).join("data")
    }

    pub fn isolation(&self) -> &Isolation {
        &self.isolation
    }

    /// Lets an LLM help every later analysis (see `catwalk_analyze::assist`).
    pub fn set_assist(&self, config: AssistConfig) {
        let _ = self.assist.set(config);
    }

    pub fn assist(&self) -> Option<&AssistConfig> {
        self.assist.get()
    }

    pub fn attach_gateway(&self, gateway: &Arc<Gateway>) {
        let _ = self.gateway.set(Arc::downgrade(gateway));
    }

    pub fn endpoint(&self, name: &str) -> String {
        format!(
            "{}{}",
            self.public_url,
            catwalk_gateway::endpoint_path(name)
        )
    }

    pub async fn analyze(&self, source: &str) -> Result<ServerSpec, CreateError> {
        self.analyze_with(source, true).await
    }

    /// [`Deployments::analyze`]; with `reuse_cached_spec` false, a spec made earlier from the
    /// same content is not reused (downloads stay cached), for this call only.
    pub async fn analyze_with(
        &self,
        source: &str,
        reuse_cached_spec: bool,
    ) -> Result<ServerSpec, CreateError> {
        let analyzer = Analyzer {
            reuse_cached_specs: reuse_cached_spec,
            assist: self.assist.get().cloned(),
            ..self.analyzer.clone()
        };
        analyzer
            .analyze(source, &|line| tracing::debug!(source, "{line}"))
            .await
            .map_err(|e| CreateError::Analysis(e.to_string()))
    }

    /// Installs the spec's package (into the deployments' cache), starts it once in the sandbox
    /// with placeholder values, and lists what it offers (see `introspect.rs`).
    pub async fn introspect(&self, spec: &ServerSpec) -> Introspection {
        introspect::run(&self.installer, &self.isolation, &self.scratch, spec).await
    }

    /// Analyzes the source, checks the env against the spec, stores the deployment with its env
    /// encrypted, and launches it in the background.
    pub async fn create(
        self: &Arc<Self>,
        owner_id: &str,
        source: &str,
        name: Option<String>,
        credentials: Credentials,
        public: bool,
        options: DeploymentOptions,
    ) -> Result<Created, CreateError> {
        let spec = self.analyze(source).await?;
        let name = name.unwrap_or_else(|| spec.name.clone());
        validate_name(&name)?;
        credentials.check(&spec).map_err(CreateError::Invalid)?;
        validate_options(&options)?;
        let token = catwalk_vault::new_token("cwd");
        // Held until the row is stored, so a key rotation cannot miss it.
        let vault = self.keys.read().await;
        let new = NewDeployment {
            name: name.clone(),
            source: spec.source.clone(),
            spec_json: serde_json::to_string(&spec).expect("specs serialize"),
            env_ciphertext: vault.encrypt(&credentials.to_json()),
            env_keys: credentials.env.keys().cloned().collect(),
            token_hash: catwalk_vault::hash_token(&token),
            status: "installing".into(),
            public,
            options_json: options.to_stored(),
            owner_id: Some(owner_id.to_string()),
        };
        let deployment = match self.store.create_deployment(&new).await {
            Ok(deployment) => deployment,
            Err(StoreError::Conflict(_)) => return Err(CreateError::Conflict(name)),
            Err(error) => return Err(error.into()),
        };
        drop(vault);
        self.launch(&deployment);
        Ok(Created { deployment, token })
    }

    /// Launches every stored deployment (at start), after killing whatever an earlier Catwalk
    /// left running, so that no server runs twice.
    pub async fn restore(self: &Arc<Self>) {
        let reaped = process::reap_leftovers(&self.homes) + process::reap_leftovers(&self.scratch);
        introspect::clear_scratch(&self.scratch);
        if reaped > 0 {
            tracing::warn!("killed {reaped} processes left running by an earlier Catwalk");
        }
        let deployments = match self.store.list_deployments().await {
            Ok(deployments) => deployments,
            Err(error) => {
                tracing::error!(%error, "cannot list deployments to restore them");
                return;
            }
        };
        // A deployment its owner stopped stays stopped.
        for deployment in deployments.iter().filter(|d| d.status != STOPPED) {
            self.launch(deployment);
        }
        // Every stored spec was read to launch them; most are asleep, and none is needed now.
        drop(deployments);
        crate::memory::give_back_soon();
    }

    /// Makes a new access token named `token_name` for a deployment (with `replace`, in place of
    /// the one of that name, which stops working at once). `None` for an unknown deployment.
    pub async fn put_token(
        &self,
        name: &str,
        token_name: &str,
        replace: bool,
    ) -> Result<Option<(DeploymentToken, String)>, StoreError> {
        let token = catwalk_vault::new_token("cwd");
        let hash = catwalk_vault::hash_token(&token);
        let stored = match self
            .store
            .put_deployment_token(name, token_name, &hash, replace)
            .await
        {
            Ok(stored) => stored,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(error) => return Err(error),
        };
        self.reload_tokens(name, replace).await?;
        Ok(Some((stored, token)))
    }

    /// Revokes one access token; false when the deployment has no token with that id.
    pub async fn revoke_token(&self, name: &str, id: &str) -> Result<bool, StoreError> {
        if !self.store.revoke_deployment_token(name, id).await? {
            return Ok(false);
        }
        self.reload_tokens(name, true).await?;
        Ok(true)
    }

    /// Brings the running deployment's token hashes up to date. When a token stopped working,
    /// the sessions go too: a session is bound to the token that opened it, and sessions do not
    /// record which one, so all of them end (clients reconnect with their token).
    async fn reload_tokens(&self, name: &str, one_was_removed: bool) -> Result<(), StoreError> {
        let hashes = self
            .store
            .get_deployment(name)
            .await?
            .map(|d| d.token_hashes)
            .unwrap_or_default();
        if let Some(live) = self.live().get_mut(name) {
            live.token_hashes = hashes;
        }
        if one_was_removed {
            self.end_sessions(name);
        }
        Ok(())
    }

    /// Stops a deployment's server and keeps it stopped, also across restarts of Catwalk, until
    /// [`Deployments::start_deployment`]. Its sessions end. Returns false for an unknown one.
    pub async fn stop_deployment(&self, name: &str) -> Result<bool, StoreError> {
        if self.store.get_deployment(name).await?.is_none() {
            return Ok(false);
        }
        self.stop_everything_of(name).await;
        self.set_status(name, STOPPED, Some("stopped by its owner"))
            .await;
        Ok(true)
    }

    /// Stops a deployment's processes, shared and per session, and ends its client sessions.
    async fn stop_everything_of(&self, name: &str) {
        let live = self.live().remove(name);
        if let Some(live) = live {
            stop_live(live).await;
        }
        self.dedicated.stop_all(name).await;
        self.end_sessions(name);
    }

    /// Starts a stopped (or failed) deployment again; nothing happens to one that runs.
    pub async fn start_deployment(self: &Arc<Self>, name: &str) -> Result<bool, StoreError> {
        let Some(deployment) = self.store.get_deployment(name).await? else {
            return Ok(false);
        };
        if !self.live().contains_key(name) {
            self.launch(&deployment);
        }
        Ok(true)
    }

    /// Stops a deployment's server and deletes the deployment with its events, logs and home.
    pub async fn remove(&self, name: &str) -> Result<bool, StoreError> {
        let Some(deployment) = self.store.get_deployment(name).await? else {
            return Ok(false);
        };
        self.stop_everything_of(name).await;
        self.metrics.forget(name);
        let removed = self.store.delete_deployment(name).await?;
        let home = self.homes.join(&deployment.id);
        if home.exists()
            && let Err(error) = std::fs::remove_dir_all(&home)
        {
            tracing::warn!(%error, "cannot remove {}", home.display());
        }
        Ok(removed)
    }

    /// Stops every server (Catwalk is stopping). Statuses stay as they are: the deployments are
    /// launched again at the next start.
    pub async fn shutdown(&self) {
        let all: Vec<Live> = self.live().drain().map(|(_, live)| live).collect();
        futures::future::join_all(all.into_iter().map(stop_live)).await;
        let dedicated = self.dedicated.deployments();
        futures::future::join_all(dedicated.iter().map(|name| self.dedicated.stop_all(name))).await;
    }

    /// The server a new session of this deployment talks to: its shared process, or for a
    /// deployment with a process per session, a new process of its own.
    pub(crate) async fn upstream_for_new_session(
        &self,
        name: &str,
        shared: &Upstream,
        client_params: Option<&serde_json::value::RawValue>,
    ) -> Result<Upstream, catwalk_gateway::Refusal> {
        let template = match self.live().get(name) {
            Some(Live {
                state:
                    LiveState::Running {
                        per_session: Some(template),
                        ..
                    },
                ..
            }) => template.clone(),
            _ => return Ok(shared.clone()),
        };
        self.dedicated.start(name, template, client_params).await
    }

    /// Sets how long a call may go without an answer or progress (`None`: no limit). Returns
    /// false for an unknown deployment.
    pub async fn set_call_timeout(
        &self,
        name: &str,
        call_timeout_secs: Option<u64>,
    ) -> Result<bool, StoreError> {
        let Some(deployment) = self.store.get_deployment(name).await? else {
            return Ok(false);
        };
        let mut options = DeploymentOptions::from_stored(&deployment.options_json);
        options.call_timeout_secs = call_timeout_secs;
        self.store.set_options(name, &options.to_stored()).await?;
        if let Some(Live {
            state: LiveState::Running { upstream, .. },
            ..
        }) = self.live().get(name)
        {
            upstream.set_call_timeout(options.call_timeout());
        }
        Ok(true)
    }

    /// Turns the recording of tool call arguments in the audit trail on or off, at once for
    /// every session. Returns false for an unknown deployment.
    pub async fn set_audit_arguments(&self, name: &str, on: bool) -> Result<bool, StoreError> {
        let Some(deployment) = self.store.get_deployment(name).await? else {
            return Ok(false);
        };
        let mut options = DeploymentOptions::from_stored(&deployment.options_json);
        options.audit_arguments = on;
        self.store.set_options(name, &options.to_stored()).await?;
        if let Some(live) = self.live().get(name) {
            live.audit_arguments.store(on, Ordering::Relaxed);
        }
        Ok(true)
    }

    /// The observer of a new client session's tool calls, for the audit trail: who the
    /// principal is (which of the deployment's tokens), whose trail it goes to.
    pub(crate) fn session_calls(
        &self,
        name: &str,
        principal: &str,
    ) -> Option<Arc<dyn catwalk_bridge::CallObserver>> {
        let live = self.live();
        let entry = live.get(name)?;
        let LiveState::Running { redactor, .. } = &entry.state else {
            return None;
        };
        let actor = if principal == PUBLIC_PRINCIPAL {
            "anonymous (public deployment)".to_string()
        } else if let Some(grant) = principal.strip_prefix("oauth:") {
            format!("OAuth client (grant {grant})")
        } else {
            match entry.token_hashes.iter().find(|t| t.hash == principal) {
                Some(token) => format!("token {}", token.name),
                None => "a token no longer valid".to_string(),
            }
        };
        Some(Arc::new(SessionCalls {
            audit: self.audit.clone(),
            owner_id: entry.owner_id.clone(),
            deployment: name.to_string(),
            actor,
            arguments: entry.audit_arguments.clone(),
            redactor: redactor.clone(),
        }))
    }

    /// Changes the options that shape a server's process (idle sleep, network, limits) and, when
    /// the deployment runs, launches it again with them (its sessions end: the process they
    /// knew is gone). Returns false for an unknown deployment.
    pub async fn set_process_options(
        self: &Arc<Self>,
        name: &str,
        change: impl FnOnce(&mut DeploymentOptions),
    ) -> Result<bool, CreateError> {
        let Some(deployment) = self.store.get_deployment(name).await? else {
            return Ok(false);
        };
        let mut options = DeploymentOptions::from_stored(&deployment.options_json);
        change(&mut options);
        validate_options(&options)?;
        self.store.set_options(name, &options.to_stored()).await?;
        self.relaunch(&deployment, "its settings changed").await?;
        Ok(true)
    }

    /// Changes a deployment's environment variables and argument values, and restarts its
    /// server with them: the old values leave the store and the process. Returns false for an
    /// unknown deployment.
    pub async fn set_credentials(
        self: &Arc<Self>,
        name: &str,
        change: CredentialChange,
    ) -> Result<bool, CreateError> {
        let Some(deployment) = self.store.get_deployment(name).await? else {
            return Ok(false);
        };
        let spec: ServerSpec = serde_json::from_str(&deployment.spec_json).map_err(|e| {
            CreateError::Invalid(format!("the stored server spec is unreadable: {e}"))
        })?;
        let vault = self.keys.read().await;
        let stored = if change.replace {
            Credentials::default()
        } else {
            vault
                .decrypt(&deployment.env_ciphertext)
                .ok()
                .and_then(|plain| Credentials::from_json(&plain))
                .ok_or_else(|| {
                    CreateError::Invalid(
                        "the stored values cannot be decrypted with this vault key; send every \
                         value again with \"replace\": true"
                            .to_string(),
                    )
                })?
        };
        let credentials = change.apply(stored);
        credentials.check(&spec).map_err(CreateError::Invalid)?;
        match self
            .store
            .set_credentials(
                name,
                &vault.encrypt(&credentials.to_json()),
                &credentials.env.keys().cloned().collect::<Vec<_>>(),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound(_)) => return Ok(false),
            Err(error) => return Err(error.into()),
        }
        drop(vault);
        self.relaunch(&deployment, "its credentials changed")
            .await?;
        Ok(true)
    }

    /// Re-encrypts every stored secret under a new vault key; nothing stops meanwhile.
    pub async fn rotate_keys(&self) -> Result<Rotation, RotateError> {
        self.keys.rotate(&self.store).await
    }

    /// Starts a deployment's server again from what is stored, unless its owner stopped it.
    async fn relaunch(
        self: &Arc<Self>,
        deployment: &Deployment,
        reason: &str,
    ) -> Result<(), StoreError> {
        let name = &deployment.name;
        if deployment.status != STOPPED {
            self.stop_everything_of(name).await;
            self.set_status(name, "restarting", Some(reason)).await;
            if let Some(deployment) = self.store.get_deployment(name).await? {
                self.launch(&deployment);
            }
        }
        Ok(())
    }

    /// Opens a deployment to anyone, without a token, or closes it again. Returns false for an
    /// unknown deployment.
    pub async fn set_public(&self, name: &str, public: bool) -> Result<bool, StoreError> {
        match self.store.set_public(name, public).await {
            Ok(()) => {}
            Err(StoreError::NotFound(_)) => return Ok(false),
            Err(error) => return Err(error),
        }
        if let Some(live) = self.live().get_mut(name) {
            live.public = public;
        }
        if !public {
            // Sessions opened without a token must not outlive the deployment's opening.
            self.end_sessions(name);
        }
        Ok(true)
    }

    /// The running server of a deployment, if the token is its own or the deployment is public.
    pub(crate) async fn access(
        &self,
        name: &str,
        token: Option<&str>,
    ) -> Result<(Upstream, String), catwalk_gateway::Refusal> {
        self.upstream_for(name, |tokens, public| principal(token, tokens, public))
            .await
    }

    /// The running server of a deployment for a caller already admitted by other means (a valid
    /// OAuth access token for it, see `crate::oauth::admit`).
    pub(crate) async fn access_granted(
        &self,
        name: &str,
        principal: String,
    ) -> Result<(Upstream, String), catwalk_gateway::Refusal> {
        self.upstream_for(name, |_, _| Ok(principal.clone())).await
    }

    /// The running server of a deployment, once `admit` (given its tokens and whether it is
    /// public) names the caller; otherwise why not: unknown, not admitted, or not running. The
    /// caller waits (up to [`START_PATIENCE`]) for a deployment that is starting, and for one
    /// in deep sleep, which it wakes.
    async fn upstream_for(
        &self,
        name: &str,
        admit: impl Fn(&[TokenHash], bool) -> Result<String, catwalk_gateway::Refusal>,
    ) -> Result<(Upstream, String), catwalk_gateway::Refusal> {
        use catwalk_gateway::Refusal;
        enum Next {
            Wake,
            Wait(watch::Receiver<bool>),
            NotLive,
        }
        // Three rounds at most: a deployment in deep sleep is woken, waited for, then taken.
        for _ in 0..3 {
            let next = match self.live().get(name) {
                Some(live) => {
                    let principal = admit(&live.token_hashes, live.public)?;
                    match &live.state {
                        LiveState::Running { upstream, .. } if !upstream.is_closed() => {
                            return Ok((upstream.clone(), principal));
                        }
                        LiveState::Asleep => Next::Wake,
                        LiveState::Launching { ready, .. } => Next::Wait(ready.clone()),
                        LiveState::Running { .. } => {
                            return Err(Refusal::Unavailable("it is still starting".into()));
                        }
                    }
                }
                None => Next::NotLive,
            };
            match next {
                Next::Wake => self.wake(name).await?,
                Next::Wait(mut ready) => {
                    let launched = tokio::time::timeout(START_PATIENCE, ready.wait_for(|r| *r))
                        .await
                        .map_err(|_| Refusal::Unavailable("it is still starting".into()))?
                        .is_ok();
                    if !launched {
                        // The launch ended without an upstream: the store says why.
                        break;
                    }
                }
                Next::NotLive => break,
            }
        }
        let deployment = match self.store.get_deployment(name).await {
            Ok(Some(deployment)) => deployment,
            Ok(None) => return Err(Refusal::NotFound),
            Err(error) => return Err(Refusal::Unavailable(error.to_string())),
        };
        admit(&deployment.token_hashes, deployment.public)?;
        let reason = match deployment.status_reason {
            Some(reason) => format!("{}: {reason}", deployment.status),
            None => deployment.status,
        };
        Err(Refusal::Unavailable(reason))
    }

    /// Launches a deployment in deep sleep from what is stored, its remembered handshake
    /// answering new sessions at once; the request that woke it then starts its process, as
    /// for any sleeping deployment. Requests that come meanwhile wait for the same launch.
    async fn wake(&self, name: &str) -> Result<(), catwalk_gateway::Refusal> {
        use catwalk_gateway::Refusal;
        let deployment = match self.store.get_deployment(name).await {
            Ok(Some(deployment)) => deployment,
            Ok(None) => return Err(Refusal::NotFound),
            Err(error) => return Err(Refusal::Unavailable(error.to_string())),
        };
        let this = self
            .me
            .upgrade()
            .ok_or_else(|| Refusal::Unavailable("Catwalk is stopping".into()))?;
        let mut live = self.live();
        let Some(entry) = live.get_mut(name) else {
            return Ok(());
        };
        if !matches!(entry.state, LiveState::Asleep) {
            // Another request woke it first.
            return Ok(());
        }
        let epoch = self.next_epoch.fetch_add(1, Ordering::Relaxed);
        let (announce, ready) = watch::channel(false);
        entry.epoch = epoch;
        entry.state = LiveState::Launching {
            task: tokio::spawn(this.run(deployment, epoch, announce, true)),
            ready,
        };
        Ok(())
    }

    /// The store, for the resolver's OAuth check.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    fn launch(self: &Arc<Self>, deployment: &Deployment) {
        let epoch = self.next_epoch.fetch_add(1, Ordering::Relaxed);
        let options = DeploymentOptions::from_stored(&deployment.options_json);
        // A deployment that slept when Catwalk stopped sleeps on, in deep sleep: the first
        // request launches it with its remembered handshake.
        let asleep = deployment.status == "sleeping"
            && options.sleep_after().is_some()
            && deployment
                .handshake_json
                .as_deref()
                .and_then(Handshake::parse)
                .is_some();
        let state = if asleep {
            LiveState::Asleep
        } else {
            let (announce, ready) = watch::channel(false);
            LiveState::Launching {
                task: tokio::spawn(self.clone().run(deployment.clone(), epoch, announce, false)),
                ready,
            }
        };
        let mut live = self.live();
        live.insert(
            deployment.name.clone(),
            Live {
                epoch,
                token_hashes: deployment.token_hashes.clone(),
                public: deployment.public,
                owner_id: deployment.owner_id.clone(),
                audit_arguments: Arc::new(AtomicBool::new(options.audit_arguments)),
                state,
            },
        );
    }

    /// Installs, starts and then supervises one deployment until its process ends; its upstream
    /// is ready for waiting requests as soon as it has one. `woken`: from deep sleep.
    async fn run(
        self: Arc<Self>,
        deployment: Deployment,
        epoch: u64,
        announce: watch::Sender<bool>,
        woken: bool,
    ) {
        let name = deployment.name.clone();
        match self.start(&deployment, epoch, &announce, woken).await {
            Ok(()) => {}
            Err(reason) => {
                self.forget(&name, epoch);
                self.set_status(&name, "failed", Some(&reason)).await;
            }
        }
        // Only now do waiting requests learn that there is no upstream: the store says why.
        drop(announce);
    }

    async fn start(
        self: &Arc<Self>,
        deployment: &Deployment,
        epoch: u64,
        announce: &watch::Sender<bool>,
        woken: bool,
    ) -> Result<(), String> {
        let name = &deployment.name;
        let spec: ServerSpec = serde_json::from_str(&deployment.spec_json)
            .map_err(|e| format!("the stored server spec is unreadable: {e}"))?;
        let credentials = self
            .keys
            .read()
            .await
            .decrypt(&deployment.env_ciphertext)
            .ok()
            .and_then(|plain| Credentials::from_json(&plain))
            .ok_or("the stored credentials cannot be decrypted with this vault key")?;
        let args = spec
            .command_args(&credentials.args)
            .map_err(|missing| missing.to_string())?;

        let options = DeploymentOptions::from_stored(&deployment.options_json);
        // Woken from deep sleep: the remembered handshake answers new sessions, and the waiting
        // request starts the process. (Without one, it starts as any launch does.)
        let remembered = woken
            .then_some(deployment.handshake_json.as_deref())
            .flatten()
            .and_then(Handshake::parse);
        let dormant = remembered.is_some();

        // The timeline (`installing`, the install's lines, then `starting`) is written beside
        // the work rather than before it: a start from the cache waits for no store write. A
        // wake from deep sleep records none of it (the process's start is recorded later).
        let (progress, timeline) = self.progress_writer(name, !dormant);
        let installed = self
            .installer
            .install(&process::package_of(&spec), &|line| {
                if let Some(progress) = &progress {
                    let _ = progress.send(line.to_string());
                }
            })
            .await
            .map_err(|e| e.to_string());
        drop(progress);
        let installed = match installed {
            Ok(installed) => installed,
            Err(error) => {
                let _ = timeline.await;
                return Err(error);
            }
        };

        let folder = self.homes.join(&deployment.id);
        let redactor = Redactor::new(credentials.values());
        let launch = Launch::new(
            installed,
            args,
            credentials.env,
            (folder.join("home"), self.data_folder(&deployment.id)),
            &options,
            self.isolation.clone(),
        )?;
        let logs = StoreLogs::start(
            self.store.clone(),
            name.clone(),
            redactor.clone(),
            self.log_feed.clone(),
        );
        let (upstream, process) = match remembered {
            Some(handshake) => (handshake.dormant(), None),
            None => {
                let began = std::time::Instant::now();
                let (instance, exit, stdout) = match spawn(&launch, &logs).await {
                    Ok(spawned) => spawned,
                    Err(error) => {
                        let _ = timeline.await;
                        return Err(error);
                    }
                };
                let starting = async {
                    let _ = timeline.await;
                    self.set_status(name, "starting", None).await;
                };
                let (_, handshake) = tokio::join!(
                    starting,
                    Upstream::start(process::input(&instance), stdout, HANDSHAKE_TIMEOUT)
                );
                match handshake {
                    Ok((upstream, _)) => {
                        self.metrics.started(name, began.elapsed());
                        (upstream, Some((instance, exit)))
                    }
                    Err(error) => {
                        let info = instance.stop(STOP_GRACE).await;
                        return Err(format!(
                            "{error}; the process {info}{}",
                            logs.last_lines_suffix()
                        ));
                    }
                }
            }
        };
        upstream.set_call_timeout(options.call_timeout());
        let per_session = (options.process_model == ProcessModel::PerSession).then(|| {
            Arc::new(Template {
                launch: launch.clone(),
                logs: logs.clone(),
                call_timeout: options.call_timeout(),
            })
        });

        let (stop_tx, stop_rx) = oneshot::channel::<oneshot::Sender<()>>();
        let still_wanted = match self.live().get_mut(name) {
            Some(entry) if entry.epoch == epoch => {
                entry.state = LiveState::Running {
                    upstream: upstream.clone(),
                    stop: stop_tx,
                    per_session: per_session.clone(),
                    redactor,
                };
                true
            }
            _ => false,
        };
        if !still_wanted {
            // Removed while it was starting.
            if let Some((instance, _)) = process {
                instance.stop(STOP_GRACE).await;
            }
            return Ok(());
        }
        announce.send_replace(true);
        if process.is_some() {
            self.running(name, &upstream).await;
        }
        let supervised = Supervised {
            name,
            epoch,
            upstream,
            launch,
            logs,
            sleep_after: options.sleep_after(),
        };
        self.supervise(supervised, process, stop_rx).await;
        Ok(())
    }

    /// Marks a deployment running (with its tool count), and remembers its handshake with the
    /// tools it lists.
    async fn running(&self, name: &str, upstream: &Upstream) {
        let tools = introspect::list_tools(upstream, HANDSHAKE_TIMEOUT)
            .await
            .ok();
        let count = tools.as_ref().map(|tools| format!("{} tools", tools.len()));
        if let Some(handshake) = Handshake::of(upstream, tools)
            && let Err(error) = self.store.set_handshake(name, &handshake).await
        {
            tracing::warn!(%error, "cannot record the handshake of {name}");
        }
        self.set_status(name, "running", count.as_deref()).await;
    }

    /// The tools a deployment's server listed when it last started (with its real values), if
    /// it did.
    pub fn tools_of(deployment: &Deployment) -> Option<Vec<ToolInfo>> {
        Handshake::parse(deployment.handshake_json.as_deref()?)?.tools
    }

    /// Lets a sleeping deployment go from memory (deep sleep, see [`LiveState::Asleep`]) once
    /// nothing but its supervisor and its live entry holds its upstream: no client session, no
    /// request, no read loop of the old process. Checked under the live lock, which every
    /// request takes to get an upstream, so none can get this one after the check.
    fn sleep_deeply(&self, name: &str, epoch: u64, upstream: &Upstream) -> bool {
        let mut live = self.live();
        let Some(entry) = live.get_mut(name) else {
            return false;
        };
        if entry.epoch != epoch || upstream.handles() > 2 {
            return false;
        }
        upstream.close(process::SLEEPING);
        entry.state = LiveState::Asleep;
        crate::memory::give_back_soon();
        true
    }

    /// Watches a deployment's process until the deployment is stopped or fails: a crash or a
    /// failed health check is followed by a restart on the same upstream, so client sessions
    /// survive; a crash loop ends in `failed`; an idle deployment sleeps (no process) until a
    /// request wakes it. `process` is `None` when it starts asleep.
    async fn supervise(
        &self,
        job: Supervised<'_>,
        mut process: Option<(Instance, oneshot::Receiver<ExitInfo>)>,
        mut stop_rx: oneshot::Receiver<oneshot::Sender<()>>,
    ) {
        let Supervised {
            name,
            epoch,
            upstream,
            launch,
            logs,
            sleep_after,
        } = job;
        let mut crashes = CrashLoop::default();
        let mut checks = tokio::time::interval(self.health_interval);
        checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick would come at once; the first check is due one interval from now.
        checks.reset();
        loop {
            let ended = match process.take() {
                None => {
                    loop {
                        tokio::select! {
                            () = upstream.demanded() => break,
                            done = &mut stop_rx => return stopped(&upstream, None, done).await,
                            _ = checks.tick() => if self.sleep_deeply(name, epoch, &upstream) {
                                return;
                            },
                        }
                    }
                    self.set_status(name, "starting", Some("a request woke it"))
                        .await;
                    match process::attach(&upstream, &launch, &logs).await {
                        Attached::Running(instance, exit, took) => {
                            self.metrics.started(name, took);
                            process = Some((instance, exit));
                            self.running(name, &upstream).await;
                            checks.reset();
                            continue;
                        }
                        Attached::NotStarted(error) => {
                            upstream.close(&error);
                            self.forget(name, epoch);
                            self.set_status(name, "failed", Some(&error)).await;
                            return;
                        }
                        Attached::Refused(error, info) => {
                            format!("failed its handshake on waking ({error}); it {info}")
                        }
                    }
                }
                Some((instance, mut exit)) => {
                    let check = tokio::select! {
                        info = &mut exit => Err(describe_exit(info)),
                        done = &mut stop_rx => {
                            return stopped(&upstream, Some(instance), done).await;
                        }
                        _ = checks.tick() => Ok(()),
                    };
                    if let Err(ended) = check {
                        ended
                    } else if let Some(limit) = sleep_after
                        && upstream.idle_for().is_some_and(|idle| idle >= limit)
                        && upstream.suspend(process::SLEEPING)
                    {
                        instance.stop(STOP_GRACE).await;
                        let reason = format!("no request for {} s", limit.as_secs());
                        self.set_status(name, "sleeping", Some(&reason)).await;
                        continue;
                    } else {
                        match health_check(&upstream).await {
                            Ok(()) => {
                                process = Some((instance, exit));
                                continue;
                            }
                            Err(problem) => {
                                logs.line(
                                    "catwalk",
                                    &format!("the server {problem}: restarting it"),
                                );
                                let info = instance.stop(Duration::ZERO).await;
                                format!("{problem}, and was stopped ({info})")
                            }
                        }
                    }
                }
            };
            let restarted = process::restart(
                &upstream,
                &launch,
                &logs,
                &mut crashes,
                ended,
                |reason| async move {
                    self.metrics.restarted(name);
                    self.set_status(name, "restarting", Some(&reason)).await
                },
                &mut stop_rx,
            )
            .await;
            match restarted {
                Restarted::Running(instance, exit, took) => {
                    self.metrics.started(name, took);
                    process = Some((*instance, exit));
                    self.running(name, &upstream).await;
                }
                Restarted::GaveUp(reason) => {
                    upstream.close(&reason);
                    self.forget(name, epoch);
                    self.set_status(name, "failed", Some(&reason)).await;
                    return;
                }
                Restarted::Stopped(done) => return stopped(&upstream, None, done).await,
            }
        }
    }

    /// Writes the `installing` status and then the install's progress lines as events, in
    /// order, without holding up the installer; the task ends once the sender is dropped and
    /// everything is written. Without `record`, nothing is written.
    fn progress_writer(
        &self,
        name: &str,
        record: bool,
    ) -> (
        Option<mpsc::UnboundedSender<String>>,
        tokio::task::JoinHandle<()>,
    ) {
        if !record {
            return (None, tokio::spawn(async {}));
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let store = self.store.clone();
        let name = name.to_string();
        let writer = tokio::spawn(async move {
            tracing::info!(deployment = name, status = "installing", "status");
            if let Err(error) = store.set_status(&name, "installing", None).await {
                tracing::warn!(%error, "cannot record the status of {name}");
            }
            while let Some(line) = rx.recv().await {
                if let Err(error) = store.add_event(&name, "progress", &line).await {
                    tracing::warn!(%error, "cannot record progress of {name}");
                }
            }
        });
        (Some(tx), writer)
    }

    async fn set_status(&self, name: &str, status: &str, reason: Option<&str>) {
        tracing::info!(deployment = name, status, reason, "status");
        if let Err(error) = self.store.set_status(name, status, reason).await {
            tracing::warn!(%error, "cannot record the status of {name}");
        }
    }

    /// Ends every client session of a deployment (its clients must start over).
    fn end_sessions(&self, name: &str) {
        if let Some(gateway) = self.gateway.get().and_then(Weak::upgrade) {
            gateway.end_sessions_of(name);
        }
    }

    fn forget(&self, name: &str, epoch: u64) {
        let mut live = self.live();
        if live.get(name).is_some_and(|l| l.epoch == epoch) {
            live.remove(name);
        }
    }

    /// What Catwalk holds in memory for each deployment it knows (see [`LiveState`]), for the
    /// metrics.
    pub(crate) fn held(&self) -> Vec<&'static str> {
        self.live()
            .values()
            .map(|live| match live.state {
                LiveState::Launching { .. } => "launching",
                LiveState::Running { .. } => "supervised",
                LiveState::Asleep => "asleep",
            })
            .collect()
    }

    fn live(&self) -> MutexGuard<'_, HashMap<String, Live>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Ends a supervisor asked to stop: the sessions end, the process (if any) stops, and then the
/// one who asked hears it is done.
async fn stopped(
    upstream: &Upstream,
    instance: Option<Instance>,
    done: Result<oneshot::Sender<()>, oneshot::error::RecvError>,
) {
    upstream.close("the deployment was stopped");
    if let Some(instance) = instance {
        instance.stop(STOP_GRACE).await;
    }
    if let Ok(done) = done {
        let _ = done.send(());
    }
}

async fn stop_live(live: Live) {
    match live.state {
        LiveState::Asleep => {}
        LiveState::Launching { task, .. } => {
            // Dropping the launch future drops its process handle, which kills the process.
            task.abort();
            let _ = task.await;
        }
        LiveState::Running { stop, .. } => {
            let (done_tx, done_rx) = oneshot::channel();
            if stop.send(done_tx).is_ok() {
                let _ = done_rx.await;
            }
        }
    }
}

/// Who is calling: one of the deployment's own tokens (its hash names the principal), or anyone
/// at all on a public deployment.
fn principal(
    token: Option<&str>,
    token_hashes: &[TokenHash],
    public: bool,
) -> Result<String, catwalk_gateway::Refusal> {
    // Hashed once, then compared as hashes: timing can tell an attacker at most how much of a
    // SHA-256 digest they matched, which says nothing about a token.
    let given = token.map(catwalk_vault::hash_token);
    let matching = given
        .as_ref()
        .and_then(|given| token_hashes.iter().find(|token| token.hash == *given));
    match matching {
        Some(token) => Ok(token.hash.clone()),
        None if public => Ok(PUBLIC_PRINCIPAL.to_string()),
        None => Err(catwalk_gateway::Refusal::Unauthorized),
    }
}

/// The status of a deployment its owner stopped.
const STOPPED: &str = "stopped";

/// The principal of requests to a public deployment that carry no token of its own.
const PUBLIC_PRINCIPAL: &str = "public";

fn validate_name(name: &str) -> Result<(), CreateError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(CreateError::Invalid(format!(
            "{name:?} is not a valid deployment name: use 1 to 63 lowercase letters, digits and dashes"
        )))
    }
}

fn validate_options(options: &DeploymentOptions) -> Result<(), CreateError> {
    if options.sleep_after_secs == Some(0) {
        return Err(CreateError::Invalid(
            "sleep_after_secs must be at least 1 (leave it out, or null, for a server that never \
             sleeps)"
                .into(),
        ));
    }
    let limits = &options.limits;
    if limits.memory_mib == Some(0)
        || limits.processes == Some(0)
        || limits.open_files == Some(0)
        || limits.cpu_millicores == Some(0)
    {
        return Err(CreateError::Invalid(
            "a limit of 0 would stop the server from running at all; leave a limit out for none"
                .into(),
        ));
    }
    Ok(())
}
